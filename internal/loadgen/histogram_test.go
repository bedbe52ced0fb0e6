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
		{0.05, 0.75},          // half way through (0.5, 1]
		{0.5, 1 + 400.0/800},  // rank 500 in (1, 2]
		{0.95, 2 + 3*50.0/90}, // rank 950 in (2, 5]
		{0.995, 5},            // in +Inf: the largest finite bound
		{0.99, 5},             // exactly the bound
		{0.10, 1},             // rank 100 ends (0.5, 1]
	} {
		got := quantile(c.q, bs)
		if math.Abs(got-c.want) > 1e-9 {
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
	if got := quantile(0.5, d); math.Abs(got-(1+250.0/450)) > 1e-9 {
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
