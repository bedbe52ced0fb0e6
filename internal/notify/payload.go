package notify

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/registry"
)

// Payload is the snapshot one notification carries: the fields DOMAIN.md
// lists for an incident notification that kuzet knows, in the recipient's
// language where they are words, with every instant in UTC and, beside it,
// in the zone of Kazakhstan.
type Payload struct {
	NotificationID string `json:"notification_id"`
	Language       string `json:"language"`
	Subject        string `json:"subject"`
	Summary        string `json:"summary"`
	TLP            string `json:"tlp"`
	Regime         string `json:"regime"`
	Basis          string `json:"basis,omitempty"`
	Stage          string `json:"stage"`
	DueAt          *Time  `json:"due_at,omitempty"`
	// Sender is the center the notification goes out for: the OISC that
	// detected the incident, else the NCC.
	Sender    string          `json:"sender"`
	Recipient PayloadParty    `json:"recipient"`
	Reporter  *PayloadOrg     `json:"reporter,omitempty"`
	Incident  PayloadIncident `json:"incident"`
	// PreviousNotifications are this recipient's earlier notifications of
	// the incident under the same regime.
	PreviousNotifications []string `json:"previous_notifications,omitempty"`
}

// Time is an instant in UTC with its local rendering.
type Time struct {
	UTC   time.Time `json:"utc"`
	Local string    `json:"local"`
	Zone  string    `json:"zone"`
}

// PayloadParty names a recipient.
type PayloadParty struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
}

// PayloadOrg is the owner the incident is about, with its contacts
// (Order 481 asks for the responsible person's).
type PayloadOrg struct {
	ID       string             `json:"id"`
	BIN      string             `json:"bin,omitempty"`
	Name     string             `json:"name"`
	Contacts []registry.Contact `json:"contacts,omitempty"`
}

// PayloadObject is an affected critical object.
type PayloadObject struct {
	ID          string `json:"id"`
	Name        string `json:"name,omitempty"`
	Sector      string `json:"sector,omitempty"`
	Criticality int    `json:"criticality_class,omitempty"`
}

// PayloadIncident is what the notification says of the incident.
type PayloadIncident struct {
	ID              string              `json:"id"`
	Title           string              `json:"title"`
	Origin          string              `json:"origin"`
	CenterID        string              `json:"center_id,omitempty"`
	Orgs            []string            `json:"orgs,omitempty"`
	Sectors         []string            `json:"sectors,omitempty"`
	Objects         []PayloadObject     `json:"objects,omitempty"`
	RSITClass       string              `json:"rsit_class"`
	RSITType        string              `json:"rsit_type"`
	Determination   string              `json:"determination"`
	Status          string              `json:"status"`
	Criticality     int                 `json:"criticality"`
	Severity        string              `json:"severity"`
	National        bool                `json:"national,omitempty"`
	FirstActivityAt *Time               `json:"first_activity_at,omitempty"`
	DetectedAt      *Time               `json:"detected_at,omitempty"`
	AwareAt         *Time               `json:"aware_at,omitempty"`
	AlertCount      int                 `json:"alert_count"`
	RuleIDs         []string            `json:"rule_ids,omitempty"`
	Indicators      map[string][]string `json:"indicators,omitempty"`
	PersonalData    bool                `json:"personal_data_involved,omitempty"`
}

func (b *Builder) zone() *time.Location {
	if b.Zone != nil {
		return b.Zone
	}
	return almaty
}

var almaty = func() *time.Location {
	if l, err := time.LoadLocation("Asia/Almaty"); err == nil {
		return l
	}
	return time.FixedZone("Asia/Almaty", 5*3600) // UTC+5 since 2024-03-01
}()

func (b *Builder) at(t time.Time) *Time {
	if t.IsZero() {
		return nil
	}
	z := b.zone()
	return &Time{UTC: t.UTC(), Local: t.In(z).Format("2006-01-02 15:04:05 -07:00"), Zone: z.String()}
}

