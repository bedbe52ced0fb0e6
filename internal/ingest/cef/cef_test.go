package cef_test

import (
	"strings"
	"testing"

	"github.com/kuzet-kz/kuzet/internal/ingest"
	"github.com/kuzet-kz/kuzet/internal/ingest/cef"
)

func ext(r cef.Record) map[string]string {
	m := map[string]string{}
	for _, kv := range r.Extension {
		m[kv.Key] = kv.Value
	}
	return m
}

// The examples of "Implementing ArcSight Common Event Format (CEF)".
func TestGuideExamples(t *testing.T) {
	for _, c := range []struct {
		in   string
		name string
		ext  map[string]string
	}{
		{"CEF:0|Security|threatmanager|1.0|100|worm successfully stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=1232",
			"worm successfully stopped", map[string]string{"src": "10.0.0.1", "dst": "2.1.2.2", "spt": "1232"}},
		{`CEF:0|security|threatmanager|1.0|100|detected a \| in message|10|src=10.0.0.1 act=blocked a | dst=1.1.1.1`,
			"detected a | in message", map[string]string{"src": "10.0.0.1", "act": "blocked a |", "dst": "1.1.1.1"}},
		{`CEF:0|security|threatmanager|1.0|100|detected a \\ in packet|10|src=10.0.0.1 act=blocked a \\ dst=1.1.1.1`,
			`detected a \ in packet`, map[string]string{"act": `blocked a \`, "dst": "1.1.1.1"}},
		{`CEF:0|security|threatmanager|1.0|100|detected a = in message|10|src=10.0.0.1 act=blocked a \= dst=1.1.1.1`,
			"detected a = in message", map[string]string{"act": "blocked a =", "dst": "1.1.1.1"}},
		{`CEF:0|security|threatmanager|1.0|100|detected a \n in message|10|src=10.0.0.1 msg=Detected a threat.\n No action needed.`,
			`detected a \n in message`, map[string]string{"msg": "Detected a threat.\n No action needed."}},
		{"CEF:0|ArcSight|Logger|5.0.0.5355.2|sensor:115|Logger Internal Event|1|cat=/Monitor/Sensor/Fan5 cs2=Current Value cnt=1 dvc=10.0.0.1 cs3=Ok cs1=null type=0 cs1Label=unit rt=1305034099211 cs3Label=Status cn1Label=value cs2Label=timeframe",
			"Logger Internal Event", map[string]string{"cs2": "Current Value", "cat": "/Monitor/Sensor/Fan5", "timeframe": "Current Value",
				"Status": "Ok", "unit": "null", "rt": "1305034099211"}},
	} {
		r, err := cef.Parse(c.in)
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if r.Name != c.name || r.Version != "0" {
			t.Errorf("%q: name %q", c.in, r.Name)
		}
		got := ext(r)
		for k, v := range c.ext {
			if got[k] != v {
				t.Errorf("%q: %s = %q, want %q", c.in, k, got[k], v)
			}
		}
	}
}

func TestSeverityAndIndex(t *testing.T) {
	for sev, want := range map[string]int{"0": 0, "10": 10, "7": 7, "Low": 0, "Medium": 4, "High": 7, "Very-High": 9, "11": -1, "x": -1, "": -1} {
		r := cef.Record{Severity: sev}
		if got := r.SeverityNumber(); got != want {
			t.Errorf("severity %q = %d, want %d", sev, got, want)
		}
	}
	if i := cef.Index("<13>Sep 19 08:26:10 host CEF:0|a|b|c|d|e|1|"); i != 25 {
		t.Errorf("Index = %d", i)
	}
	if i := cef.Index("xCEF:0|"); i != -1 {
		t.Errorf("Index inside a word = %d", i)
	}
}

func TestMalformed(t *testing.T) {
	for in, reason := range map[string]string{
		"CEF:0|a|b|c":             ingest.ReasonTruncated,
		"LEEF:1.0|a|b|c|d|":       ingest.ReasonSyntax,
		"CEF:|a|b|c|d|e|5|x=1":    ingest.ReasonSyntax,
		"CEF:0|a|b|c|d|e|5|=oops": ingest.ReasonSyntax,
		"CEF:0|a|b|c|d|e|5|no eq": ingest.ReasonSyntax,
		"CEF:0|a\\|b|c|d|e|5":     ingest.ReasonTruncated,
	} {
		if _, err := cef.Parse(in); err == nil || ingest.ReasonOf(err) != reason {
			t.Errorf("Parse(%q) = %v, want %s", in, err, reason)
		}
	}
	r, err := cef.Parse("CEF:0|a|b|c|d|e|5|")
	if err != nil || len(r.Extension) != 0 {
		t.Errorf("empty extension: %v %+v", err, r)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"CEF:0|Security|threatmanager|1.0|100|worm successfully stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=1232",
		`CEF:0|security|threatmanager|1.0|100|detected a \| in message|10|src=10.0.0.1 act=blocked a \= dst=1.1.1.1`,
		"CEF:1|V|P|1|s|n|Low|cs1=x cs1Label=y msg=a\\nb",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := cef.Parse(s)
		if err != nil {
			if ingest.ReasonOf(err) == "" {
				t.Fatal("no reason")
			}
			return
		}
		for _, kv := range r.Extension {
			if kv.Key == "" {
				t.Fatalf("empty key in %q", s)
			}
		}
		if strings.Count(s, "|") < 7 {
			t.Fatalf("accepted a header with fewer than 7 pipes: %q", s)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	s := "CEF:0|OISF|Suricata|7.0.3|2024897|ET SCAN Nmap Scripting Engine User-Agent Detected|6|src=45.155.205.233 spt=52114 dst=10.10.4.21 dpt=443 proto=TCP act=alert cs1Label=flow_id cs1=1234567 request=/index.php?id=1 requestClientApplication=Mozilla/5.0 (compatible; Nmap Scripting Engine)"
	b.ReportAllocs()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if _, err := cef.Parse(s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
