package leef_test

import (
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/ingest"
	"github.com/kuzet-kz/kuzet/internal/ingest/leef"
)

// The examples of IBM's LEEF documentation.
func TestDocExamples(t *testing.T) {
	for _, c := range []struct {
		in      string
		version string
		delim   byte
		attrs   map[string]string
	}{
		{"LEEF:1.0|Microsoft|MSExchange|4.0 SP1|15345|src=192.0.2.0\tdst=172.50.123.1\tsev=5\tcat=anomaly\tsrcPort=81\tdstPort=21\tusrName=joe.black",
			"1.0", '\t', map[string]string{"src": "192.0.2.0", "dst": "172.50.123.1", "usrName": "joe.black", "sev": "5"}},
		{"LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=192.0.2.0^dst=172.50.123.1^sev=5^cat=anomaly^srcPort=81^dstPort=21^usrName=joe.black",
			"2.0", '^', map[string]string{"src": "192.0.2.0", "dstPort": "21", "usrName": "joe.black"}},
		{"LEEF:2.0|Lancope|StealthWatch|1.0|41|0x5e|src=192.0.2.0^dst=172.50.123.1",
			"2.0", '^', map[string]string{"dst": "172.50.123.1"}},
		{"LEEF:2.0|Vendor|Product|1.0|ID|x09|src=10.0.0.1\tdst=10.0.0.2\tmsg=a=b c",
			"2.0", '\t', map[string]string{"dst": "10.0.0.2", "msg": "a=b c"}},
		{"LEEF:2.0|V|P|1|ID||a=1\tb=2", "2.0", '\t', map[string]string{"a": "1", "b": "2"}},
		{`LEEF:2.0|V\|x|P|1|ID|,|a=1\,5,b=2`, "2.0", ',', map[string]string{"a": "1,5", "b": "2"}},
	} {
		r, err := leef.Parse(c.in)
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if r.Version != c.version || r.Delimiter != c.delim {
			t.Errorf("%q: version %q delimiter %q", c.in, r.Version, r.Delimiter)
		}
		for k, v := range c.attrs {
			if got, _ := r.Get(k); got != v {
				t.Errorf("%q: %s = %q, want %q", c.in, k, got, v)
			}
		}
	}
	r, _ := leef.Parse(`LEEF:2.0|V\|x|P|1|ID|,|a=1`)
	if r.Vendor != "V|x" {
		t.Errorf("escaped pipe in header: %q", r.Vendor)
	}
}

func TestDevTime(t *testing.T) {
	loc := time.FixedZone("+05", 5*3600)
	for in, want := range map[string]struct {
		t     time.Time
		local bool
	}{
		"LEEF:1.0|V|P|1|E|devTime=Nov 24 2026 10:00:01\tdevTimeFormat=MMM dd yyyy HH:mm:ss":       {time.Date(2026, 11, 24, 10, 0, 1, 0, loc), true},
		"LEEF:1.0|V|P|1|E|devTime=2026-11-24 10:00:01.250\tdevTimeFormat=yyyy-MM-dd HH:mm:ss.SSS": {time.Date(2026, 11, 24, 10, 0, 1, 25e7, loc), true},
		"LEEF:1.0|V|P|1|E|devTime=2026-11-24 10:00:01 +0900\tdevTimeFormat=yyyy-MM-dd HH:mm:ss Z": {time.Date(2026, 11, 24, 1, 0, 1, 0, time.UTC), false},
		"LEEF:1.0|V|P|1|E|devTime=1795000000000":                                                  {time.UnixMilli(1795000000000), false},
		"LEEF:1.0|V|P|1|E|devTime=Nov 24 2026 10:00:01":                                           {time.Date(2026, 11, 24, 10, 0, 1, 0, loc), true},
		"LEEF:1.0|V|P|1|E|devTime=Nov 24 2026 10:00:01 UTC":                                       {time.Date(2026, 11, 24, 10, 0, 1, 0, time.UTC), false},
	} {
		r, err := leef.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		got, local, ok := r.DevTime(loc)
		if !ok || !got.Equal(want.t) || local != want.local {
			t.Errorf("%q: %v local=%v %v, want %v local=%v", in, got, local, ok, want.t, want.local)
		}
	}
	for layout, want := range map[string]bool{"2006-01-02 15:04:05": false, "Jan _2 15:04:05 MST": true, time.RFC3339: true,
		"2006-01-02T15:04:05-0700": true, "2006-01-02T15:04:05Z07": true, leef.JavaLayout("MMM dd yyyy HH:mm:ss zzz"): true} {
		if got := leef.LayoutHasZone(layout); got != want {
			t.Errorf("LayoutHasZone(%q) = %v, want %v", layout, got, want)
		}
	}
}

