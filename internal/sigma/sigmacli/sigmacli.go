// Package sigmacli is `kuzet sigma`: check compiles rule directories and
// reports what it rejects; scan runs rules over a stream of JSON events.
package sigmacli

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kuzet-kz/kuzet/internal/correlate"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/ingest/winevent"
	"github.com/kuzet-kz/kuzet/internal/sigma"
)

const usage = `usage:
  kuzet sigma check --rules DIR [--rules DIR ...]
  kuzet sigma scan  --rules DIR [--rules DIR ...] --events FILE|- [--time-field NAME] [--lateness 1m]

check compiles every rule (*.yml, *.yaml, recursively), prints one line per
rejected rule and per warning, and ends with "compiled N, rejected M". It
exits 0 unless a rule failed for an unexpected reason.

scan runs the rules over JSON events (NDJSON, or objects one after another
such as pretty-printed evtx_dump files; kuzet's normalised events as
kuzet parse prints them, evaluated exactly as the ncc does; flat Sigma field
names; or the raw evtx_dump shape) and prints one JSON object per match:
{"rule_id":...,"title":...,"level":...,"event":N}, N the 0-based index of the
event. Keys starting with "_" are metadata, not event fields. Log sources are
routed as the pipelines say (SigmaHQ's thor.yml mapping for Windows).

scan also evaluates correlation rules (their own files, or documents beside
their base rules) over the events in file order, at each event's own time:
--time-field NAME, else @timestamp, evtx_dump's
Event.System.TimeCreated.#attributes.SystemTime, TimeCreated_SystemTime
(2017-08-30 19:13:38.198483, UTC) or Zeek's ts. It prints one JSON object per
episode when it closes (or at the end of the events):
{"rule_id":...,"title":...,"level":...,"correlation":true,"group":{...},
"window":{"start":...,"end":...},"events":[N,...]}, the window (start, end]
and the indexes of the contributing events. A rule a correlation references
prints its own matches only with generate: true. Events more than
--lateness behind the latest time seen are reported and left out.
`

type dirs []string

func (d *dirs) String() string     { return strings.Join(*d, ",") }
func (d *dirs) Set(v string) error { *d = append(*d, v); return nil }

// Main runs `kuzet sigma` with args (after "sigma").
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "kuzet sigma: internal error: %v\n", r)
			code = 1
		}
	}()
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("kuzet sigma "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var rules dirs
	fs.Var(&rules, "rules", "rule directory or file (repeatable)")
	pipes := fs.String("pipelines", "", "Sigma processing pipelines directory (default: the built-in ones)")
	events := fs.String("events", "", "events file, - for standard input (scan)")
	noGating := fs.Bool("no-logsource-gating", false, "run every rule on every event (scan)")
	timeField := fs.String("time-field", "", "the field holding each event's time, for correlations (scan)")
	lateness := fs.Duration("lateness", time.Minute, "how far out of time order an event may be and still count in correlations (scan)")
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(rules) == 0 || (cmd != "check" && cmd != "scan") || (cmd == "scan" && *events == "") {
		fs.Usage()
		return 2
	}
	var ps []*sigma.Pipeline
	var err error
	if *pipes != "" {
		ps, err = sigma.LoadPipelines(os.DirFS(*pipes))
	} else {
		ps, err = sigma.DefaultPipelines()
	}
	if err != nil {
		fmt.Fprintf(stderr, "kuzet sigma: pipelines: %v\n", err)
		return 2
	}
	for _, d := range rules {
		if _, err := os.Stat(d); err != nil {
			fmt.Fprintf(stderr, "kuzet sigma: %v\n", err)
			return 2
		}
	}
	rs, err := sigma.Load(sigma.Source{Paths: rules}, sigma.Options{Pipelines: ps, NoGating: *noGating})
	if err != nil {
		fmt.Fprintf(stderr, "kuzet sigma: %v\n", err)
		return 2
	}
	all, parseErrs, rejected, warnings, eng := rs.Parsed, rs.ParseErrors, rs.Rejected, rs.Warnings, rs.Engine
	if cmd == "check" {
		return check(stdout, all, parseErrs, rejected, warnings)
	}
	for _, e := range parseErrs {
		fmt.Fprintf(stderr, "rejected %v\n", e)
	}
	for _, r := range rejected {
		fmt.Fprintf(stderr, "rejected %s: %v\n", r.File, r.Err)
	}
	set, crej := correlate.Compile(all)
	for _, r := range crej {
		fmt.Fprintf(stderr, "rejected %s: %v\n", r.File, r.Err)
	}
	sc := &scanner{eng: eng, set: set, timeField: *timeField,
		corr:     correlate.NewEngine(set, correlate.Options{Lateness: *lateness, NoLateness: *lateness == 0, MaxEventIDs: 100000}),
		episodes: map[string][]int{}, rejected: map[string]int{}}
	return sc.scan(*events, stdin, stdout, stderr)
}