func (b *Builder) payload(in *incident.Incident, s *incident.Stage, n *incident.Notification, reg *registry.Registry) Payload {
	lang := n.Language
	if !slices.Contains(registry.Languages, lang) {
		lang = "ru"
	}
	p := Payload{NotificationID: n.ID, Language: lang, TLP: string(tlpOf(in)), Regime: s.Regime, Stage: s.Stage,
		DueAt: b.at(s.DueAt), Sender: "ncc", Recipient: PayloadParty{ID: n.Recipient, Kind: n.Kind}}
	if in.CenterID != "" {
		p.Sender = in.CenterID
	}
	if b.Regimes != nil {
		if r := b.Regimes.Regime(s.Regime); r != nil {
			p.Basis = r.Basis
		}
	}
	inc := PayloadIncident{ID: in.ID, Title: in.Title, Origin: string(in.Origin), CenterID: in.CenterID, Orgs: in.Orgs,
		Sectors: in.Sectors, RSITClass: in.RSITClass, RSITType: in.RSITType, Determination: string(in.Determination),
		Status: string(in.Status), Criticality: in.Criticality, Severity: string(in.Severity), National: in.National,
		FirstActivityAt: b.at(in.FirstActivityAt), DetectedAt: b.at(in.DetectedAt), AwareAt: b.at(in.AwareAt),
		AlertCount: in.AlertCount, RuleIDs: in.RuleIDs, Indicators: in.Entities, PersonalData: in.PersonalDataInvolved}
	for _, id := range in.ObjectIDs {
		o := PayloadObject{ID: id}
		if reg != nil {
			if ro := reg.Object(id); ro != nil {
				o.Name, o.Sector, o.Criticality = ro.Name, ro.Sector, ro.Criticality
			}
		}
		inc.Objects = append(inc.Objects, o)
	}
	p.Incident = inc
	if reg != nil {
		if o := reg.Organisation(in.Org); o != nil {
			name := o.Name
			if lang != "en" && o.NameRU != "" {
				name = o.NameRU
			}
			if lang == "kk" && o.NameKK != "" {
				name = o.NameKK
			}
			p.Reporter = &PayloadOrg{ID: o.ID, BIN: o.BIN, Name: name, Contacts: o.Contacts}
		}
	}
	for _, other := range in.Stages {
		if other.Regime != s.Regime || other.Stage == s.Stage {
			continue
		}
		for _, on := range other.Notifications {
			if on.Recipient == n.Recipient && !on.SentAt.IsZero() {
				p.PreviousNotifications = append(p.PreviousNotifications, on.ID)
			}
		}
	}
	sort.Strings(p.PreviousNotifications)
	p.Subject, p.Summary = b.texts(lang, &p)
	return p
}

// texts renders the subject line and summary of a payload in lang.
func (b *Builder) texts(lang string, p *Payload) (string, string) {
	c := catalogue[lang]
	due := c["no_deadline"]
	if p.DueAt != nil {
		due = p.DueAt.Local + " (" + p.DueAt.Zone + ")"
	}
	org := p.Incident.CenterID
	if p.Reporter != nil {
		org = p.Reporter.Name
	}
	subject := fmt.Sprintf(c["subject"], p.TLP, word(lang, "severity", p.Incident.Severity), p.Incident.Title, p.Regime, p.Stage)
	detected := ""
	if p.Incident.DetectedAt != nil {
		detected = p.Incident.DetectedAt.Local
	}
	summary := fmt.Sprintf(c["summary"], p.Incident.ID, org, detected, p.Incident.RSITClass, p.Incident.RSITType,
		word(lang, "determination", p.Incident.Determination), p.Incident.AlertCount, p.Regime, p.Basis, p.Stage, due)
	return subject, summary
}

func word(lang, kind, v string) string {
	if w, ok := words[lang][kind+"."+v]; ok {
		return w
	}
	return v
}

// catalogue holds the notification texts in kk, ru and en; every language
// has every key (TestCatalogueComplete).
var catalogue = map[string]map[string]string{
	"en": {
		"subject":     "[TLP:%s] %s security incident: %s (%s/%s)",
		"summary":     "Incident %s at %s, detected %s. Category %s/%s, %s, %d alerts. Notification under %s (%s), stage %s, due %s.",
		"no_deadline": "no fixed deadline",
	},
	"ru": {
		"subject":     "[TLP:%s] Инцидент ИБ, %s: %s (%s/%s)",
		"summary":     "Инцидент %s в %s, обнаружен %s. Категория %s/%s, %s, оповещений: %d. Уведомление по %s (%s), этап %s, срок %s.",
		"no_deadline": "без установленного срока",
	},
	"kk": {
		"subject":     "[TLP:%s] АҚ инциденті, %s: %s (%s/%s)",
		"summary":     "%s инциденті, %s, анықталған уақыты %s. Санаты %s/%s, %s, ескертулер саны: %d. %s (%s) бойынша хабарлама, кезеңі %s, мерзімі %s.",
		"no_deadline": "белгіленген мерзім жоқ",
	},
}

var words = map[string]map[string]string{
	"en": {},
	"ru": {
		"severity.none": "нет", "severity.low": "низкий", "severity.moderate": "средний", "severity.high": "высокий", "severity.critical": "критический",
		"determination.suspected": "предполагаемый", "determination.confirmed": "подтверждённый", "determination.false_positive": "ложное срабатывание",
		"determination.blocked": "заблокирован", "determination.failed_attempt": "неудачная попытка",
	},
	"kk": {
		"severity.none": "жоқ", "severity.low": "төмен", "severity.moderate": "орташа", "severity.high": "жоғары", "severity.critical": "сыни",
		"determination.suspected": "күдікті", "determination.confirmed": "расталған", "determination.false_positive": "жалған іске қосылу",
		"determination.blocked": "бұғатталған", "determination.failed_attempt": "сәтсіз әрекет",
	},
}
