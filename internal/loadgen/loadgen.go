package loadgen

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/registry"
	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/verify"
)

// Options configure a run.
type Options struct {
	// Rate is the target records per second; 0 sends as fast as the
	// inputs take them.
	Rate int
	// Duration is how long records are sent.
	Duration time.Duration
	// Mix is what is sent (DefaultMix when it has no kinds).
	Mix Mix
	// MixName names the mix in the result ("default" or the file).
	MixName string
	// Targets are the collectors; each gets the records of its OISC's
	// objects.
	Targets []Target
	// Registry gives the hosts and addresses.
	Registry *registry.Registry
	// Key is the API key of the HTTP inputs.
	Key string
	// ClickHouse is where the events are counted (database included).
	ClickHouse config.ClickHouse
	// Deadline bounds the wait, after sending, for every sent event to be
	// queryable (default 2m).
	Deadline time.Duration
	// Workers is the number of sending goroutines (default 2).
	Workers int
	// SampleEvery samples every Nth record for latency (0: about 2,000
	// samples at the target rate, every 100th at max).
	SampleEvery uint64
	// SamplePoll is how often the store is polled for samples (default
	// 500ms): the latency figures' resolution.
	SamplePoll time.Duration
	// PIDs are the processes whose CPU and peak memory are reported, by
	// name; the load generator itself is always added as "loadgen".
	PIDs map[string]int
	// Journals are collector journals (accepted.ids files or data
	// directories) that `kuzet verify` would read; when set, the result
	// also carries verify's lost and duplicated counts.
	Journals []string
	// NCCMetrics is the ncc's /metrics URL; when set, its consumer lag
	// (kuzet_ncc_consumer_pending_messages) is read every second and its
	// peak reported, and its latency histogram gives StoredLatency.
	NCCMetrics string
	// Label names the run in the summary ("detection on").
	Label string
	// Seed makes the records repeat (0: random).
	Seed uint64
	// Logger gets progress (nil: discarded).
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if len(o.Mix.Kinds) == 0 {
		o.Mix, o.MixName = DefaultMix(), "default"
	}
	o.Deadline = cmpOr(o.Deadline, 2*time.Minute)
	o.Workers = cmpOr(o.Workers, 2)
	o.SamplePoll = cmpOr(o.SamplePoll, 500*time.Millisecond)
	if o.SampleEvery == 0 {
		o.SampleEvery = 100
		if o.Rate > 0 {
			o.SampleEvery = max(1, uint64(float64(o.Rate)*o.Duration.Seconds()/2000))
		}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func (o *Options) validate() error {
	var errs []error
	if o.Rate < 0 {
		errs = append(errs, errors.New("rate: negative"))
	}
	if o.Duration <= 0 {
		errs = append(errs, errors.New("duration: must be positive"))
	}
	if len(o.Targets) == 0 {
		errs = append(errs, errors.New("targets: none"))
	}
	if o.Registry == nil {
		errs = append(errs, errors.New("registry: missing"))
	}
	if len(o.ClickHouse.Addr) == 0 || o.ClickHouse.Database == "" {
		errs = append(errs, errors.New("clickhouse: address and database needed"))
	}
	if err := o.Mix.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// samples holds the sampled records not yet seen in the store.
type samples struct {
	mu      sync.Mutex
	pending map[uint64]time.Time // seq → sent
	lat     []time.Duration
}

func (s *samples) add(seq uint64, sent time.Time) {
	s.mu.Lock()
	s.pending[seq] = sent
	s.mu.Unlock()
}

// oldest returns the send time of the oldest pending sample sent in the
// last ten minutes (an older one is taken as lost: it must not make every
// poll scan the whole run), or false.
func (s *samples) oldest() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var o time.Time
	floor := time.Now().Add(-10 * time.Minute)
	for _, t := range s.pending {
		if t.After(floor) && (o.IsZero() || t.Before(o)) {
			o = t
		}
	}
	return o, !o.IsZero()
}

// Run sends records for o.Duration, waits until every sent record is
// queryable or o.Deadline passes, and returns the result. It stops early
// (with what it measured) when ctx ends.
func Run(ctx context.Context, o Options) (*Result, error) {
	o.setDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	log := o.Logger
	var rb [4]byte
	_, _ = rand.Read(rb[:])
	run := hex.EncodeToString(rb[:])
	seed := o.Seed
	if seed == 0 {
		seed = mrand.Uint64()
	}
	res := newResult(o, run)

	// Each worker gets generators of its own for every target.
	type tgen struct {
		t   Target
		gen *generator
	}
	mkGens := func(w int) ([]tgen, error) {
		var out []tgen
		for i, t := range o.Targets {
			inputs := map[string]bool{}
			for k := range t.Addrs {
				inputs[k] = true
			}
			rnd := mrand.New(mrand.NewPCG(seed+uint64(i), 7))
			g, err := newGenerator(seed+uint64(1000*w+i), run, o.Mix, assetsOf(o.Registry, t.OISC, rnd), inputs)
			if err != nil {
				return nil, fmt.Errorf("target %s: %w", t.OISC, err)
			}
			out = append(out, tgen{t, g})
		}
		return out, nil
	}
	gens := make([][]tgen, o.Workers)
	for w := range gens {
		g, err := mkGens(w)
		if err != nil {
			return nil, err
		}
		gens[w] = g
	}

	start := time.Now()
	cnt, err := openCounter(o.ClickHouse, run, start)
	if err != nil {
		return nil, err
	}
	defer cnt.close()
	pids := map[string]int{"loadgen": os.Getpid()}
	for n, p := range o.PIDs {
		pids[n] = p
	}
	cpu0 := map[string]float64{}
	for n, p := range pids {
		if c, err := procCPU(p); err == nil {
			cpu0[n] = c
		} else {
			log.Warn("cpu", "process", n, "pid", p, "err", err)
		}
	}

	var hist0 []bucket
	if o.NCCMetrics != "" {
		if hist0, err = readHistogram(ctx, o.NCCMetrics, latencyHistogram); err != nil {
			log.Warn("ncc latency histogram", "err", err)
		}
	}

	var c counters
	var seq atomic.Uint64
	smp := &samples{pending: map[uint64]time.Time{}}
	var lim *limiter
	if o.Rate > 0 {
		lim = newLimiter(o.Rate, start)
	}
	chunk := 64
	if o.Rate > 0 {
		chunk = max(1, min(64, o.Rate/200))
	}
	sendCtx, stopSend := context.WithTimeout(ctx, o.Duration)
	defer stopSend()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4 * o.Workers}}
	var wg sync.WaitGroup
	for w := 0; w < o.Workers; w++ {
		wg.Add(1)
		go func(tg []tgen, wrnd *mrand.Rand) {
			defer wg.Done()
			sys := make([]*syslogConn, len(tg))
			hb := make([]map[string]*httpBatch, len(tg))
			for i, x := range tg {
				if a := x.t.Addrs[InputSyslog]; a != "" {
					sys[i] = &syslogConn{addr: a, c: &c}
				}
				hb[i] = map[string]*httpBatch{}
				for _, in := range []string{InputWinevent, InputZeek, InputSuricata} {
					if a := x.t.Addrs[in]; a != "" {
						hb[i][in] = &httpBatch{url: "http://" + a + "/v1/ingest", key: o.Key, client: client, c: &c}
					}
				}
			}
			flushAll := func(ctx context.Context) {
				for i := range tg {
					if sys[i] != nil {
						sys[i].flush()
					}
					for _, h := range hb[i] {
						h.flush(ctx)
					}
				}
			}
			defer func() {
				flushAll(ctx)
				for _, s := range sys {
					if s != nil {
						s.close()
					}
				}
			}()
			lastFlush := time.Now()
			for sendCtx.Err() == nil {
				if lim != nil && !lim.wait(sendCtx, chunk) {
					break
				}
				now := time.Now()
				for k := 0; k < chunk; k++ {
					i := wrnd.IntN(len(tg))
					n := seq.Add(1)
					r := tg[i].gen.next(n, now)
					if n%o.SampleEvery == 0 {
						smp.add(n, now)
					}
					c.byKind[kindIndex[r.kind]].Add(1)
					if r.input == InputSyslog {
						sys[i].send(ctx, r.data)
					} else {
						hb[i][r.input].add(ctx, r.data)
					}
				}
				if now.Sub(lastFlush) >= 50*time.Millisecond {
					flushAll(ctx)
					lastFlush = now
				}
			}
		}(gens[w], mrand.New(mrand.NewPCG(seed, uint64(w))))
	}

	// The sample poller runs from the start until the end of the wait.
	pollCtx, stopPoll := context.WithCancel(ctx)
	pollDone := make(chan struct{})
	var maxGap time.Duration
	go func() {
		defer close(pollDone)
		last := time.Now()
		for {
			// A poll scans the rows since the oldest pending sample (on one
			// ClickHouse thread); when a backlog makes that slow, polls are
			// spaced out so the measurement takes at most a fifth of a
			// thread, and at max rate, where latency is the backlog's and
			// the rate is the figure, a twentieth.
			select {
			case <-pollCtx.Done():
				return
			case <-time.After(max(o.SamplePoll-time.Since(last), 0)):
			}
			at := time.Now()
			maxGap = max(maxGap, at.Sub(last))
			pollSamples(pollCtx, cnt, smp, o.SampleEvery, log)
			last = at
			spacing := time.Duration(4)
			if o.Rate <= 0 {
				spacing = 19
			}
			if d := time.Since(at); spacing*d > o.SamplePoll {
				select {
				case <-pollCtx.Done():
					return
				case <-time.After(spacing * d):
				}
			}
		}
	}()

	lagDone := make(chan struct{})
	var peakLag float64 = -1
	go func() {
		defer close(lagDone)
		if o.NCCMetrics == "" {
			return
		}
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			if v, err := readGauge(pollCtx, o.NCCMetrics, "kuzet_ncc_consumer_pending_messages"); err == nil {
				peakLag = max(peakLag, v)
			}
			select {
			case <-pollCtx.Done():
				return
			case <-t.C:
			}
		}
	}()

	wg.Wait()
	sendEnd := time.Now()
	sent := c.sent.Load()
	log.Info("sent", "records", sent, "seconds", sendEnd.Sub(start).Seconds())

	// Wait until every sent record is queryable, or the deadline.
	deadline := sendEnd.Add(o.Deadline)
	var rows, ids, markers uint64
	var lastExact uint64
	done := start
	complete := false
	for {
		at := time.Now()
		n, err := cnt.rows(ctx)
		if err != nil {
			log.Warn("count", "err", err)
		}
		last := at.After(deadline) || ctx.Err() != nil
		if (err == nil && n >= uint64(sent) && n != lastExact) || last {
			lastExact = n
			qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
			rows, ids, markers, err = cnt.exact(qctx)
			cancel()
			if err != nil {
				log.Warn("exact count", "err", err)
			}
			done = at
			if err == nil && markers >= uint64(sent) {
				complete = true
				break
			}
		}
		if last {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
	// A last look for samples found meanwhile.
	pollSamples(context.WithoutCancel(ctx), cnt, smp, o.SampleEvery, log)
	stopPoll()
	<-pollDone
	<-lagDone

	res.Sent, res.Rejected, res.SendErrors, res.Retries429 = sent, c.rejected.Load(), c.sendErrors.Load(), c.retries.Load()
	for _, k := range Kinds() {
		if v := c.byKind[kindIndex[k]].Load(); v > 0 {
			res.SentByKind[k] = v
		}
	}
	res.SendSeconds = sendEnd.Sub(start).Seconds()
	res.SentPerS = float64(sent) / res.SendSeconds
	res.Rows, res.Stored = int64(rows), int64(markers)
	res.Lost = max(0, sent-res.Stored)
	res.Duplicated = max(0, int64(ids)-int64(markers))
	res.Complete = complete
	res.MeasuredSeconds = done.Sub(start).Seconds()
	if res.MeasuredSeconds > 0 {
		res.EventsPerS = float64(res.Stored) / res.MeasuredSeconds
	}
	res.setLatency(smp)
	res.LatencyResolutionMs = ms(maxGap)
	if o.NCCMetrics != "" {
		res.setStoredLatency(storedLatency(context.WithoutCancel(ctx), o.NCCMetrics, hist0, res.Stored, log))
	}
	res.PeakConsumerPending = peakLag
	res.Alerts, res.Incidents = cnt.derived(context.WithoutCancel(ctx))
	for _, n := range sortedKeys(pids) {
		p := Process{Name: n, PID: pids[n]}
		if c1, err := procCPU(pids[n]); err == nil {
			if c0, ok := cpu0[n]; ok {
				p.CPUSeconds = c1 - c0
				if res.Stored > 0 {
					p.CPUSecondsPerMillionEvents = p.CPUSeconds / float64(res.Stored) * 1e6
				}
			}
		}
		p.PeakRSSBytes, _ = procPeakRSS(pids[n])
		res.Processes = append(res.Processes, p)
	}
	if len(o.Journals) > 0 {
		v, err := verifyJournals(context.WithoutCancel(ctx), o.ClickHouse, o.Journals)
		if err != nil {
			log.Warn("verify", "err", err)
		}
		res.Verify = v
	}
	return res, nil
}

// storedLatency returns the run's share of the ncc's latency histogram
// (nil if it cannot be read). The ncc observes a batch's events just after
// its INSERT returns, so the last ones may be queryable a moment before
// they are counted: it reads again, for up to 5 s, until the histogram
// holds stored events.
func storedLatency(ctx context.Context, url string, before []bucket, stored int64, log *slog.Logger) []bucket {
	deadline := time.Now().Add(5 * time.Second)
	for {
		hist, err := readHistogram(ctx, url, latencyHistogram)
		var d []bucket
		if err == nil {
			d, err = histogramDelta(before, hist)
		}
		if err != nil {
			log.Warn("ncc latency histogram", "err", err)
			return nil
		}
		if d[len(d)-1].count >= float64(stored) || time.Now().After(deadline) {
			return d
		}
		select {
		case <-ctx.Done():
			return d
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// readGauge reads one unlabelled sample from a Prometheus text page.
func readGauge(ctx context.Context, url, name string) (float64, error) {
	var v float64
	err := readMetrics(ctx, url, func(sc *bufio.Scanner) error {
		for sc.Scan() {
			if s, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
				var err error
				v, err = strconv.ParseFloat(strings.TrimSpace(s), 64)
				return err
			}
		}
		if err := sc.Err(); err != nil {
			return err
		}
		return fmt.Errorf("%s: no %s", url, name)
	})
	return v, err
}

// readMetrics fetches a Prometheus text page (2 s at most) and hands read
// a scanner of its lines (up to 1 MiB each).
func readMetrics(ctx context.Context, url string, read func(*bufio.Scanner) error) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	return read(sc)
}

// pollSamples records the latency of every pending sample the store now
// holds.
func pollSamples(ctx context.Context, cnt *counter, smp *samples, every uint64, log *slog.Logger) {
	oldest, ok := smp.oldest()
	if !ok {
		return
	}
	at := time.Now()
	// Rows of samples sent long ago that never arrive must not make
	// every poll scan the whole run.
	from := oldest.Add(-2 * time.Second)
	qctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err := cnt.sampled(qctx, from.Truncate(time.Second), every, func(seq uint64, received time.Time) {
		smp.mu.Lock()
		if _, ok := smp.pending[seq]; ok {
			delete(smp.pending, seq)
			smp.lat = append(smp.lat, at.Sub(received))
		}
		smp.mu.Unlock()
	})
	if err != nil && ctx.Err() == nil {
		log.Warn("sample poll", "err", err)
	}
}

func verifyJournals(ctx context.Context, cfg config.ClickHouse, journals []string) (*VerifyResult, error) {
	ids, collectors, err := verify.ReadJournals(journals)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, cfg, nil)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	rep, err := verify.Compare(ctx, st, ids, collectors)
	if err != nil {
		return nil, err
	}
	sort.Strings(collectors)
	return &VerifyResult{Collectors: collectors, Accepted: rep.Accepted, Stored: rep.Stored, Lost: len(rep.Lost),
		Duplicated: len(rep.Duplicated), Extra: rep.Extra}, nil
}
