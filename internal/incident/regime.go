package incident

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Regimes is a parsed and validated configs/regimes.yaml: the working-day
// calendars and the deadline regimes, one per legal basis, in file order.
// Treat it as immutable once parsed.
type Regimes struct {
	Calendars map[string]*Calendar
	Regimes   []Regime
}

// Regime is one legal basis for notifying: the incidents it applies to and
// its stages, each with its own clock.
type Regime struct {
	ID        string
	Basis     string
	AppliesIf RegimeCondition
	Stages    []StageRule
}

// RegimeCondition selects the incidents a regime applies to. Every field set must
// hold: a list holds when it contains the incident's value, a boolean when it
// equals the incident's flag. An empty RegimeCondition holds for every incident.
type RegimeCondition struct {
	Origin               []string
	Determination        []string
	ObjectIsCritical     *bool
	PersonalDataInvolved *bool
	Significant          *bool
}

// StageRule is one stage of a regime: when its clock starts (Anchor), how long
// it runs (Due), who receives it, and the predicates (If, Unless) that make it
// apply.
type StageRule struct {
	Stage string
	// Anchor is an incident timestamp (detected_at, aware_at, ...) or
	// "stage.<name>.sent_at" of an earlier stage of the same regime.
	Anchor string
	Due    Due
	// Recipients are symbolic (NCC, OWNER, CONNECTED_CENTER, AUTHORIZED_BODY,
	// SECTOR_CENTER); a ResolveFunc turns them into endpoints. A stage without
	// recipients is sent when the caller records its sent_at itself.
	Recipients []string
	Note       string
	Required   []string
	// If and Unless name a predicate (see stagePredicates); empty means none.
	If, Unless string
}

// Due is a stage's time limit: an ISO 8601 duration, a number of working days
// of a calendar, or no clock at all (null in the file: the stage has no fixed
// deadline and is never overdue).
type Due struct {
	// Duration is set for an ISO 8601 duration.
	Duration *ISODuration
	// Zone is where the date components (years, months, weeks, days) of
	// Duration are counted: the stage's calendar, or the only calendar of the
	// file, else UTC.
	Zone *time.Location
	// BusinessDays and Calendar are set for {business_days: N, calendar: C}.
	BusinessDays int
	Calendar     *Calendar
}

// None reports whether the stage has no clock.
func (d Due) None() bool { return d.Duration == nil && d.Calendar == nil }

// After returns the due instant for a clock started at anchor, in UTC, and
// the calendar years the computation needed but the calendar lacks (counted
// on weekends alone). It must not be called when None.
func (d Due) After(anchor time.Time) (time.Time, []int) {
	if d.Calendar != nil {
		t, missing := d.Calendar.AddWorkingDays(anchor, d.BusinessDays)
		return t.UTC(), missing
	}
	return d.Duration.AddTo(anchor, d.Zone).UTC(), nil
}

// String gives the due as the file spells it.
func (d Due) String() string {
	switch {
	case d.Calendar != nil:
		return fmt.Sprintf("{business_days: %d, calendar: %s}", d.BusinessDays, d.Calendar.ID)
	case d.Duration != nil:
		return d.Duration.String()
	}
	return "null"
}

// Symbolic recipients of a stage.
const (
	RecipientNCC             = "NCC"
	RecipientOwner           = "OWNER"
	RecipientConnectedCenter = "CONNECTED_CENTER"
	RecipientAuthorizedBody  = "AUTHORIZED_BODY"
	RecipientSectorCenter    = "SECTOR_CENTER"
)

var recipientSymbols = []string{RecipientNCC, RecipientOwner, RecipientConnectedCenter, RecipientAuthorizedBody, RecipientSectorCenter}

// Origins and determinations as DOMAIN.md spells them.
var (
	regimeOrigins        = []string{"oisc_detected", "owner_self_identified", "ncc_detected", "third_party", "kz_cert"}
	regimeDeterminations = []string{"suspected", "confirmed", "false_positive", "blocked", "failed_attempt"}
)