func TestMalformed(t *testing.T) {
	for in, reason := range map[string]string{
		"LEEF:1.0|a|b|c":           ingest.ReasonTruncated,
		"CEF:0|a|b|c|d|e|1|":       ingest.ReasonSyntax,
		"LEEF:3.0|a|b|c|d|x=1":     ingest.ReasonSyntax,
		"LEEF:2.0|a|b|c|d|xZZ|x=1": ingest.ReasonSyntax,
		"LEEF:1.0|a|b|c|d|novalue": ingest.ReasonSyntax,
		"LEEF:1.0|a|b|c|d|=v":      ingest.ReasonSyntax,
	} {
		if _, err := leef.Parse(in); err == nil || ingest.ReasonOf(err) != reason {
			t.Errorf("Parse(%q) = %v, want %s", in, err, reason)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"LEEF:1.0|Microsoft|MSExchange|4.0 SP1|15345|src=192.0.2.0\tdst=172.50.123.1\tsev=5",
		"LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=192.0.2.0^dst=172.50.123.1",
		"LEEF:2.0|V|P|1|ID|x09|a=1\tb=2", `LEEF:2.0|V\|x|P|1|ID|,|a=1\,5,b=2`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := leef.Parse(s)
		if err != nil {
			if ingest.ReasonOf(err) == "" {
				t.Fatal("no reason")
			}
			return
		}
		for _, kv := range r.Attrs {
			if kv.Key == "" {
				t.Fatalf("empty key from %q", s)
			}
		}
		r.DevTime(time.UTC)
	})
}

func BenchmarkParse(b *testing.B) {
	s := "LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=45.155.205.233^dst=10.10.4.21^sev=5^cat=anomaly^srcPort=52114^dstPort=443^usrName=joe.black^devTime=Nov 24 2026 10:00:01^proto=TCP"
	b.ReportAllocs()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if _, err := leef.Parse(s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// TestLEEF1Delimiters: LEEF 1.0 from devices that separate attributes with
// "|" or "^" instead of a tab (PAN-OS and others).
func TestLEEF1Delimiters(t *testing.T) {
	for _, c := range []struct {
		in    string
		delim byte
		attrs map[string]string
	}{
		{"LEEF:1.0|Palo Alto Networks|PAN-OS Syslog Integration|9.1.0|allow|cat=TRAFFIC|ReceiveTime=2026/11/24 10:00:01|src=10.0.0.1|dst=8.8.8.8|srcPort=52114|dstPort=53|proto=udp|usrName=corp\\alice",
			'|', map[string]string{"cat": "TRAFFIC", "src": "10.0.0.1", "dst": "8.8.8.8", "dstPort": "53", "usrName": `corp\alice`, "ReceiveTime": "2026/11/24 10:00:01"}},
		{"LEEF:1.0|Vendor|Product|1.0|ID|src=10.0.0.1^dst=10.0.0.2^usrName=bob^msg=a b",
			'^', map[string]string{"src": "10.0.0.1", "dst": "10.0.0.2", "usrName": "bob", "msg": "a b"}},
		{"LEEF:1.0|V|P|1|ID|src=10.0.0.1\tmsg=x|y=z\tdst=10.0.0.2",
			'\t', map[string]string{"src": "10.0.0.1", "msg": "x|y=z", "dst": "10.0.0.2"}},
		{"LEEF:1.0|V|P|1|ID|src=10.0.0.1", '\t', map[string]string{"src": "10.0.0.1"}},
	} {
		r, err := leef.Parse(c.in)
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if r.Delimiter != c.delim {
			t.Errorf("%q: delimiter %q, want %q", c.in, r.Delimiter, c.delim)
		}
		for k, v := range c.attrs {
			if got, _ := r.Get(k); got != v {
				t.Errorf("%q: %s = %q, want %q", c.in, k, got, v)
			}
		}
	}
}

// FuzzDelimiter: any record parses or fails with a reason, never panics, and
// a record rebuilt from the parsed attributes with the detected delimiter
// gives the same attributes.
func FuzzDelimiter(f *testing.F) {
	for _, s := range []string{
		"LEEF:1.0|V|P|1|ID|src=10.0.0.1|dst=10.0.0.2", "LEEF:1.0|V|P|1|ID|a=1^b=2", "LEEF:1.0|V|P|1|ID|a=1\tb=2",
		"LEEF:2.0|V|P|1|ID|0x7c|a=1|b=2", "LEEF:2.0|V|P|1|ID|x5E|a=1^b=2", "LEEF:2.0|V|P|1|ID|a=1\tb=2", "LEEF:1.0|V|P|1|ID|",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := leef.Parse(s)
		if err != nil {
			if ingest.ReasonOf(err) == "" {
				t.Fatalf("%q: error without a reason: %v", s, err)
			}
			return
		}
		if r.Delimiter == 0 {
			t.Fatalf("%q: no delimiter", s)
		}
	})
}
