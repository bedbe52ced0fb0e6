package report

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/registry"
)

// Lang is a report language.
type Lang string

// Languages; Russian is the default.
const (
	Kazakh  Lang = "kk"
	Russian Lang = "ru"
	English Lang = "en"
)

// Langs lists the languages in the order kk, ru, en.
var Langs = []Lang{Kazakh, Russian, English}

// ParseLang returns the language named s; "" is Russian.
func ParseLang(s string) (Lang, error) {
	if s == "" {
		return Russian, nil
	}
	if l := Lang(s); slices.Contains(Langs, l) {
		return l, nil
	}
	return "", fmt.Errorf("report: unknown language %q (kk, ru or en)", s)
}

// T returns the message key in l, or key itself when there is none.
func (l Lang) T(key string) string {
	if v, ok := messages[l][key]; ok {
		return v
	}
	return key
}

// word returns the word for value v of kind (status, determination, ...)
// in l, or v itself when the catalogue has none.
func (l Lang) word(kind, v string) string {
	if w, ok := messages[l][kind+"."+v]; ok {
		return w
	}
	return v
}

// Zone is the zone a report shows its times in: Asia/Almaty (UTC+5 since
// 2024-03-01 with tzdata 2024a or later), or a fixed UTC+5 named so where
// the system has no tzdata.
var Zone = func() *time.Location {
	if l, err := time.LoadLocation("Asia/Almaty"); err == nil {
		return l
	}
	return time.FixedZone("Asia/Almaty", 5*3600)
}()

// Word is a machine value with its text in the report's language.
type Word struct {
	Value string `json:"value"`
	Text  string `json:"text"`
}

// Instant is a time in UTC and as shown: in Zone with its offset.
type Instant struct {
	UTC   time.Time `json:"utc"`
	Local string    `json:"local"` // "2026-03-14 10:05:00 +05:00"
	Zone  string    `json:"zone"`  // "Asia/Almaty"
}

// String is Local with the zone's name: "2026-03-14 10:05:00 +05:00
// (Asia/Almaty)".
func (i *Instant) String() string {
	if i == nil {
		return ""
	}
	return i.Local + " (" + i.Zone + ")"
}

func instant(t time.Time) *Instant {
	if t.IsZero() {
		return nil
	}
	return &Instant{UTC: t.UTC(), Local: t.In(Zone).Format("2006-01-02 15:04:05 -07:00"), Zone: Zone.String()}
}

// Party is an organisation or a center.
type Party struct {
	ID        string    `json:"id"`
	BIN       string    `json:"bin,omitempty"`
	Name      string    `json:"name"`
	Kind      string    `json:"kind,omitempty"` // a center's kind (oisc, ncc, ...); "org" for an organisation
	LegalForm string    `json:"legal_form,omitempty"`
	Contacts  []Contact `json:"contacts,omitempty"`
}

// Contact is a person to contact.
type Contact struct {
	Name  string `json:"name"`
	Role  *Word  `json:"role,omitempty"`
	Phone string `json:"phone,omitempty"`
	Email string `json:"email,omitempty"`
}

// Object is a critical object of the incident; the registry's fields are
// empty when it does not know the object.
type Object struct {
	ID     string `json:"id"`
	Name   string `json:"name,omitempty"`
	Kind   *Word  `json:"kind,omitempty"`
	Sector *Word  `json:"sector,omitempty"`
	// Class is the object's criticality class, 1 (highest) to 3; 0 unknown.
	Class int `json:"criticality_class,omitempty"`
}

// Time is one of the incident's timestamps.
type Time struct {
	Field string   `json:"field"` // detected_at, ...
	Label string   `json:"label"`
	At    *Instant `json:"at,omitempty"`
}

// Indicator is one entity value of the incident, with the STIX Cyber
// Observable type it is exported as ("" when none fits: a bare host name).
type Indicator struct {
	Field    string `json:"field"`
	Value    string `json:"value"`
	STIXType string `json:"stix_type,omitempty"`
	// Marked is an analyst's marking of the value as an indicator of
	// compromise (incident.Incident.Indicators): the STIX export adds an
	// Indicator SDO for it.
	Marked bool `json:"marked,omitempty"`
}