// Incident timestamps a stage may be anchored on. The first group are facts
// that happened before the regime could apply: an unknown one falls back to
// detected_at. The second group mark a later step: until it is recorded the
// stage's clock has not started.
var (
	factAnchors  = []string{"detected_at", "aware_at", "reasonably_believed_at", "ransom_paid_at"}
	laterAnchors = []string{"request_received_at", "contained_at", "resolved_at"}
)

// stagePredicates are the names If and Unless may use.
//
//   - ongoing: the incident is ongoing (ClockInput.Ongoing, else not yet
//     contained), read at the stage's due_at once that has passed and at now
//     before;
//   - was_ongoing_at_final: it was ongoing when the regime's stage "final"
//     fell due (ClockInput.OngoingAtFinal, else derived the same way);
//   - ransom_paid, personal_data_involved, significant, object_is_critical:
//     the incident's flags.
var stagePredicates = []string{"ongoing", "was_ongoing_at_final", "ransom_paid", "personal_data_involved", "significant", "object_is_critical"}

// The file's form, decoded strictly before validation.
type regimesFile struct {
	Calendars map[string]calendarRefFile `yaml:"calendars"`
	Regimes   []regimeFile               `yaml:"regimes"`
}

type calendarRefFile struct {
	Zone         string   `yaml:"zone"`
	Weekend      []string `yaml:"weekend"`
	HolidaysFile string   `yaml:"holidays_file"`
}

type regimeFile struct {
	ID        string        `yaml:"id"`
	Basis     string        `yaml:"basis"`
	AppliesIf conditionFile `yaml:"applies_if"`
	Stages    []stageFile   `yaml:"stages"`
}

type conditionFile struct {
	Origin               []string `yaml:"origin"`
	Determination        []string `yaml:"determination"`
	ObjectIsCritical     *bool    `yaml:"object_is_critical"`
	PersonalDataInvolved *bool    `yaml:"personal_data_involved"`
	Significant          *bool    `yaml:"significant"`
}

type stageFile struct {
	Stage      string    `yaml:"stage"`
	Anchor     string    `yaml:"anchor"`
	Due        yaml.Node `yaml:"due"`
	Recipients []string  `yaml:"recipients"`
	Note       string    `yaml:"note"`
	Required   []string  `yaml:"required"`
	If         string    `yaml:"if"`
	Unless     string    `yaml:"unless"`
	// Calendar names the calendar whose zone counts the date components of an
	// ISO duration (kuzet's addition to the schema; optional).
	Calendar string `yaml:"calendar"`
}

// LoadRegimes reads name from fsys and parses it with ParseRegimes; the
// calendars' holidays_file paths are read from fsys too (os.DirFS(".") reads
// them relative to the working directory, as the shipped file expects).
func LoadRegimes(fsys fs.FS, name string) (*Regimes, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	r, err := ParseRegimes(data, fsys)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return r, nil
}

