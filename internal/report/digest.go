package report

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/registry"
)

// DigestKind is how long a digest's period is.
type DigestKind string

// The digest kinds: a day or a calendar month, in Asia/Almaty.
const (
	Daily   DigestKind = "daily"
	Monthly DigestKind = "monthly"
)

// DigestKinds lists the kinds.
var DigestKinds = []DigestKind{Daily, Monthly}

// NationalScope is the scope of the digest of every sector; a sector's is
// "sector:" and its id (SectorScope).
const NationalScope = "national"

// SectorScope is the scope of sector id's digest.
func SectorScope(id string) string { return "sector:" + id }

// DigestScopes lists every scope: national, then each sector of
// registry.Sectors in its order.
func DigestScopes() []string {
	out := []string{NationalScope}
	for _, s := range registry.Sectors {
		out = append(out, SectorScope(s.ID))
	}
	return out
}

// ScopeSector returns the sector of a scope ("" for national), or an error
// for a scope that is neither national nor a known sector's.
func ScopeSector(scope string) (string, error) {
	if scope == NationalScope {
		return "", nil
	}
	if id, ok := strings.CutPrefix(scope, "sector:"); ok && registry.ValidSector(id) {
		return id, nil
	}
	return "", fmt.Errorf("report: scope %q is neither national nor sector:<id> of a known sector", scope)
}

// DigestK is the fewest organisations a digest's row may describe: rows
// of fewer are withheld, as the statistics API withholds them.
const DigestK = 3

// DigestSpec names one digest period: its kind, scope and start (midnight
// in Asia/Almaty: of the day, or of the month's first day).
type DigestSpec struct {
	Kind  DigestKind
	Scope string
	Start time.Time
}

// PeriodStart is the start of the kind's period that holds t.
func PeriodStart(kind DigestKind, t time.Time) time.Time {
	l := t.In(Zone)
	if kind == Monthly {
		return time.Date(l.Year(), l.Month(), 1, 0, 0, 0, 0, Zone)
	}
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, Zone)
}

// End is the end of the period (exclusive): the next period's start.
func (s DigestSpec) End() time.Time {
	l := s.Start.In(Zone)
	if s.Kind == Monthly {
		return time.Date(l.Year(), l.Month()+1, 1, 0, 0, 0, 0, Zone)
	}
	return time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, Zone)
}

// Validate checks the kind and the scope, and that Start starts a period.
func (s DigestSpec) Validate() error {
	if !slices.Contains(DigestKinds, s.Kind) {
		return fmt.Errorf("report: unknown digest kind %q (daily or monthly)", s.Kind)
	}
	if _, err := ScopeSector(s.Scope); err != nil {
		return err
	}
	if !PeriodStart(s.Kind, s.Start).Equal(s.Start) {
		return fmt.Errorf("report: %s digest period must start at midnight of a %s in Asia/Almaty, not %s",
			s.Kind, map[DigestKind]string{Daily: "day", Monthly: "month's first day"}[s.Kind], s.Start.In(Zone).Format(time.RFC3339))
	}
	return nil
}

// digestNamespace is the UUIDv5 namespace of digest ids.
var digestNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://kuzet.kz/ns/digest"))

// ID is the digest's id in lang: the UUIDv5 of its kind, scope, period
// start (UTC, RFC 3339) and language, so every generator of the same
// digest names it alike.
func (s DigestSpec) ID(lang Lang) string {
	name := string(s.Kind) + "|" + s.Scope + "|" + s.Start.UTC().Format(time.RFC3339) + "|" + string(lang)
	return uuid.NewSHA1(digestNamespace, []byte(name)).String()
}

// DigestCount is one row of counts; a withheld row (fewer than K
// organisations) keeps its key and loses its figures.
type DigestCount struct {
	Key           string `json:"key"`
	Withheld      bool   `json:"withheld,omitempty"`
	Incidents     int    `json:"incidents"`
	Organisations int    `json:"organisations"`
}

// DigestDurations summarises durations from detection, in seconds.
type DigestDurations struct {
	N      int     `json:"n"`
	Mean   float64 `json:"mean_seconds"`
	Median float64 `json:"median_seconds"`
}

// DigestTimes is one row of response times.
type DigestTimes struct {
	Key          string           `json:"key"`
	Withheld     bool             `json:"withheld,omitempty"`
	Incidents    int              `json:"incidents"`
	Acknowledged *DigestDurations `json:"time_to_acknowledge,omitempty"`
	Contained    *DigestDurations `json:"time_to_contain,omitempty"`
	Resolved     *DigestDurations `json:"time_to_resolve,omitempty"`
}

// DigestTimeliness is one regime stage's notifications.
type DigestTimeliness struct {
	Regime     string `json:"regime"`
	Stage      string `json:"stage"`
	Withheld   bool   `json:"withheld,omitempty"`
	OnTime     int    `json:"on_time"`
	Late       int    `json:"late"`
	Overdue    int    `json:"overdue"`
	Pending    int    `json:"pending"`
	Waived     int    `json:"waived"`
	Superseded int    `json:"superseded"`
}