// Stage is one notification stage of one regime.
type Stage struct {
	Regime         string         `json:"regime"`
	Stage          string         `json:"stage"`
	Status         Word           `json:"status"`
	Anchor         string         `json:"anchor,omitempty"`
	DueAt          *Instant       `json:"due_at,omitempty"`
	SentAt         *Instant       `json:"sent_at,omitempty"`
	AcknowledgedAt *Instant       `json:"acknowledged_at,omitempty"`
	Flags          []Word         `json:"flags,omitempty"`
	Notifications  []Notification `json:"notifications,omitempty"`
}

// Notification is one message of a stage to one recipient.
type Notification struct {
	ID             string   `json:"id"`
	Recipient      string   `json:"recipient"`
	Kind           string   `json:"kind,omitempty"`
	Channel        string   `json:"channel,omitempty"`
	SentAt         *Instant `json:"sent_at,omitempty"`
	AcknowledgedAt *Instant `json:"acknowledged_at,omitempty"`
}

// Affected counts what the incident touched (0: not known).
type Affected struct {
	Systems int `json:"systems,omitempty"`
	Records int `json:"records,omitempty"`
	Users   int `json:"users,omitempty"`
}

// Report is one incident's report in one language: the fields DOMAIN.md
// lists for an incident notification that kuzet has. Machine values come
// with their words in the language (Word); every time is an Instant.
// Renderers (HTML, CSV, PDF, STIX) read only this.
type Report struct {
	Lang        Lang     `json:"lang"`
	GeneratedAt *Instant `json:"generated_at"`
	// TLP is the report's marking: the incident's own (an export never
	// downgrades), recorded also as SourceTLP.
	TLP       incident.TLP `json:"tlp"`
	SourceTLP incident.TLP `json:"source_tlp"`

	ID         string  `json:"id"`
	Version    uint64  `json:"version"`
	Title      string  `json:"title"`
	Origin     Word    `json:"origin"`
	National   bool    `json:"national"`
	AlertCount int     `json:"alert_count"`
	ReportedBy string  `json:"reported_by,omitempty"`
	Reporter   *Party  `json:"reporter,omitempty"` // the owner organisation; nil for a national incident
	Orgs       []Party `json:"orgs,omitempty"`     // a national incident's organisations
	Center     *Party  `json:"center,omitempty"`   // the detecting center (OISC)
	// NCC is the national coordination center: the registry's center of
	// kind ncc, else id "ncc". The STIX export names it as its creator.
	NCC         Party    `json:"ncc"`
	Objects     []Object `json:"objects,omitempty"`
	Sectors     []Word   `json:"sectors,omitempty"`
	Criticality int      `json:"criticality"`
	Severity    Word     `json:"severity"`

	RSITClass     Word   `json:"rsit_class"`
	RSITType      Word   `json:"rsit_type"`
	Determination Word   `json:"determination"`
	Status        Word   `json:"status"`
	Resolution    *Word  `json:"resolution,omitempty"`
	Times         []Time `json:"times"`

	Description       string    `json:"description,omitempty"`
	FunctionalImpact  *Word     `json:"functional_impact,omitempty"`
	InformationImpact []Word    `json:"information_impact,omitempty"`
	Recoverability    *Word     `json:"recoverability,omitempty"`
	AttackVector      string    `json:"attack_vector,omitempty"`
	Affected          *Affected `json:"affected,omitempty"`
	PersonalData      bool      `json:"personal_data_involved"`
	MeasuresTaken     string    `json:"measures_taken,omitempty"`

	Indicators []Indicator `json:"indicators,omitempty"`
	Stages     []Stage     `json:"stages,omitempty"`

	// source is the incident the report was built from (the STIX export
	// reads its raw times).
	source incident.Incident
}

// timeFields are the incident's timestamps in the order a report shows
// them.
var timeFields = []string{"first_activity_at", "last_activity_at", "detected_at", "aware_at", "reasonably_believed_at",
	"declared_at", "acknowledged_at", "contained_at", "resolved_at", "closed_at"}

func timesOf(in *incident.Incident) map[string]time.Time {
	return map[string]time.Time{
		"first_activity_at": in.FirstActivityAt, "last_activity_at": in.LastActivityAt, "detected_at": in.DetectedAt,
		"aware_at": in.AwareAt, "reasonably_believed_at": in.ReasonablyBelievedAt, "declared_at": in.DeclaredAt,
		"acknowledged_at": in.AcknowledgedAt, "contained_at": in.ContainedAt, "resolved_at": in.ResolvedAt, "closed_at": in.ClosedAt,
	}
}