// ParseRegimes decodes a regimes file strictly (unknown keys are errors) and
// validates it, returning every problem joined, each naming its field. Each
// calendar's holidays_file is read from fsys and parsed with ParseCalendar; a
// nil fsys rejects calendars that name one.
func ParseRegimes(data []byte, fsys fs.FS) (*Regimes, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f regimesFile
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("regimes: empty document")
		}
		return nil, fmt.Errorf("regimes: %w", err)
	}
	var errs []error
	bad := func(where, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...)))
	}
	r := &Regimes{Calendars: map[string]*Calendar{}}
	ids := make([]string, 0, len(f.Calendars))
	for id := range f.Calendars {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		c := f.Calendars[id]
		where := "calendars." + id
		zone, err := time.LoadLocation(c.Zone)
		if c.Zone == "" {
			bad(where+".zone", "missing")
			continue
		} else if err != nil {
			bad(where+".zone", "%v", err)
			continue
		}
		weekend, err := parseCalendarWeekend(c.Weekend)
		if err != nil {
			bad(where+".weekend", "%v", err)
			continue
		}
		var holidays []byte
		if c.HolidaysFile != "" {
			if fsys == nil {
				bad(where+".holidays_file", "no file system to read %q from", c.HolidaysFile)
				continue
			}
			if holidays, err = fs.ReadFile(fsys, c.HolidaysFile); err != nil {
				bad(where+".holidays_file", "%v", err)
				continue
			}
		}
		cal, err := ParseCalendar(id, zone, weekend, holidays)
		if err != nil {
			bad(where+".holidays_file", "%s: %v", c.HolidaysFile, err)
			continue
		}
		r.Calendars[id] = cal
	}
	// The zone of ISO durations' date components when a stage names none.
	defaultZone := time.UTC
	if len(f.Calendars) == 1 && len(r.Calendars) == 1 {
		defaultZone = r.Calendars[ids[0]].Zone
	}
	if len(f.Regimes) == 0 {
		bad("regimes", "none defined")
	}
	seen := map[string]bool{}
	for i, rf := range f.Regimes {
		where := fmt.Sprintf("regimes[%d]", i)
		if rf.ID == "" {
			bad(where+".id", "missing")
		} else if seen[rf.ID] {
			bad(where+".id", "duplicate id %q", rf.ID)
		}
		seen[rf.ID] = true
		if rf.Basis == "" {
			bad(where+".basis", "missing: name the legal basis")
		}
		for _, o := range rf.AppliesIf.Origin {
			if !slices.Contains(regimeOrigins, o) {
				bad(where+".applies_if.origin", "unknown origin %q (one of %s)", o, strings.Join(regimeOrigins, ", "))
			}
		}
		for _, d := range rf.AppliesIf.Determination {
			if !slices.Contains(regimeDeterminations, d) {
				bad(where+".applies_if.determination", "unknown determination %q (one of %s)", d, strings.Join(regimeDeterminations, ", "))
			}
		}
		reg := Regime{ID: rf.ID, Basis: rf.Basis, AppliesIf: RegimeCondition(rf.AppliesIf)}
		if len(rf.Stages) == 0 {
			bad(where+".stages", "none defined")
		}
		var names []string
		for j, sf := range rf.Stages {
			sw := fmt.Sprintf("%s.stages[%d]", where, j)
			if sf.Stage == "" {
				bad(sw+".stage", "missing")
			} else if slices.Contains(names, sf.Stage) {
				bad(sw+".stage", "duplicate stage %q", sf.Stage)
			}
			if err := checkStageAnchor(sf.Anchor, names); err != nil {
				bad(sw+".anchor", "%v", err)
			}
			names = append(names, sf.Stage)
			for _, rc := range sf.Recipients {
				if !slices.Contains(recipientSymbols, rc) {
					bad(sw+".recipients", "unknown recipient %q (one of %s)", rc, strings.Join(recipientSymbols, ", "))
				}
			}
			for k, p := range map[string]string{"if": sf.If, "unless": sf.Unless} {
				if p != "" && !slices.Contains(stagePredicates, p) {
					bad(sw+"."+k, "unknown predicate %q (one of %s)", p, strings.Join(stagePredicates, ", "))
				}
			}
			zone := defaultZone
			if sf.Calendar != "" {
				if c := r.Calendars[sf.Calendar]; c != nil {
					zone = c.Zone
				} else {
					bad(sw+".calendar", "unknown calendar %q", sf.Calendar)
				}
			}
			due, err := parseStageDue(&sf.Due, r.Calendars, f.Calendars, zone)
			if err != nil {
				bad(sw+".due", "%v", err)
			}
			reg.Stages = append(reg.Stages, StageRule{
				Stage: sf.Stage, Anchor: sf.Anchor, Due: due, Recipients: sf.Recipients,
				Note: sf.Note, Required: sf.Required, If: sf.If, Unless: sf.Unless,
			})
		}
		r.Regimes = append(r.Regimes, reg)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return r, nil
}

// Regime returns the regime with that id, or nil.
func (r *Regimes) Regime(id string) *Regime {
	for i := range r.Regimes {
		if r.Regimes[i].ID == id {
			return &r.Regimes[i]
		}
	}
	return nil
}

