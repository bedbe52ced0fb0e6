package loadgen

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

// Result is the JSON result of a run.
type Result struct {
	Commit   string   `json:"commit"`
	Machine  Machine  `json:"machine"`
	Settings Settings `json:"settings"`
	Run      string   `json:"run"`
	Started  string   `json:"started_at"`

	// Sent counts records written to a syslog socket or answered 200 by
	// an HTTP input; Rejected the lines an HTTP input refused;
	// SendErrors the records of failed writes and requests (not sent).
	Sent       int64            `json:"sent"`
	Rejected   int64            `json:"rejected"`
	SendErrors int64            `json:"send_errors"`
	Retries429 int64            `json:"retries_429"`
	SentByKind map[string]int64 `json:"sent_by_kind"`
	// SendSeconds is how long records were sent; SentPerS the rate
	// offered and taken.
	SendSeconds float64 `json:"send_s"`
	SentPerS    float64 `json:"sent_per_s"`

	// Stored is the run's distinct markers in the store, Rows its rows
	// (a redelivered batch not yet merged shows twice).
	Stored int64 `json:"stored"`
	Rows   int64 `json:"rows"`
	// Complete is true when every sent record was queryable before the
	// deadline.
	Complete bool `json:"complete"`
	// MeasuredSeconds runs from the first send to the query that found
	// every sent record (or the deadline); EventsPerS is Stored over it.
	MeasuredSeconds float64 `json:"measured_s"`
	EventsPerS      float64 `json:"events_per_s"`

	// Latency received → queryable of the sampled records, in ms.
	LatencyMethod string `json:"latency_method"`
	// LatencyResolutionMs is the longest gap between two sample polls: no
	// figure is more than this too high.
	LatencyResolutionMs float64 `json:"latency_resolution_ms"`
	Samples             int     `json:"samples"`
	SamplesUnseen       int     `json:"samples_unseen"`
	P50ms               float64 `json:"p50_ms"`
	P95ms               float64 `json:"p95_ms"`
	P99ms               float64 `json:"p99_ms"`
	Maxms               float64 `json:"max_ms"`
	// Received → stored of every event of the run, from the ncc's
	// kuzet_ncc_event_latency_seconds (its INSERT returned: queryable):
	// each quantile's upper bound, the bound of the bucket holding it;
	// absent when the ncc's metrics were not read.
	StoredLatency *StoredLatency `json:"stored_latency,omitempty"`

	// Lost is sent minus stored; Duplicated the distinct event ids beyond
	// one per marker.
	Lost       int64         `json:"lost"`
	Duplicated int64         `json:"duplicated"`
	Verify     *VerifyResult `json:"verify,omitempty"`

	// PeakConsumerPending is the ncc consumer's largest lag seen, in
	// envelopes (-1: not read).
	PeakConsumerPending float64 `json:"peak_consumer_pending"`

	// Alerts and Incidents are the distinct alerts and incidents stored
	// since the run began (-1: not readable): what detection did.
	Alerts    int64 `json:"alerts"`
	Incidents int64 `json:"incidents"`

	Processes []Process `json:"processes"`
}

// StoredLatency is the ncc's latency histogram over the run.
type StoredLatency struct {
	Method string  `json:"method"`
	Events float64 `json:"events"`
	P50ms  float64 `json:"p50_ms"`
	P95ms  float64 `json:"p95_ms"`
	P99ms  float64 `json:"p99_ms"`
	// Within5s is the share of the events stored within 5 s (exact: 5 s
	// is a bucket bound; -1 without that bound), the objective a p99 of
	// "under 5 s" names: met when it is at least 0.99.
	Within5s float64 `json:"within_5s"`
	// Over is how many events took longer than the largest finite bucket
	// (their quantiles read as that bound).
	Over float64 `json:"over_largest_bucket"`
}

const storedLatencyMethod = "the ncc's kuzet_ncc_event_latency_seconds (collector's received_at to the INSERT returning, every event), end of run minus start; each quantile is the upper bound of the bucket holding it (-1: beyond the largest bound)"

// setStoredLatency sets StoredLatency from the run's buckets.
func (r *Result) setStoredLatency(bs []bucket) {
	if len(bs) < 2 || bs[len(bs)-1].count == 0 {
		return
	}
	q := func(p float64) float64 {
		v := quantile(p, bs)
		if math.IsInf(v, 1) {
			return -1
		}
		return math.Round(v*1e4) / 10
	}
	total := bs[len(bs)-1].count
	r.StoredLatency = &StoredLatency{Method: storedLatencyMethod, Events: total,
		P50ms: q(0.50), P95ms: q(0.95), P99ms: q(0.99), Within5s: -1, Over: total - bs[len(bs)-2].count}
	for _, b := range bs {
		if b.le == 5 {
			r.StoredLatency.Within5s = b.count / total
		}
	}
}

// Machine describes where the run ran.
type Machine struct {
	Cores    int    `json:"cores"`
	CPU      string `json:"cpu,omitempty"`
	MemBytes int64  `json:"mem_bytes,omitempty"`
	Go       string `json:"go"`
	OS       string `json:"os"`
}

// Settings are the run's parameters.
type Settings struct {
	Label       string   `json:"label,omitempty"`
	Rate        string   `json:"rate"`
	Duration    string   `json:"duration"`
	Deadline    string   `json:"deadline"`
	Mix         string   `json:"mix"`
	MixSpec     Mix      `json:"mix_spec"`
	Workers     int      `json:"workers"`
	SampleEvery uint64   `json:"sample_every"`
	SamplePoll  string   `json:"sample_poll"`
	Targets     []Target `json:"targets"`
	Database    string   `json:"database"`
}

