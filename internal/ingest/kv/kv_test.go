package kv_test

import (
	"testing"

	"github.com/kuzet-kz/kuzet/internal/ingest"
	"github.com/kuzet-kz/kuzet/internal/ingest/kv"
)

func TestSplit(t *testing.T) {
	for _, c := range []struct {
		in      string
		o       kv.Options
		want    []kv.Pair
		skipped int
	}{
		{`date=2026-11-24 time=10:00:01 devname="FG-100F" srcip=10.0.0.5 action="deny" msg="a \"quoted\" value"`, kv.Options{},
			[]kv.Pair{{"date", "2026-11-24"}, {"time", "10:00:01"}, {"devname", "FG-100F"}, {"srcip", "10.0.0.5"}, {"action", "deny"}, {"msg", `a "quoted" value`}}, 0},
		{"IN=eth0 OUT= SRC=10.0.0.1 DST=8.8.8.8 LEN=60 DF PROTO=TCP SPT=5000 DPT=53 SYN", kv.Options{},
			[]kv.Pair{{"IN", "eth0"}, {"OUT", ""}, {"SRC", "10.0.0.1"}, {"DST", "8.8.8.8"}, {"LEN", "60"}, {"PROTO", "TCP"}, {"SPT", "5000"}, {"DPT", "53"}}, 2},
		{"a: 1; b: two words; c: 3", kv.Options{Separator: "; ", Delimiter: ": "},
			[]kv.Pair{{"a", "1"}, {"b", "two words"}, {"c", "3"}}, 0},
		{`k='x y'`, kv.Options{Quote: '\''}, []kv.Pair{{"k", "x y"}}, 0},
		{"", kv.Options{}, nil, 0},
	} {
		got, skipped, err := kv.Split(c.in, c.o)
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if len(got) != len(c.want) || skipped != c.skipped {
			t.Fatalf("%q: got %v (skipped %d), want %v (skipped %d)", c.in, got, skipped, c.want, c.skipped)
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%q: pair %d = %v, want %v", c.in, i, got[i], c.want[i])
			}
		}
	}
	if _, _, err := kv.Split(`a="open`, kv.Options{}); ingest.ReasonOf(err) != ingest.ReasonTruncated {
		t.Errorf("unterminated quote: %v", err)
	}
	if _, _, err := kv.Split(`=v`, kv.Options{}); ingest.ReasonOf(err) != ingest.ReasonSyntax {
		t.Errorf("empty key: %v", err)
	}
}

func FuzzSplit(f *testing.F) {
	f.Add(`date=2026-11-24 devname="FG" msg="a \"b\""`, "", "=")
	f.Add("a: 1; b: 2", "; ", ": ")
	f.Fuzz(func(t *testing.T, s, sep, delim string) {
		if delim == "" || len(sep) > 4 || len(delim) > 4 {
			return
		}
		pairs, _, err := kv.Split(s, kv.Options{Separator: sep, Delimiter: delim})
		if err != nil {
			return
		}
		for _, p := range pairs {
			if p.Key == "" {
				t.Fatalf("empty key from %q", s)
			}
		}
	})
}

func BenchmarkSplit(b *testing.B) {
	s := `date=2026-11-24 time=10:00:01 devname="FG-100F" devid="FG100FTK19000001" logid="0000000013" type="traffic" subtype="forward" level="notice" srcip=10.10.4.21 srcport=52114 dstip=8.8.8.8 dstport=53 proto=17 action="deny" policyid=12 service="DNS"`
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := kv.Split(s, kv.Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func TestPairsGet(t *testing.T) {
	ps := kv.Pairs{{Key: "a", Value: "1"}, {Key: "b", Value: ""}, {Key: "a", Value: "2"}}
	if v, ok := ps.Get("a"); !ok || v != "1" {
		t.Errorf(`Get("a") = %q, %v; want the first pair's "1"`, v, ok)
	}
	if v, ok := ps.Get("b"); !ok || v != "" {
		t.Errorf(`Get("b") = %q, %v; want "", true`, v, ok)
	}
	if _, ok := ps.Get("c"); ok {
		t.Error(`Get("c") found a missing key`)
	}
	if _, ok := kv.Pairs(nil).Get("a"); ok {
		t.Error("Get on nil Pairs found a key")
	}
}