// Build makes the report of in in lang at now. reg names organisations
// (in the language: name_kk, name_ru, else name), centers and objects;
// nil, or an entry it lacks, leaves ids without names. It is pure: the
// same arguments give the same report.
func Build(in incident.Incident, reg *registry.Registry, lang Lang, now time.Time) (*Report, error) {
	if !slices.Contains(Langs, lang) {
		return nil, fmt.Errorf("report: unknown language %q", lang)
	}
	in = in.Clone()
	tlp := in.TLP
	if tlp == "" {
		tlp = incident.TLPAmber
	}
	if tlp.Rank() < 0 {
		return nil, fmt.Errorf("report: incident %s has an unknown TLP %q", in.ID, in.TLP)
	}
	w := func(kind, v string) Word { return Word{Value: v, Text: lang.word(kind, v)} }
	opt := func(kind, v string) *Word {
		if v == "" {
			return nil
		}
		x := w(kind, v)
		return &x
	}
	r := &Report{Lang: lang, GeneratedAt: instant(now), TLP: tlp, SourceTLP: tlp, ID: in.ID, Version: in.Version,
		Title: in.Title, Origin: w("origin", string(in.Origin)), National: in.National, AlertCount: in.AlertCount,
		ReportedBy: in.ReportedBy, Criticality: in.Criticality, Severity: w("severity", string(in.Severity)),
		RSITClass: w("rsit", in.RSITClass), RSITType: Word{Value: in.RSITType, Text: in.RSITType},
		Determination: w("determination", string(in.Determination)), Status: w("status", string(in.Status)),
		Resolution: opt("resolution", string(in.Resolution)), Description: in.Description,
		FunctionalImpact: opt("impact", in.FunctionalImpact), Recoverability: opt("recoverability", in.Recoverability),
		AttackVector: in.AttackVector, PersonalData: in.PersonalDataInvolved, MeasuresTaken: in.MeasuresTaken, source: in}
	for _, v := range in.InformationImpact {
		r.InformationImpact = append(r.InformationImpact, w("impact", v))
	}
	if a := in.Affected; a != nil && (a.Systems > 0 || a.Records > 0 || a.Users > 0) {
		r.Affected = &Affected{Systems: a.Systems, Records: a.Records, Users: a.Users}
	}
	org := func(id string) Party {
		p := Party{ID: id, Name: id, Kind: "org"}
		var o *registry.Organisation
		if reg != nil {
			o = reg.Organisation(id)
		}
		if o == nil {
			return p
		}
		p.BIN, p.LegalForm, p.Name = o.BIN, o.LegalForm, orgName(o, lang)
		for _, c := range o.Contacts {
			p.Contacts = append(p.Contacts, Contact{Name: c.Name, Role: opt("contact_role", c.Role), Phone: c.Phone, Email: c.Email})
		}
		return p
	}
	if in.Org != "" {
		p := org(in.Org)
		// The declarer's contacts first (Order 481 asks for them), then the
		// registry's.
		var cs []Contact
		for _, c := range in.ReporterContacts {
			cs = append(cs, Contact{Name: c.Name, Role: opt("contact_role", c.Role), Phone: c.Phone, Email: c.Email})
		}
		for _, c := range p.Contacts {
			if !slices.ContainsFunc(cs, func(d Contact) bool { return d.Name == c.Name && d.Email == c.Email && d.Phone == c.Phone }) {
				cs = append(cs, c)
			}
		}
		p.Contacts = cs
		r.Reporter = &p
	} else {
		for _, id := range in.Orgs {
			r.Orgs = append(r.Orgs, org(id))
		}
	}
	if in.CenterID != "" {
		c := Party{ID: in.CenterID, Name: in.CenterID}
		if reg != nil {
			if rc := reg.Center(in.CenterID); rc != nil {
				c.Name, c.Kind = rc.Name, rc.Kind
			}
		}
		r.Center = &c
	}
	r.NCC = Party{ID: "ncc", Name: lang.T("party.ncc"), Kind: "ncc"}
	if reg != nil {
		for _, c := range reg.Centers {
			if c.Kind == registry.KindNCC {
				r.NCC = Party{ID: c.ID, Name: c.Name, Kind: c.Kind}
				break
			}
		}
	}
	for _, id := range in.ObjectIDs {
		o := Object{ID: id}
		if reg != nil {
			if ro := reg.Object(id); ro != nil {
				o.Name, o.Kind, o.Class = ro.Name, opt("object_kind", ro.Kind), ro.Criticality
				s := sectorWord(ro.Sector, lang)
				o.Sector = &s
			}
		}
		r.Objects = append(r.Objects, o)
	}
	for _, s := range in.Sectors {
		r.Sectors = append(r.Sectors, sectorWord(s, lang))
	}
	ts := timesOf(&in)
	for _, f := range timeFields {
		r.Times = append(r.Times, Time{Field: f, Label: lang.T("time." + f), At: instant(ts[f])})
	}
	r.Indicators = indicators(in.Entities, in.Indicators)
	for _, s := range in.Stages {
		st := Stage{Regime: s.Regime, Stage: s.Stage, Status: w("stage_status", string(s.Status)), Anchor: s.Anchor,
			DueAt: instant(s.DueAt), SentAt: instant(s.SentAt), AcknowledgedAt: instant(s.AcknowledgedAt)}
		for _, f := range s.Flags {
			st.Flags = append(st.Flags, w("flag", f))
		}
		for _, n := range s.Notifications {
			st.Notifications = append(st.Notifications, Notification{ID: n.ID, Recipient: n.Recipient, Kind: n.Kind,
				Channel: n.Channel, SentAt: instant(n.SentAt), AcknowledgedAt: instant(n.AcknowledgedAt)})
		}
		r.Stages = append(r.Stages, st)
	}
	return r, nil
}