// Process is one process's cost over the measured period.
type Process struct {
	Name                       string  `json:"name"`
	PID                        int     `json:"pid"`
	CPUSeconds                 float64 `json:"cpu_s"`
	CPUSecondsPerMillionEvents float64 `json:"cpu_s_per_million_events"`
	PeakRSSBytes               int64   `json:"peak_rss_bytes"`
}

// VerifyResult is what `kuzet verify` finds in the collectors' journals.
type VerifyResult struct {
	Collectors []string `json:"collectors"`
	Accepted   int      `json:"accepted"`
	Stored     int      `json:"stored"`
	Lost       int      `json:"lost"`
	Duplicated int      `json:"duplicated"`
	Extra      int      `json:"extra"`
}

// latencyMethod documents how the latency figures are taken.
const latencyMethod = "sampled markers polled in the store; latency = start of the first query returning the row - kuzet.received_at (an upper bound, too high by at most latency_resolution_ms, the longest gap between polls)"

func newResult(o Options, run string) *Result {
	rate := "max"
	if o.Rate > 0 {
		rate = fmt.Sprint(o.Rate)
	}
	return &Result{
		Commit: commit(), Machine: machine(), Run: run, Started: time.Now().UTC().Format(time.RFC3339),
		Settings: Settings{Label: o.Label, Rate: rate, Duration: o.Duration.String(), Deadline: o.Deadline.String(),
			Mix: o.MixName, MixSpec: o.Mix, Workers: o.Workers, SampleEvery: o.SampleEvery, SamplePoll: o.SamplePoll.String(),
			Targets: o.Targets, Database: o.ClickHouse.Database},
		SentByKind: map[string]int64{}, LatencyMethod: latencyMethod,
	}
}

func (r *Result) setLatency(s *samples) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.Samples, r.SamplesUnseen = len(s.lat), len(s.pending)
	if len(s.lat) == 0 {
		return
	}
	l := slices.Clone(s.lat)
	slices.Sort(l)
	q := func(p float64) float64 {
		i := int(p*float64(len(l))+0.5) - 1
		return ms(l[min(max(i, 0), len(l)-1)])
	}
	r.P50ms, r.P95ms, r.P99ms, r.Maxms = q(0.50), q(0.95), q(0.99), ms(l[len(l)-1])
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// commit is `git describe --always --dirty` of the working directory, or
// the binary's VCS revision.
func commit() string {
	if out, err := exec.Command("git", "describe", "--always", "--dirty", "--tags").Output(); err == nil {
		return strings.TrimSpace(string(out))
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		var rev, dirty string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "-dirty"
				}
			}
		}
		if rev != "" {
			return rev + dirty
		}
	}
	return "unknown"
}

func machine() Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "model name"); ok {
				m.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
		f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var kb int64
			if _, err := fmt.Sscanf(sc.Text(), "MemTotal: %d kB", &kb); err == nil {
				m.MemBytes = kb << 10
				break
			}
		}
		f.Close()
	}
	return m
}

// Summary writes a short text summary.
func (r *Result) Summary(w io.Writer) {
	label := r.Settings.Label
	if label == "" {
		label = "loadgen"
	}
	fmt.Fprintf(w, "%s: rate %s for %s, %s (%d cores, %s)\n", label, r.Settings.Rate, r.Settings.Duration, r.Commit, r.Machine.Cores, r.Machine.Go)
	fmt.Fprintf(w, "  sent %s (%s/s offered and taken), rejected %d, send errors %d, 429 retries %d\n",
		thousands(float64(r.Sent)), thousands(r.SentPerS), r.Rejected, r.SendErrors, r.Retries429)
	state := "all queryable"
	if !r.Complete {
		state = "NOT all queryable before the deadline"
	}
	fmt.Fprintf(w, "  stored %s in %.1f s (%s): %s events/s; lost %d, duplicated %d\n",
		thousands(float64(r.Stored)), r.MeasuredSeconds, state, thousands(r.EventsPerS), r.Lost, r.Duplicated)
	if r.Verify != nil {
		fmt.Fprintf(w, "  kuzet verify: accepted %d, stored %d, lost %d, duplicated %d\n", r.Verify.Accepted, r.Verify.Stored, r.Verify.Lost, r.Verify.Duplicated)
	}
	fmt.Fprintf(w, "  alerts %s, incidents %s", thousands(float64(r.Alerts)), thousands(float64(r.Incidents)))
	if r.PeakConsumerPending >= 0 {
		fmt.Fprintf(w, "; ncc consumer lag at most %s envelopes", thousands(r.PeakConsumerPending))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  received → queryable (%d samples, %d unseen; each at most %.0f ms high): p50 %.0f ms, p95 %.0f ms, p99 %.0f ms, max %.0f ms\n",
		r.Samples, r.SamplesUnseen, r.LatencyResolutionMs, r.P50ms, r.P95ms, r.P99ms, r.Maxms)
	if l := r.StoredLatency; l != nil {
		fmt.Fprintf(w, "  received → stored (ncc histogram, %s events; bucket bounds): p50 ≤ %.0f ms, p95 ≤ %.0f ms, p99 ≤ %.0f ms; %.2f %% within 5 s\n",
			thousands(l.Events), l.P50ms, l.P95ms, l.P99ms, 100*l.Within5s)
	}
	for _, p := range r.Processes {
		fmt.Fprintf(w, "  %-16s cpu %6.1f s (%6.1f s per million events), peak rss %s MiB\n",
			p.Name, p.CPUSeconds, p.CPUSecondsPerMillionEvents, thousands(float64(p.PeakRSSBytes)/(1<<20)))
	}
}

// thousands formats v rounded, with comma thousands separators.
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
