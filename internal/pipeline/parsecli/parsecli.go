// Package parsecli is `kuzet parse`: it runs one normalisation pipeline over
// raw records and prints each normalised event as one JSON line, the tool
// people use to write and debug pipelines (as wazuh-logtest is for Wazuh
// decoders).
package parsecli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"time"

	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/ingest"
	"github.com/kuzet-kz/kuzet/internal/pipeline"
	"github.com/kuzet-kz/kuzet/internal/registry"
)

const usage = `usage: kuzet parse --pipeline NAME [flags] [FILE|-]

Runs one normalisation pipeline over raw records (one per line, NDJSON, or
for JSON pipelines also pretty-printed objects one after another) and prints
each normalised event as one JSON line. A rejected record goes to stderr as
"line N: <reason>: <detail>" and parsing goes on.

  kuzet parse --test [--pipeline NAME]   runs the tests written in the pipelines
  kuzet parse --explain --pipeline NAME  after each event, lists every field
                                         with the parser or step that set it

Exit status: 0 when every record was normalised (or every test passed), 1
when some were rejected (or failed), 2 on a usage error.

flags:
`

// Main runs the command with args (after "kuzet parse").
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kuzet parse", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("pipeline", "", "pipeline name (pipelines/<name>.yaml)")
	dir := fs.String("pipelines", "", "load pipelines from this directory instead of the built-in ones")
	regFile := fs.String("registry", "", "registry YAML to enrich events with (org, object, sector)")
	oisc := fs.String("oisc", "", "OISC whose objects to match (default: every OISC)")
	zone := fs.String("zone", "Asia/Almaty", "time zone of timestamps that carry none (the input's zone; a registry object's zone wins)")
	test := fs.Bool("test", false, "run the pipelines' own tests instead of parsing")
	pretty := fs.Bool("pretty", false, "indent the JSON output")
	explain := fs.Bool("explain", false, "after each event, list each field and the parser or step (file:line) that set it")
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var set *pipeline.Set
	var err error
	if *dir != "" {
		set, err = pipeline.Load(os.DirFS(*dir))
	} else {
		set, err = pipeline.Default()
	}
	if err != nil {
		fmt.Fprintf(stderr, "kuzet parse: %v\n", err)
		return 2
	}
	if *test {
		return runTests(set, *name, stdout, stderr)
	}
	if *name == "" || fs.NArg() > 1 {
		fs.Usage()
		return 2
	}
	loc, err := time.LoadLocation(*zone)
	if err != nil {
		fmt.Fprintf(stderr, "kuzet parse: -zone: %v\n", err)
		return 2
	}
	var matcher *registry.Matcher
	if *regFile != "" {
		reg, err := registry.LoadFile(*regFile)
		if err != nil {
			fmt.Fprintf(stderr, "kuzet parse: %v\n", err)
			return 2
		}
		matcher = registry.NewMatcher(reg, *oisc)
	}
	var origins []pipeline.Origin
	opts := pipeline.StreamOptions{Location: loc, MaxRecord: 1 << 20}
	if matcher != nil {
		// As in the collector: the registry object's zone wins over -zone.
		opts.DeviceZone = matcher.Zone
	}
	if *explain {
		opts.Explain = func(_ *event.Event, o []pipeline.Origin) { origins = o }
	}
	st, err := set.NewStream(*name, opts)
	if err != nil {
		fmt.Fprintf(stderr, "kuzet parse: %v\n", err)
		return 2
	}
	in := stdin
	src := "-"
	if fs.NArg() == 1 && fs.Arg(0) != "-" {
		f, err := os.Open(fs.Arg(0))
		if err != nil {
			fmt.Fprintf(stderr, "kuzet parse: %v\n", err)
			return 2
		}
		defer f.Close()
		in, src = f, fs.Arg(0)
	}
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	coll := "parse"
	stampOISC := *oisc
	if stampOISC == "" {
		stampOISC = "local"
	}
	emitted, rejected := 0, 0
	emit := func(ev *event.Event) error {
		if err := event.Stamp(ev, time.Now(), coll, stampOISC, "parse"); err != nil {
			return err
		}
		if matcher != nil {
			matcher.Enrich(ev)
		}
		if err := ev.Validate(); err != nil {
			return &ingest.Error{Reason: ingest.ReasonInvalid, Offset: -1, Err: err}
		}
		var data []byte
		if *pretty {
			data, err = json.MarshalIndent(ev, "", "  ")
		} else {
			data, err = event.Marshal(ev)
		}
		if err != nil {
			return err
		}
		out.Write(data)
		out.WriteByte('\n')
		if *explain {
			writeExplain(out, ev, origins)
		}
		emitted++
		return nil
	}
	jsonish := set.Spec(*name).Parser == "json" || set.Spec(*name).Parser == "winevent"
	err = records(in, jsonish, func(line int, data []byte) {
		rec := ingest.Record{Data: data, Input: "parse", File: src, ReceivedAt: time.Now()}
		if err := st.Push(rec, emit); err != nil {
			rejected++
			out.Flush()
			fmt.Fprintf(stderr, "line %d: %s: %v\n", line, ingest.ReasonOf(err), detail(err))
		}
	})
	if ferr := st.Flush(emit); ferr != nil {
		rejected++
		fmt.Fprintf(stderr, "end: %s: %v\n", ingest.ReasonOf(ferr), detail(ferr))
	}
	if err != nil {
		fmt.Fprintf(stderr, "kuzet parse: reading %s: %v\n", src, err)
		return 2
	}
	out.Flush()
	fmt.Fprintf(stderr, "%d events, %d rejected\n", emitted, rejected)
	if rejected > 0 {
		return 1
	}
	return 0
}

