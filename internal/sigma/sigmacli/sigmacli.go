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
	"strings"

	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/ingest/winevent"
	"github.com/kuzet-kz/kuzet/internal/sigma"
)

const usage = `usage:
  kuzet sigma check --rules DIR [--rules DIR ...]
  kuzet sigma scan  --rules DIR [--rules DIR ...] --events FILE|-

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
	return scan(eng, *events, stdin, stdout, stderr)
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

func scan(eng *sigma.Engine, path string, stdin io.Reader, stdout, stderr io.Writer) int {
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
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	dec := json.NewDecoder(bufio.NewReaderSize(in, 1<<20))
	dec.UseNumber()
	for n := 0; ; n++ {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return 0
		}
		if err != nil {
			out.Flush()
			fmt.Fprintf(stderr, "kuzet sigma: event %d: %v\n", n, err)
			return 1
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
		eng.Match(ev, func(r *sigma.CompiledRule) {
			_ = enc.Encode(match{RuleID: r.ID(), Title: r.Rule.Title, Level: r.Rule.Level, Event: n})
		})
	}
}