func check(w io.Writer, all []*sigma.Rule, parseErrs []error, rejected []sigma.Rejected, warnings []string) int {
	code := 0
	compiled := 0
	for _, r := range all {
		if r.Detection != nil || r.Correlation != nil {
			compiled++
		}
	}
	compiled -= len(rejected)
	_, crej := correlate.Compile(all)
	compiled -= len(crej)
	rejected = append(rejected, crej...)
	for _, e := range parseErrs {
		var pe *sigma.ParseError
		if !errors.As(e, &pe) {
			code = 1 // I/O and other unexpected failures
		}
		fmt.Fprintf(w, "rejected %v\n", e)
	}
	for _, r := range rejected {
		fmt.Fprintf(w, "rejected %s: %v\n", r.File, r.Err)
	}
	for _, wn := range warnings {
		fmt.Fprintf(w, "warning %s\n", wn)
	}
	fmt.Fprintf(w, "compiled %d, rejected %d\n", compiled, len(parseErrs)+len(rejected))
	return code
}

type match struct {
	RuleID string `json:"rule_id"`
	Title  string `json:"title"`
	Level  string `json:"level"`
	Event  int    `json:"event"`
}

type window struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

type episodeLine struct {
	RuleID      string            `json:"rule_id"`
	Title       string            `json:"title"`
	Level       string            `json:"level"`
	Correlation bool              `json:"correlation"`
	Group       map[string]string `json:"group"`
	Window      window            `json:"window"`
	Events      []int             `json:"events"`
}

type scanner struct {
	eng       *sigma.Engine
	set       *correlate.Set
	corr      *correlate.Engine
	timeField string
	// episodes maps an alert id to the event indexes behind it, so that a
	// chained correlation's events are the events, not alert ids.
	episodes map[string][]int
	rejected map[string]int
	enc      *json.Encoder
}

func (sc *scanner) scan(path string, stdin io.Reader, stdout, stderr io.Writer) int {
	in := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintf(stderr, "kuzet sigma: %v\n", err)
			return 2
		}
		defer f.Close()
		in = f
	}
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	sc.enc = json.NewEncoder(out)
	sc.enc.SetEscapeHTML(false)
	enc := sc.enc
	dec := json.NewDecoder(bufio.NewReaderSize(in, 1<<20))
	dec.UseNumber()
	for n := 0; ; n++ {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			out.Flush()
			fmt.Fprintf(stderr, "kuzet sigma: event %d: %v\n", n, err)
			return 1
		}
		var at time.Time
		var atErr error
		if len(sc.set.Correlations()) > 0 {
			at, atErr = eventTime(doc, sc.timeField)
		}
		ev := sigma.Event(sigma.MapEvent(doc))
		if _, ok := doc["kuzet"].(map[string]any); ok {
			// A normalised event (kuzet parse): looked up as the ncc does.
			ev = sigma.NestedEvent{Doc: doc, Namespace: event.DocNamespace(doc)}
		} else if _, ok := doc["Event"]; ok {
			flat, _, err := winevent.Flatten(doc)
			if err != nil {
				fmt.Fprintf(stderr, "kuzet sigma: event %d: %v\n", n, err)
				continue
			}
			ev = sigma.MapEvent(flat)
		}
		sc.eng.Match(ev, func(r *sigma.CompiledRule) {
			id := r.ID()
			if sc.set.Generates(id) {
				_ = enc.Encode(match{RuleID: id, Title: r.Rule.Title, Level: r.Rule.Level, Event: n})
			}
			for _, c := range sc.set.Feeds(id) {
				if atErr != nil {
					sc.reject(stderr, n, c.ID, "no_time", atErr)
					continue
				}
				sig, err := c.Signal(id, strconv.Itoa(n), at, correlate.EventFields(ev), correlate.Share{})
				if err != nil {
					var se *correlate.SignalError
					errors.As(err, &se)
					sc.reject(stderr, n, c.ID, se.Reason, err)
					continue
				}
				us, err := sc.corr.Apply(sig)
				sc.updates(us, false)
				if err != nil {
					reason := "invalid"
					var se *correlate.SignalError
					if errors.As(err, &se) {
						reason = se.Reason
					}
					sc.reject(stderr, n, c.ID, reason, err)
				}
			}
		})
	}
	sc.updates(sc.corr.Episodes(), true)
	if len(sc.rejected) > 0 {
		var parts []string
		for r, k := range sc.rejected {
			parts = append(parts, fmt.Sprintf("%s %d", r, k))
		}
		sort.Strings(parts)
		fmt.Fprintf(stderr, "kuzet sigma: correlation signals left out: %s\n", strings.Join(parts, ", "))
	}
	return 0
}