// writeExplain prints each field of ev with its value and origin; the
// fields the collector stamps after the pipeline say so.
func writeExplain(w io.Writer, ev *event.Event, origins []pipeline.Origin) {
	by := map[string]pipeline.Origin{}
	width := 0
	for _, o := range origins {
		by[o.Field] = o
	}
	data, _ := event.Marshal(ev)
	var doc map[string]any
	_ = json.Unmarshal(data, &doc)
	final := map[string]string{}
	flatInto(final, "", doc)
	fields := make([]string, 0, len(final))
	for f := range final {
		fields = append(fields, f)
		width = max(width, len(f))
	}
	sort.Strings(fields)
	for _, f := range fields {
		who := "collector (stamp, registry)"
		if o, ok := by[f]; ok && o.Value == final[f] && o.By != "" {
			who = o.By
		}
		val := final[f]
		if len(val) > 60 {
			val = val[:57] + "..."
		}
		fmt.Fprintf(w, "  %-*s = %-40s %s\n", width, f, val, who)
	}
	fmt.Fprintln(w)
}

// flatInto flattens a decoded event as pipeline.Origin names its fields.
func flatInto(out map[string]string, prefix string, m map[string]any) {
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok && !(prefix == "" && slices.Contains(event.Namespaces, k)) {
			flatInto(out, prefix+k+".", sub)
			continue
		}
		if sub, ok := v.(map[string]any); ok {
			for nk, nv := range sub {
				out[k+"."+nk] = pipeline.JSONText(nv)
			}
			continue
		}
		out[prefix+k] = pipeline.JSONText(v)
	}
}

func detail(err error) error {
	var ie *ingest.Error
	if errors.As(err, &ie) {
		return ie.Err
	}
	return err
}

// records calls fn for each record of r: lines, or for JSON pipelines whole
// objects that may span lines (pretty-printed evtx_dump output).
func records(r io.Reader, jsonish bool, fn func(line int, data []byte)) error {
	br := bufio.NewReaderSize(r, 1<<20)
	if jsonish {
		if first, err := br.Peek(1); err == nil {
			// Skip leading white space to see whether objects span lines.
			lead, _ := br.Peek(min(br.Buffered(), 4096))
			trimmed := bytes.TrimLeft(lead, " \t\r\n")
			if len(trimmed) > 0 && trimmed[0] == '{' && multiline(trimmed) {
				return objects(br, fn)
			}
			_ = first
		}
	}
	line := 0
	for {
		data, err := br.ReadBytes('\n')
		if len(data) > 0 {
			line++
			data = bytes.TrimRight(data, "\r\n")
			if len(bytes.TrimSpace(data)) > 0 {
				fn(line, data)
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// multiline reports whether the first object does not end on its line.
func multiline(b []byte) bool {
	nl := bytes.IndexByte(b, '\n')
	if nl < 0 {
		return false
	}
	return !json.Valid(bytes.TrimSpace(b[:nl]))
}

func objects(r io.Reader, fn func(line int, data []byte)) error {
	dec := json.NewDecoder(r)
	for n := 1; ; n++ {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			fn(n, []byte("invalid JSON: "+err.Error()))
			return nil
		}
		var b bytes.Buffer
		_ = json.Compact(&b, raw)
		fn(n, b.Bytes())
	}
}

func runTests(set *pipeline.Set, only string, stdout, stderr io.Writer) int {
	names := set.Names()
	if only != "" {
		if set.Spec(only) == nil {
			fmt.Fprintf(stderr, "kuzet parse: unknown pipeline %q\n", only)
			return 2
		}
		names = []string{only}
	}
	failed := 0
	for _, n := range names {
		fails := set.RunExamples(n)
		if len(fails) == 0 {
			fmt.Fprintf(stdout, "ok   %s (%d tests)\n", n, len(set.Spec(n).Tests))
			continue
		}
		failed++
		fmt.Fprintf(stdout, "FAIL %s\n", n)
		for _, f := range fails {
			fmt.Fprintf(stdout, "     %s\n", f)
		}
	}
	if failed > 0 {
		return 1
	}
	return 0
}
