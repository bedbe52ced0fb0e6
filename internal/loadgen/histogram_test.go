package loadgen

import (
	"bufio"
	"math"
	"strings"
	"testing"
)

const page = `# HELP kuzet_ncc_event_latency_seconds From acceptance at the collector to storage at the NCC.
# TYPE kuzet_ncc_event_latency_seconds histogram
kuzet_ncc_event_latency_seconds_bucket{le="0.5"} 0
kuzet_ncc_event_latency_seconds_bucket{le="1"} 100
kuzet_ncc_event_latency_seconds_bucket{le="2"} 900
kuzet_ncc_event_latency_seconds_bucket{le="5"} 990
kuzet_ncc_event_latency_seconds_bucket{le="+Inf"} 1000
kuzet_ncc_event_latency_seconds_sum 1500
kuzet_ncc_event_latency_seconds_count 1000
kuzet_ncc_insert_seconds_bucket{le="1"} 7
`

func TestHistogramQuantiles(t *testing.T) {
	bs, err := parseHistogram(bufio.NewScanner(strings.NewReader(page)), latencyHistogram)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 5 || !math.IsInf(bs[4].le, 1) || bs[4].count != 1000 {
		t.Fatalf("buckets: %+v", bs)
	}
	for _, c := range []struct{ q, want float64 }{
		{0.05, 1},            // the 50th of 1000 is in (0.5, 1]
		{0.10, 1},            // the 100th ends (0.5, 1]
		{0.5, 2},             // the 500th in (1, 2]
		{0.95, 5},            // the 950th in (2, 5]
		{0.99, 5},            // the 990th: exactly the bound
		{0.995, math.Inf(1)}, // beyond every finite bound
	} {
		if got := quantile(c.q, bs); got != c.want {
			t.Errorf("quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
	// The run's share: after minus before.
	before := []bucket{{0.5, 0}, {1, 50}, {2, 400}, {5, 400}, {math.Inf(1), 400}}
	d, err := histogramDelta(before, bs)
	if err != nil {
		t.Fatal(err)
	}
	if d[1].count != 50 || d[4].count != 600 {
		t.Errorf("delta: %+v", d)
	}
	if got := quantile(0.5, d); got != 2 { // the 300th of 600: 50 by 1 s, 450 by 2 s
		t.Errorf("delta median %v", got)
	}
	if _, err := histogramDelta(bs, before); err == nil {
		t.Error("a histogram that went down (a restarted ncc) gave a delta")
	}
	if !math.IsNaN(quantile(0.5, []bucket{{1, 0}, {math.Inf(1), 0}})) {
		t.Error("an empty histogram has no quantile")
	}
	if _, err := parseHistogram(bufio.NewScanner(strings.NewReader("other 1\n")), latencyHistogram); err == nil {
		t.Error("a page without the histogram parsed")
	}
}