func orgName(o *registry.Organisation, lang Lang) string {
	switch {
	case lang == Kazakh && o.NameKK != "":
		return o.NameKK
	case lang != English && o.NameRU != "":
		return o.NameRU
	}
	return o.Name
}

func sectorWord(id string, lang Lang) Word {
	for _, s := range registry.Sectors {
		if s.ID == id {
			switch lang {
			case Kazakh:
				return Word{Value: id, Text: s.NameKK}
			case Russian:
				return Word{Value: id, Text: s.NameRU}
			}
			return Word{Value: id, Text: s.NameEN}
		}
	}
	return Word{Value: id, Text: id}
}

// indicators lists the entity values, sorted by field then value, each with
// the STIX Cyber Observable type it maps to: an address field's value by
// its form (ipv4-addr, ipv6-addr), a hash field's (…hash.md5, sha1,
// sha256, sha512) as file, a user field's as user-account, a domain or
// dotted host name as domain-name; nothing else.
func indicators(es map[string][]string, marked []string) []Indicator {
	var out []Indicator
	seen := map[string]bool{}
	for f, vs := range es {
		for _, v := range vs {
			if v == "" {
				continue
			}
			seen[f+"="+v] = true
			out = append(out, Indicator{Field: f, Value: v, STIXType: stixType(f, v), Marked: slices.Contains(marked, f+"="+v)})
		}
	}
	// Values an analyst marked that no alert carried.
	for _, m := range marked {
		if f, v, ok := strings.Cut(m, "="); ok && !seen[m] {
			seen[m] = true
			out = append(out, Indicator{Field: f, Value: v, STIXType: stixType(f, v), Marked: true})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Field != out[j].Field {
			return out[i].Field < out[j].Field
		}
		return out[i].Value < out[j].Value
	})
	return out
}

func stixType(field, v string) string {
	f := strings.ToLower(field)
	if a, err := netip.ParseAddr(v); err == nil {
		if a.Unmap().Is4() {
			return "ipv4-addr"
		}
		return "ipv6-addr"
	}
	if a := hashAlgo(f); a != "" {
		if isHex(v, hashLen[a]) {
			return "file"
		}
		return ""
	}
	last := f[strings.LastIndex(f, ".")+1:]
	switch {
	case strings.HasPrefix(f, "user.") || strings.Contains(f, ".user.") || last == "user" || last == "username":
		return "user-account"
	case last == "domain" || last == "fqdn" || strings.HasPrefix(f, "dns.question.") || strings.HasPrefix(f, "host.") || strings.HasSuffix(f, ".hostname"):
		if isDomain(v) {
			return "domain-name"
		}
	}
	return ""
}