func checkStageAnchor(a string, earlier []string) error {
	if a == "" {
		return errors.New("missing")
	}
	if slices.Contains(factAnchors, a) || slices.Contains(laterAnchors, a) {
		return nil
	}
	if name, ok := stageSentAnchor(a); ok {
		if !slices.Contains(earlier, name) {
			return fmt.Errorf("%q names no earlier stage of this regime", a)
		}
		return nil
	}
	return fmt.Errorf("unknown anchor %q (one of %s, %s or stage.<name>.sent_at)", a,
		strings.Join(factAnchors, ", "), strings.Join(laterAnchors, ", "))
}

// stageSentAnchor returns the stage name of a "stage.<name>.sent_at" anchor.
func stageSentAnchor(a string) (string, bool) {
	name, ok := strings.CutPrefix(a, "stage.")
	if !ok {
		return "", false
	}
	name, ok = strings.CutSuffix(name, ".sent_at")
	return name, ok && name != ""
}

var calendarWeekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

func parseCalendarWeekend(days []string) ([7]bool, error) {
	var w [7]bool
	for _, d := range days {
		wd, ok := calendarWeekdays[d]
		if !ok {
			return w, fmt.Errorf("unknown day %q (mon, tue, wed, thu, fri, sat, sun)", d)
		}
		if w[wd] {
			return w, fmt.Errorf("%q twice", d)
		}
		w[wd] = true
	}
	if len(days) == 7 {
		return w, errors.New("every day is a weekend day")
	}
	return w, nil
}

// parseStageDue reads the due node: missing is an error (null must be explicit), a
// scalar is an ISO 8601 duration, a mapping is {business_days: N, calendar: C}.
func parseStageDue(n *yaml.Node, cals map[string]*Calendar, declared map[string]calendarRefFile, zone *time.Location) (Due, error) {
	switch {
	case n.Kind == 0:
		return Due{}, errors.New("missing (write null for a stage without a clock)")
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null":
		return Due{}, nil
	case n.Kind == yaml.ScalarNode:
		d, err := ParseISODuration(n.Value)
		if err != nil {
			return Due{}, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return Due{Duration: &d, Zone: zone}, nil
	case n.Kind == yaml.MappingNode:
		var due Due
		var calName string
		days := -1
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			switch k.Value {
			case "business_days":
				x, err := strconv.Atoi(v.Value)
				if err != nil || v.Kind != yaml.ScalarNode || x < 1 || x > 366 {
					return Due{}, fmt.Errorf("line %d: business_days must be an integer 1..366, not %q", v.Line, v.Value)
				}
				days = x
			case "calendar":
				calName = v.Value
			default:
				return Due{}, fmt.Errorf("line %d: field %s not found (business_days, calendar)", k.Line, k.Value)
			}
		}
		if days < 0 {
			return Due{}, fmt.Errorf("line %d: business_days missing", n.Line)
		}
		if calName == "" {
			return Due{}, fmt.Errorf("line %d: calendar missing", n.Line)
		}
		due.BusinessDays = days
		due.Calendar = cals[calName]
		if due.Calendar == nil {
			if _, ok := declared[calName]; ok {
				return Due{}, fmt.Errorf("line %d: calendar %q is invalid (see its error)", n.Line, calName)
			}
			return Due{}, fmt.Errorf("line %d: unknown calendar %q", n.Line, calName)
		}
		return due, nil
	}
	return Due{}, fmt.Errorf("line %d: must be an ISO 8601 duration, {business_days: N, calendar: C} or null", n.Line)
}

// ISODuration is an ISO 8601 duration of whole units: PnYnMnWnDTnHnMnS, each
// part optional, at least one present (PT1H, PT72H, P1M, P1DT12H).
type ISODuration struct {
	Years, Months, Weeks, Days int
	Hours, Minutes, Seconds    int
}

