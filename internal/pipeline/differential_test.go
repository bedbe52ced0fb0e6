package pipeline_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/ingest"
	"github.com/kuzet-kz/kuzet/internal/pipeline"
)

var (
	updateDifferential = flag.Bool("update-differential", false, "rewrite testdata/differential.sha256 from the current code")
	dumpDifferential   = flag.String("dump-differential", "", "write each corpus's full output to this directory (to diff two versions)")
)

// TestDifferential pins exactly what every pipeline makes of a large corpus
// (Elastic's fixtures, SigmaHQ's regression events, the Zeek logs, the
// examples, the benchmark samples and truncations of them): the events as
// JSON, the Go types of their namespace values, and every rejection's
// reason and message. testdata/differential.sha256 holds one digest per
// corpus, written by the code before an optimisation; a restructured
// parser or step must give the same documents, bit for bit. To see what
// differs, run with -dump-differential=DIR before and after and diff.
func TestDifferential(t *testing.T) {
	set, err := pipeline.Default()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	var names []string
	add := func(corpus string, out *bytes.Buffer, n int) {
		sum := sha256.Sum256(out.Bytes())
		got[corpus] = fmt.Sprintf("%d %s", n, hex.EncodeToString(sum[:]))
		names = append(names, corpus)
		if *dumpDifferential != "" {
			if err := os.MkdirAll(*dumpDifferential, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(*dumpDifferential, strings.ReplaceAll(corpus, "/", "_")), out.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	at := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	run := func(out *bytes.Buffer, name string, data []byte) {
		st, err := set.NewStream(name, pipeline.StreamOptions{Now: func() time.Time { return at }, MaxRecord: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		emit := func(ev *event.Event) error { dumpEvent(out, ev); return nil }
		lines := [][]byte{data}
		if st.Joining() {
			lines = bytes.Split(data, []byte("\n"))
		}
		for _, l := range lines {
			if err := st.Push(ingest.Record{Data: l, Input: "diff", ReceivedAt: at}, emit); err != nil {
				fmt.Fprintf(out, "error %s: %v\n", ingest.ReasonOf(err), err)
			}
		}
		if err := st.Flush(emit); err != nil {
			fmt.Fprintf(out, "error %s: %v\n", ingest.ReasonOf(err), err)
		}
	}

	// The examples and the benchmark samples, whole and cut short.
	for _, name := range set.Names() {
		var out bytes.Buffer
		n := 0
		inputs := []string{samples[name]}
		for _, ex := range set.Spec(name).Tests {
			inputs = append(inputs, ex.Input)
		}
		for _, in := range inputs {
			for _, cut := range []int{len(in), len(in) - 1, len(in) - 2, len(in) * 3 / 4, len(in) / 2, len(in) / 4, 1} {
				if cut > 0 && cut <= len(in) {
					run(&out, name, []byte(in[:cut]))
					n++
				}
			}
		}
		add("examples/"+name, &out, n)
	}

	root := conformance.Path(t, "elastic-integrations")
	for _, p := range elasticPairs {
		var out bytes.Buffer
		_, raws := elasticRecords(t, root, p)
		for _, raw := range raws {
			ev, err := runElastic(set, p, raw)
			if err != nil {
				fmt.Fprintf(&out, "error %s: %v\n", ingest.ReasonOf(err), err)
				continue
			}
			dumpEvent(&out, ev)
		}
		add("elastic/"+p.dir+"/"+p.input, &out, len(raws))
	}

	// SigmaHQ's regression events, every one in every file.
	{
		var out bytes.Buffer
		n := 0
		for _, f := range conformance.RegressionFiles(t) {
			for _, m := range conformance.JSONValues(t, f) {
				run(&out, "winevent", compact(t, m))
				n++
			}
		}
		add("sigmahq/regression_data", &out, n)
	}

	// The Zeek logs: the first 2,000 records of each.
	zfiles, _ := filepath.Glob(filepath.Join(conformance.Path(t, "zeek"), "*.json.gz"))
	for _, f := range zfiles {
		var out bytes.Buffer
		n := 0
		conformance.GzipLines(t, f, func(line []byte) bool {
			run(&out, "zeek", append([]byte(nil), line...))
			// The same record as Suricata and NDJSON read it: other steps.
			run(&out, "ndjson", append([]byte(nil), line...))
			n++
			return n < 2000
		})
		add("zeek/"+filepath.Base(f), &out, n)
	}

	if *updateDifferential {
		var b strings.Builder
		for _, c := range names {
			fmt.Fprintf(&b, "%s %s\n", c, got[c])
		}
		if err := os.WriteFile("testdata/differential.sha256", []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	data, err := os.ReadFile("testdata/differential.sha256")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		c, rest, _ := strings.Cut(l, " ")
		want[c] = rest
	}
	for _, c := range names {
		if want[c] != got[c] {
			t.Errorf("%s: output %s, want %s", c, got[c], want[c])
		}
	}
	if len(want) != len(names) {
		t.Errorf("%d corpora, the golden file has %d", len(names), len(want))
	}
}

// dumpEvent writes an event as JSON and the Go types of its namespace and
// label values (JSON alone does not tell int64 from float64).
func dumpEvent(out *bytes.Buffer, ev *event.Event) {
	b, err := event.Marshal(ev)
	if err != nil {
		fmt.Fprintf(out, "marshal error: %v\n", err)
	}
	out.Write(b)
	for _, ns := range event.Namespaces {
		m := ev.Namespace(ns)
		if m == nil {
			continue
		}
		fmt.Fprintf(out, "%s:", ns)
		dumpTypes(out, m)
		out.WriteByte('\n')
	}
}

func dumpTypes(out *bytes.Buffer, v any) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		out.WriteByte('{')
		for _, k := range keys {
			fmt.Fprintf(out, "%q:", k)
			dumpTypes(out, x[k])
			out.WriteByte(',')
		}
		out.WriteByte('}')
	case []any:
		out.WriteByte('[')
		for _, e := range x {
			dumpTypes(out, e)
			out.WriteByte(',')
		}
		out.WriteByte(']')
	default:
		fmt.Fprintf(out, "%s(%v)", reflect.TypeOf(v), v)
	}
}