func (sc *scanner) reject(w io.Writer, n int, corr, reason string, err error) {
	sc.rejected[reason]++
	fmt.Fprintf(w, "kuzet sigma: event %d: correlation %s: %v\n", n, corr, err)
}

// updates records episodes and prints those that end (or, at the end of
// the events, are still open) and generate alerts.
func (sc *scanner) updates(us []correlate.Update, final bool) {
	for _, u := range us {
		var evs []int
		for _, id := range u.EventIDs {
			if n, err := strconv.Atoi(id); err == nil {
				evs = append(evs, n)
			} else {
				evs = append(evs, sc.episodes[id]...) // a chained episode
			}
		}
		slices.Sort(evs)
		evs = slices.Compact(evs)
		sc.episodes[u.AlertID.String()] = evs
		if u.Status != correlate.StatusClosed && !final {
			continue
		}
		if !sc.set.Generates(u.Rule) {
			continue
		}
		c := sc.set.Correlation(u.Rule)
		line := episodeLine{RuleID: u.Rule, Title: c.Rule.Title, Level: c.Rule.Level, Correlation: true, Group: map[string]string{},
			Window: window{u.WindowStart.Format(time.RFC3339Nano), u.WindowEnd.Format(time.RFC3339Nano)}, Events: evs}
		for i, g := range u.GroupBy {
			line.Group[g] = u.Group[i]
		}
		_ = sc.enc.Encode(line)
	}
}

// eventTime returns an event's own time: from field (a top-level key or a
// dotted path) when given, else @timestamp, evtx_dump's
// Event.System.TimeCreated.#attributes.SystemTime, the flat
// TimeCreated_SystemTime, or Zeek's ts.
func eventTime(doc map[string]any, field string) (time.Time, error) {
	if field != "" {
		v, ok := lookup(doc, field)
		if !ok {
			return time.Time{}, fmt.Errorf("no time field %q", field)
		}
		return parseTime(v)
	}
	for _, f := range []string{"@timestamp", "Event.System.TimeCreated.#attributes.SystemTime", "TimeCreated_SystemTime", "ts"} {
		if v, ok := lookup(doc, f); ok {
			return parseTime(v)
		}
	}
	return time.Time{}, errors.New("no event time (@timestamp, Event.System.TimeCreated, TimeCreated_SystemTime, ts; or --time-field)")
}

// lookup finds a key, else a dotted path through nested objects.
func lookup(doc map[string]any, path string) (any, bool) {
	if v, ok := doc[path]; ok {
		return v, true
	}
	var cur any = doc
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// timeLayouts are the accepted time strings; those without a zone are UTC.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00"}

// parseTime reads RFC 3339 and zone-less UTC times, and numbers as Unix
// seconds (Zeek's ts).
func parseTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case string:
		for _, l := range timeLayouts {
			if t, err := time.Parse(l, x); err == nil {
				return t.UTC(), nil
			}
		}
		if f, err := strconv.ParseFloat(x, 64); err == nil {
			return unixSeconds(f), nil
		}
		return time.Time{}, fmt.Errorf("event time %q: not RFC 3339, 2006-01-02 15:04:05.999999 or Unix seconds", x)
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return time.Time{}, fmt.Errorf("event time %s: %w", x, err)
		}
		return unixSeconds(f), nil
	case float64:
		return unixSeconds(x), nil
	}
	return time.Time{}, fmt.Errorf("event time %v: not a string or a number", v)
}

func unixSeconds(f float64) time.Time {
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e6+0.5)*1e3).UTC()
}