// DigestFigures are a digest's aggregates, as the statistics give them:
// local incidents of the period (never TLP:RED, never national ones), in
// total and by RSIT class, severity and sector; response times by
// severity; notification timeliness by regime stage (overdue as of the
// generation); and national incidents counted apart. Nothing in them
// names an incident.
type DigestFigures struct {
	Total         DigestCount        `json:"total"`
	ByCategory    []DigestCount      `json:"by_category"`
	BySeverity    []DigestCount      `json:"by_severity"`
	BySector      []DigestCount      `json:"by_sector"`
	ResponseTimes []DigestTimes      `json:"response_times"`
	Timeliness    []DigestTimeliness `json:"timeliness"`
	National      DigestCount        `json:"national"`
}

// Digest is one periodic digest of the NCC in one language: aggregates
// only, TLP:GREEN.
type Digest struct {
	ID          string        `json:"id"`
	Lang        Lang          `json:"lang"`
	Kind        Word          `json:"kind"`
	Scope       Word          `json:"scope"`
	Spec        DigestSpec    `json:"-"`
	PeriodStart *Instant      `json:"period_start"`
	PeriodEnd   *Instant      `json:"period_end"`
	GeneratedAt *Instant      `json:"generated_at"`
	TLP         incident.TLP  `json:"tlp"`
	K           int           `json:"k"`
	Figures     DigestFigures `json:"figures"`
}

// BuildDigest makes the digest of spec in lang from its figures at now.
// It is pure.
func BuildDigest(spec DigestSpec, fig DigestFigures, lang Lang, now time.Time) (*Digest, error) {
	if !slices.Contains(Langs, lang) {
		return nil, fmt.Errorf("report: unknown language %q", lang)
	}
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	scope := Word{Value: spec.Scope, Text: lang.T("digest.national")}
	if sector, _ := ScopeSector(spec.Scope); sector != "" {
		scope.Text = sectorWord(sector, lang).Text
	}
	return &Digest{ID: spec.ID(lang), Lang: lang, Kind: Word{Value: string(spec.Kind), Text: lang.T("digest.kind." + string(spec.Kind))},
		Scope: scope, Spec: spec, PeriodStart: instant(spec.Start), PeriodEnd: instant(spec.End()), GeneratedAt: instant(now),
		TLP: incident.TLPGreen, K: DigestK, Figures: fig}, nil
}

// Title is the digest's title: "Daily digest: Banking, 2026-11-20".
func (d *Digest) Title() string {
	return d.Lang.T("digest.title."+d.Kind.Value) + ": " + d.Scope.Text + ", " + d.Period()
}

// Period is the period as a date (daily) or a month (monthly) in
// Asia/Almaty.
func (d *Digest) Period() string {
	if d.Spec.Kind == Monthly {
		return d.Spec.Start.In(Zone).Format("2006-01")
	}
	return d.Spec.Start.In(Zone).Format("2006-01-02")
}

// DigestTable is one table of a digest as the renderers show it: a
// title, column headings and rows of text, and a note under it.
type DigestTable struct {
	Key     string
	Title   string
	Columns []string
	Rows    [][]string
	Note    string
}