// hashAlgo is the STIX hash name of a hash field (file.hash.sha256 →
// SHA-256), "" for other fields.
func hashAlgo(f string) string {
	if !strings.Contains(f, "hash") {
		return ""
	}
	switch f[strings.LastIndex(f, ".")+1:] {
	case "md5":
		return "MD5"
	case "sha1":
		return "SHA-1"
	case "sha256":
		return "SHA-256"
	case "sha512":
		return "SHA-512"
	}
	return ""
}

var hashLen = map[string]int{"MD5": 32, "SHA-1": 40, "SHA-256": 64, "SHA-512": 128}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// isDomain reports whether v looks like a DNS name with at least two labels.
func isDomain(v string) bool {
	v = strings.TrimSuffix(v, ".")
	if len(v) > 253 || !strings.Contains(v, ".") {
		return false
	}
	for _, l := range strings.Split(v, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// Field is one labelled value of a report, as the HTML, CSV and PDF
// renderers show it: Key is a stable machine name ("reporter.bin",
// "stages[0].due_at"), Label is in the report's language.
type Field struct {
	Key   string
	Label string
	Value string
}

// Section is a titled list of fields.
type Section struct {
	Key    string
	Title  string
	Fields []Field
}

// Sections lays the report out as the renderers show it; an unknown
// value reads "not recorded", an empty list "none".
func (r *Report) Sections() []Section {
	l := r.Lang
	unknown, none := l.T("report.unknown"), l.T("report.none")
	yes := func(b bool) string {
		if b {
			return l.T("yes")
		}
		return l.T("no")
	}
	text := func(s string) string {
		if s == "" {
			return unknown
		}
		return s
	}
	wp := func(w *Word) string {
		if w == nil {
			return unknown
		}
		return w.Text
	}
	at := func(i *Instant) string {
		if i == nil {
			return unknown
		}
		return i.String()
	}
	f := func(key, label, value string) Field { return Field{Key: key, Label: l.T(label), Value: value} }
	var out []Section
	add := func(key string, fs ...Field) {
		out = append(out, Section{Key: key, Title: l.T("section." + key), Fields: fs})
	}

	inc := []Field{
		f("id", "field.id", r.ID),
		f("title", "field.title", text(r.Title)),
		f("tlp", "field.tlp", "TLP:"+string(r.TLP)),
		f("source_tlp", "field.source_tlp", "TLP:"+string(r.SourceTLP)),
		f("origin", "field.origin", text(r.Origin.Text)),
		f("national", "field.national", yes(r.National)),
		f("alert_count", "field.alert_count", fmt.Sprint(r.AlertCount)),
		f("version", "field.version", fmt.Sprint(r.Version)),
	}
	if r.ReportedBy != "" {
		inc = append(inc, f("reported_by", "field.reported_by", r.ReportedBy))
	}
	add("incident", inc...)

	party := func(prefix string, p Party) []Field {
		fs := []Field{f(prefix+".id", "field.org", p.Name+" ("+p.ID+")"), f(prefix+".bin", "field.bin", text(p.BIN))}
		if len(p.Contacts) == 0 {
			fs = append(fs, f(prefix+".contacts", "field.contacts", none))
		}
		for i, c := range p.Contacts {
			parts := []string{c.Name}
			if c.Role != nil {
				parts = append(parts, c.Role.Text)
			}
			for _, s := range []string{c.Phone, c.Email} {
				if s != "" {
					parts = append(parts, s)
				}
			}
			fs = append(fs, f(fmt.Sprintf("%s.contacts[%d]", prefix, i), "field.contact", strings.Join(parts, ", ")))
		}
		return fs
	}
	var rep []Field
	if r.Reporter != nil {
		rep = party("reporter", *r.Reporter)
	}
	for i, p := range r.Orgs {
		rep = append(rep, party(fmt.Sprintf("orgs[%d]", i), p)...)
	}
	if r.Center != nil {
		rep = append(rep, f("center", "field.center", r.Center.Name+" ("+r.Center.ID+")"))
	}
	if len(rep) == 0 {
		rep = append(rep, f("reporter", "field.org", unknown))
	}
	add("reporter", rep...)

	var objs []Field
	for i, o := range r.Objects {
		p := fmt.Sprintf("objects[%d]", i)
		name := o.ID
		if o.Name != "" {
			name = o.Name + " (" + o.ID + ")"
		}
		objs = append(objs, f(p+".id", "field.object", name), f(p+".kind", "field.kind", wp(o.Kind)), f(p+".sector", "field.sector", wp(o.Sector)))
		class := unknown
		if o.Class > 0 {
			class = fmt.Sprint(o.Class)
		}
		objs = append(objs, f(p+".criticality_class", "field.object_class", class))
	}
	if len(objs) == 0 {
		objs = append(objs, f("objects", "field.object", none))
	}
	var sectors []string
	for _, s := range r.Sectors {
		sectors = append(sectors, s.Text)
	}
	objs = append(objs, f("sectors", "field.sectors", orNone(strings.Join(sectors, ", "), none)))
	add("objects", objs...)

	cls := []Field{
		f("rsit_class", "field.rsit_class", text(joinWord(r.RSITClass))),
		f("rsit_type", "field.rsit_type", text(r.RSITType.Value)),
		f("determination", "field.determination", text(r.Determination.Text)),
		f("status", "field.status", text(r.Status.Text)),
	}
	if r.Resolution != nil {
		cls = append(cls, f("resolution", "field.resolution", r.Resolution.Text))
	}
	cls = append(cls, f("severity", "field.severity", text(r.Severity.Text)), f("criticality", "field.criticality", fmt.Sprint(r.Criticality)))
	add("classification", cls...)

	var ts []Field
	for _, t := range r.Times {
		ts = append(ts, Field{Key: t.Field, Label: t.Label, Value: at(t.At)})
	}
	add("times", ts...)

	var ii []string
	for _, x := range r.InformationImpact {
		ii = append(ii, x.Text)
	}
	imp := []Field{
		f("description", "field.description", text(r.Description)),
		f("functional_impact", "field.functional_impact", wp(r.FunctionalImpact)),
		f("information_impact", "field.information_impact", orNone(strings.Join(ii, ", "), unknown)),
		f("recoverability", "field.recoverability", wp(r.Recoverability)),
		f("attack_vector", "field.attack_vector", text(r.AttackVector)),
		f("personal_data_involved", "field.personal_data", yes(r.PersonalData)),
	}
	if a := r.Affected; a != nil {
		n := func(v int) string {
			if v == 0 {
				return unknown
			}
			return fmt.Sprint(v)
		}
		imp = append(imp, f("affected.systems", "field.affected_systems", n(a.Systems)), f("affected.records", "field.affected_records", n(a.Records)),
			f("affected.users", "field.affected_users", n(a.Users)))
	}
	add("impact", imp...)
	add("measures", f("measures_taken", "field.measures_taken", text(r.MeasuresTaken)))

	var inds []Field
	for i, x := range r.Indicators {
		inds = append(inds, Field{Key: fmt.Sprintf("indicators[%d]", i), Label: x.Field, Value: x.Value})
	}
	if len(inds) == 0 {
		inds = append(inds, f("indicators", "section.indicators", none))
	}
	add("indicators", inds...)

	var sts []Field
	for i, s := range r.Stages {
		p := fmt.Sprintf("stages[%d]", i)
		var flags []string
		for _, fl := range s.Flags {
			flags = append(flags, fl.Text)
		}
		sts = append(sts, f(p+".regime", "field.regime", s.Regime+" / "+s.Stage),
			f(p+".status", "field.stage_status", s.Status.Text),
			f(p+".due_at", "field.due_at", at(s.DueAt)),
			f(p+".sent_at", "field.sent_at", at(s.SentAt)),
			f(p+".acknowledged_at", "field.acknowledged_at", at(s.AcknowledgedAt)))
		if len(flags) > 0 {
			sts = append(sts, f(p+".flags", "field.flags", strings.Join(flags, "; ")))
		}
		for j, n := range s.Notifications {
			v := n.Recipient
			if n.Channel != "" {
				v += " (" + n.Channel + ")"
			}
			v += ": " + l.T("field.sent_at") + " " + at(n.SentAt) + "; " + l.T("field.acknowledged_at") + " " + at(n.AcknowledgedAt)
			sts = append(sts, f(fmt.Sprintf("%s.notifications[%d]", p, j), "field.recipient", v))
		}
	}
	if len(sts) == 0 {
		sts = append(sts, f("stages", "section.stages", none))
	}
	add("stages", sts...)
	return out
}

func joinWord(w Word) string {
	if w.Value == "" {
		return ""
	}
	if w.Text == w.Value {
		return w.Value
	}
	return w.Text + " (" + w.Value + ")"
}

func orNone(s, none string) string {
	if s == "" {
		return none
	}
	return s
}
