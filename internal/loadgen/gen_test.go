package loadgen

import (
	"bytes"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/ingest"
	"github.com/kuzet-kz/kuzet/internal/pipeline"
	"github.com/kuzet-kz/kuzet/internal/registry"
)

// TestRecordsNormalise sends every kind's records through the pipeline of
// its input: none is rejected, each keeps its marker in event.original, and
// most belong to a registry object (enrichment has work to do).
func TestRecordsNormalise(t *testing.T) {
	reg, err := registry.LoadFile(filepath.Join(conformance.ModuleRoot(t), "configs", "registry.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	set, err := pipeline.Default()
	if err != nil {
		t.Fatal(err)
	}
	inputs := map[string]bool{InputSyslog: true, InputWinevent: true, InputZeek: true, InputSuricata: true}
	for _, oisc := range []string{"oisc-almaty", "oisc-astana"} {
		match := registry.NewMatcher(reg, oisc)
		for _, kind := range Kinds() {
			mix := DefaultMix()
			mix.Kinds = map[string]float64{kind: 1}
			g, err := newGenerator(1, "t1", mix, assetsOf(reg, oisc, rand.New(rand.NewPCG(1, 2))), inputs)
			if err != nil {
				t.Fatal(err)
			}
			st, err := set.NewStream(InputFor(kind), pipeline.StreamOptions{})
			if err != nil {
				t.Fatal(err)
			}
			matched := 0
			const n = 50
			for seq := uint64(1); seq <= n; seq++ {
				r := g.next(seq, time.Now())
				m := Marker("t1", seq)
				if r.kind != kind || !bytes.Contains(r.data, []byte(m)) {
					t.Fatalf("%s: record %d has no marker %s: %s", kind, seq, m, r.data)
				}
				got := 0
				err := st.Push(ingest.Record{Data: r.data, ReceivedAt: time.Now()}, func(ev *event.Event) error {
					got++
					if !strings.Contains(ev.Event.Original, m) {
						t.Errorf("%s: event.original %q lacks %s", kind, ev.Event.Original, m)
					}
					if ev.Event.Kind == "pipeline_error" {
						t.Errorf("%s: pipeline error for %s", kind, r.data)
					}
					if match.Match(ev) != nil {
						matched++
					}
					return nil
				})
				if err != nil || got != 1 {
					t.Fatalf("%s: %d events, err %v, for %s", kind, got, err, r.data)
				}
			}
			if matched < n/2 {
				t.Errorf("%s %s: %d of %d events matched a registry object", oisc, kind, matched, n)
			}
		}
	}
}

func TestMix(t *testing.T) {
	m := DefaultMix()
	for _, k := range Kinds() {
		if m.Kinds[k] <= 0 {
			t.Errorf("default mix: no %s", k)
		}
	}
	for _, tc := range []struct{ yaml, want string }{
		{"kinds: {sshd_failed_5424: 1, telnet: 2}", "kinds.telnet: unknown kind"},
		{"kinds: {sshd_failed_5424: -1}", "negative"},
		{"kinds: {}", "no kind has a positive weight"},
		{"kinds: {sudo_3164: 1}\nattack: {share: 2}", "attack.share"},
		{"kinds: {sudo_3164: 1}\nextra: 1", "field extra not found"},
	} {
		_, err := ParseMix([]byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.yaml, err, tc.want)
		}
	}
	if _, err := ParseTarget("oisc-astana:syslog=127.0.0.1:1,winevent=127.0.0.1:2"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"oisc-astana", "oisc-astana:telnet=127.0.0.1:1", "oisc-astana:syslog=nohost"} {
		if _, err := ParseTarget(bad); err == nil {
			t.Errorf("ParseTarget(%q): no error", bad)
		}
	}
}