// ParseISODuration parses an ISO 8601 duration with whole, non-negative numbers
// of each unit. Fractions and negative durations are rejected.
func ParseISODuration(s string) (ISODuration, error) {
	var d ISODuration
	rest, ok := strings.CutPrefix(s, "P")
	if !ok {
		return d, fmt.Errorf("duration %q: must start with P (ISO 8601, e.g. PT1H, P1M)", s)
	}
	datePart, timePart, hasT := strings.Cut(rest, "T")
	if datePart == "" && (!hasT || timePart == "") {
		return d, fmt.Errorf("duration %q: no component", s)
	}
	if hasT && timePart == "" {
		return d, fmt.Errorf("duration %q: T without a time component", s)
	}
	parse := func(part string, units string, fields []*int) error {
		order := 0
		for part != "" {
			i := 0
			for i < len(part) && part[i] >= '0' && part[i] <= '9' {
				i++
			}
			if i == 0 || i == len(part) {
				return fmt.Errorf("duration %q: expected a number then a unit at %q", s, part)
			}
			if i > 6 {
				return fmt.Errorf("duration %q: number %q too large", s, part[:i])
			}
			n, _ := strconv.Atoi(part[:i])
			u := strings.IndexByte(units, part[i])
			if u < 0 {
				return fmt.Errorf("duration %q: unknown unit %q (one of %s)", s, part[i], units)
			}
			if u < order {
				return fmt.Errorf("duration %q: unit %q out of order", s, part[i])
			}
			order = u + 1
			*fields[u] = n
			part = part[i+1:]
		}
		return nil
	}
	if err := parse(datePart, "YMWD", []*int{&d.Years, &d.Months, &d.Weeks, &d.Days}); err != nil {
		return ISODuration{}, err
	}
	if err := parse(timePart, "HMS", []*int{&d.Hours, &d.Minutes, &d.Seconds}); err != nil {
		return ISODuration{}, err
	}
	return d, nil
}

// AddTo returns t plus d. The date components are calendar units counted in
// zone: years and months move the date to the same day and wall-clock time of
// the later month (P1M is one calendar month, AddDate(0, 1, 0) in zone), except
// that a day past that month's end is clamped to its last day (Jan 31 + P1M =
// Feb 28, or 29 in a leap year, where AddDate alone would give Mar 3), as
// Regulation (EEC, Euratom) No 1182/71 Art. 3(2)(c) counts periods; weeks and
// days then add calendar days in zone. Hours, minutes and seconds are elapsed
// time added last.
func (d ISODuration) AddTo(t time.Time, zone *time.Location) time.Time {
	if zone == nil {
		zone = time.UTC
	}
	if d.Years != 0 || d.Months != 0 || d.Weeks != 0 || d.Days != 0 {
		l := t.In(zone)
		y, m, day := l.Date()
		first := time.Date(y+d.Years, m+time.Month(d.Months), 1, 0, 0, 0, 0, zone)
		last := first.AddDate(0, 1, -1).Day()
		day = min(day, last)
		hh, mm, ss := l.Clock()
		t = time.Date(first.Year(), first.Month(), day+7*d.Weeks+d.Days, hh, mm, ss, l.Nanosecond(), zone)
	}
	return t.Add(time.Duration(d.Hours)*time.Hour + time.Duration(d.Minutes)*time.Minute + time.Duration(d.Seconds)*time.Second)
}

// String formats d in ISO 8601.
func (d ISODuration) String() string {
	var b strings.Builder
	b.WriteByte('P')
	for _, p := range []struct {
		n int
		u byte
	}{{d.Years, 'Y'}, {d.Months, 'M'}, {d.Weeks, 'W'}, {d.Days, 'D'}} {
		if p.n != 0 {
			b.WriteString(strconv.Itoa(p.n))
			b.WriteByte(p.u)
		}
	}
	if d.Hours != 0 || d.Minutes != 0 || d.Seconds != 0 {
		b.WriteByte('T')
		for _, p := range []struct {
			n int
			u byte
		}{{d.Hours, 'H'}, {d.Minutes, 'M'}, {d.Seconds, 'S'}} {
			if p.n != 0 {
				b.WriteString(strconv.Itoa(p.n))
				b.WriteByte(p.u)
			}
		}
	}
	if b.Len() == 1 {
		b.WriteString("T0S")
	}
	return b.String()
}