// Tables lays the digest out: the summary, counts by category, severity
// and (in the national digest) sector, response times and timeliness. An
// empty table has one row reading "none"; a withheld row reads "withheld"
// in its figures.
func (d *Digest) Tables() []DigestTable {
	l := d.Lang
	f := d.Figures
	withheld, none := l.T("digest.withheld"), l.T("report.none")
	num := func(withheldRow bool, n int) string {
		if withheldRow {
			return withheld
		}
		return fmt.Sprint(n)
	}
	// A withheld row says so in its first figure and leaves the others
	// empty.
	blank := func(cells []string, withheldRow bool) []string {
		if withheldRow {
			for i := 2; i < len(cells); i++ {
				cells[i] = ""
			}
		}
		return cells
	}
	count := func(c DigestCount) []string {
		return []string{num(c.Withheld, c.Incidents), num(c.Withheld, c.Organisations)}
	}
	var out []DigestTable
	summary := DigestTable{Key: "summary", Title: l.T("digest.section.summary"),
		Columns: []string{l.T("digest.col.indicator"), l.T("digest.col.value")},
		Rows: [][]string{
			{l.T("digest.kind"), d.Kind.Text},
			{l.T("digest.scope"), d.Scope.Text},
			{l.T("digest.period"), d.PeriodStart.String() + " – " + d.PeriodEnd.String()},
			{l.T("digest.total_incidents"), num(f.Total.Withheld, f.Total.Incidents)},
			{l.T("digest.total_organisations"), num(f.Total.Withheld, f.Total.Organisations)},
			{l.T("digest.national_incidents"), num(f.National.Withheld, f.National.Incidents)},
			{l.T("digest.k"), fmt.Sprint(d.K)},
		},
		Note: strings.ReplaceAll(l.T("digest.k_note"), "{k}", fmt.Sprint(d.K))}
	out = append(out, summary)
	counts := func(key, col string, rows []DigestCount, word func(string) string) DigestTable {
		t := DigestTable{Key: key, Title: l.T("digest.section." + key),
			Columns: []string{l.T(col), l.T("digest.col.incidents"), l.T("digest.col.organisations")}}
		for _, r := range rows {
			t.Rows = append(t.Rows, blank(append([]string{word(r.Key)}, count(r)...), r.Withheld))
		}
		if len(t.Rows) == 0 {
			t.Rows = [][]string{{none, "", ""}}
		}
		return t
	}
	out = append(out, counts("by_category", "digest.col.category", f.ByCategory, func(v string) string { return joinWord(Word{Value: v, Text: l.word("rsit", v)}) }))
	out = append(out, counts("by_severity", "digest.col.severity", f.BySeverity, func(v string) string { return l.word("severity", v) }))
	if d.Spec.Scope == NationalScope {
		out = append(out, counts("by_sector", "digest.col.sector", f.BySector, func(v string) string {
			if v == "" {
				return l.T("report.unknown")
			}
			return sectorWord(v, l).Text
		}))
	}
	rt := DigestTable{Key: "response_times", Title: l.T("digest.section.response_times"),
		Columns: []string{l.T("digest.col.severity"), l.T("digest.col.incidents"), l.T("digest.col.mtta"), l.T("digest.col.mttc"), l.T("digest.col.mttr")},
		Note:    l.T("digest.durations_note")}
	dur := func(withheldRow bool, x *DigestDurations) string {
		if withheldRow {
			return withheld
		}
		if x == nil {
			return "–"
		}
		return clock(x.Median) + " (" + clock(x.Mean) + "; " + fmt.Sprint(x.N) + ")"
	}
	for _, r := range f.ResponseTimes {
		rt.Rows = append(rt.Rows, blank([]string{l.word("severity", r.Key), num(r.Withheld, r.Incidents),
			dur(r.Withheld, r.Acknowledged), dur(r.Withheld, r.Contained), dur(r.Withheld, r.Resolved)}, r.Withheld))
	}
	if len(rt.Rows) == 0 {
		rt.Rows = [][]string{{none, "", "", "", ""}}
	}
	out = append(out, rt)
	tl := DigestTable{Key: "timeliness", Title: l.T("digest.section.timeliness"),
		Columns: []string{l.T("digest.col.stage"), l.T("digest.col.on_time"), l.T("digest.col.late"), l.T("digest.col.overdue"),
			l.T("digest.col.pending"), l.T("digest.col.waived"), l.T("digest.col.superseded")},
		Note: l.T("digest.timeliness_note")}
	for _, r := range f.Timeliness {
		tl.Rows = append(tl.Rows, blank([]string{r.Regime + " / " + r.Stage, num(r.Withheld, r.OnTime), num(r.Withheld, r.Late),
			num(r.Withheld, r.Overdue), num(r.Withheld, r.Pending), num(r.Withheld, r.Waived), num(r.Withheld, r.Superseded)}, r.Withheld))
	}
	if len(tl.Rows) == 0 {
		tl.Rows = [][]string{{none, "", "", "", "", "", ""}}
	}
	out = append(out, tl)
	return out
}

// clock writes seconds as hours:minutes:seconds ("26:05:00").
func clock(sec float64) string {
	s := int64(sec + 0.5)
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s%3600/60, s%60)
}

// DigestFile is one digest rendered: its HTML and PDF, with their SHA-256.
type DigestFile struct {
	ID          string
	Spec        DigestSpec
	Lang        Lang
	GeneratedAt time.Time
	TLP         incident.TLP
	HTML, PDF   []byte
}

// SHA256 is the hex SHA-256 of b.
func SHA256(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// RenderDigests builds spec's digest from fig at now in each language and
// renders it as HTML and PDF.
func RenderDigests(spec DigestSpec, fig DigestFigures, langs []Lang, now time.Time) ([]DigestFile, error) {
	now = now.UTC().Truncate(time.Second)
	var out []DigestFile
	for _, l := range langs {
		d, err := BuildDigest(spec, fig, l, now)
		if err != nil {
			return nil, err
		}
		h, err := DigestHTML(d)
		if err != nil {
			return nil, err
		}
		p, err := DigestPDF(d)
		if err != nil {
			return nil, err
		}
		out = append(out, DigestFile{ID: d.ID, Spec: spec, Lang: l, GeneratedAt: now, TLP: d.TLP, HTML: h, PDF: p})
	}
	return out, nil
}
