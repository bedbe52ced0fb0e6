package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// latencyHistogram is the ncc's histogram of received (at a collector) →
// stored (its INSERT returned, so queryable), observed for every event.
const latencyHistogram = "kuzet_ncc_event_latency_seconds"

// bucket is one cumulative histogram bucket: count observations <= le.
type bucket struct {
	le    float64
	count float64
}

// readHistogram reads an unlabelled histogram's cumulative buckets from a
// Prometheus text page, in order of le (+Inf last).
func readHistogram(ctx context.Context, url, name string) (bs []bucket, err error) {
	err = readMetrics(ctx, url, func(sc *bufio.Scanner) error {
		bs, err = parseHistogram(sc, name)
		return err
	})
	return bs, err
}

func parseHistogram(sc *bufio.Scanner, name string) ([]bucket, error) {
	var out []bucket
	prefix := name + `_bucket{le="`
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), prefix)
		if !ok {
			continue
		}
		le, val, ok := strings.Cut(rest, `"} `)
		if !ok {
			return nil, fmt.Errorf("%s: bucket line %q", name, sc.Text())
		}
		b, err := strconv.ParseFloat(le, 64) // "+Inf" parses as +Inf
		if err != nil {
			return nil, fmt.Errorf("%s: le %q: %w", name, le, err)
		}
		n, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			return nil, fmt.Errorf("%s: count %q: %w", name, val, err)
		}
		out = append(out, bucket{le: b, count: n})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no %s", name)
	}
	slices.SortFunc(out, func(a, b bucket) int { return cmpFloat(a.le, b.le) })
	return out, nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// histogramDelta is after minus before, bucket by bucket (the same
// buckets; before may be nil: the process started in the run).
func histogramDelta(before, after []bucket) ([]bucket, error) {
	if before == nil {
		return after, nil
	}
	if len(before) != len(after) {
		return nil, fmt.Errorf("histogram buckets changed: %d, then %d", len(before), len(after))
	}
	out := make([]bucket, len(after))
	for i := range after {
		if before[i].le != after[i].le || after[i].count < before[i].count {
			return nil, fmt.Errorf("histogram reset or changed at le %v", after[i].le)
		}
		out[i] = bucket{le: after[i].le, count: after[i].count - before[i].count}
	}
	return out, nil
}

// quantile returns an upper bound of the q-quantile of cumulative
// buckets: the bound of the first bucket holding at least q of the
// observations (histogram_quantile's interpolation inside a bucket can
// read far above every observation in it: a backlog's events all at
// 121-125 s read as 210 s in a (120, 300] bucket). A quantile in the +Inf
// bucket is +Inf; NaN when empty.
func quantile(q float64, bs []bucket) float64 {
	if len(bs) == 0 {
		return math.NaN()
	}
	total := bs[len(bs)-1].count
	if total <= 0 {
		return math.NaN()
	}
	rank := q * total
	for _, b := range bs {
		if b.count >= rank {
			return b.le
		}
	}
	return math.Inf(1)
}
