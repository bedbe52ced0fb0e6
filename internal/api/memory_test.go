package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/proctest"
	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"
)

// memBinEnv names a kuzet-api binary to measure instead of this tree's (for
// a figure of an older build: then the configuration holds only the options
// every version has).
const memBinEnv = "KUZET_API_MEMTEST_BIN"

// TestPeakMemoryUnderHeavyQueries runs the real kuzet-api against ClickHouse
// holding 300 events of about 64 KiB, sends 20 concurrent
// limit=1000 text searches with one owner key, and requires every one to be
// served (queued by the per-key limit, not refused) while the process's peak
// RSS (VmHWM) stays under 512 MB.
func TestPeakMemoryUnderHeavyQueries(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the kuzet-api binary against ClickHouse")
	}
	st := storetest.Open(t)
	const events, msgSize = 300, 64 << 10
	base := time.Now().UTC().Add(-time.Hour)
	words := strings.Repeat("failed password for invalid user admin from 203.0.113.7 port 4711 ssh2; ", msgSize/72)
	for batch := 0; batch < events; batch += 150 {
		rows := make([]store.EventRow, 0, 150)
		for i := batch; i < batch+150; i++ {
			ev := &event.Event{Timestamp: base, Message: fmt.Sprintf("%06d %s", i, words)}
			if err := event.Stamp(ev, base.Add(time.Duration(i)*time.Second), "c1", "oisc-a", "test"); err != nil {
				t.Fatal(err)
			}
			ev.Kuzet.Org, ev.Kuzet.Object, ev.Kuzet.Sector, ev.Kuzet.Asset = "bank", "bank-obj", "banking", event.AssetKnown
			doc, _ := event.Marshal(ev)
			r, err := store.NewEventRow(ev, doc)
			if err != nil {
				t.Fatal(err)
			}
			rows = append(rows, r)
		}
		if err := st.InsertEvents(context.Background(), rows); err != nil {
			t.Fatal(err)
		}
	}
	bin := os.Getenv(memBinEnv)
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
clickhouse:
  addr: [%s]
  database: %s
log:
  level: info
  format: text
registry_file: %s
keys:
`, storetest.Addr(t), st.Database(), registryFile(t))
	for i := range 4 {
		cfg += fmt.Sprintf("  - {name: owner-%d, role: owner, org: bank, hash: %q}\n", i, access.HashKey(fmt.Sprintf("owner-key-%d", i)))
	}
	if bin == "" {
		bin = proctest.Binary(t, "kuzet-api")
		cfg += "http:\n  listen: \"\"\n"
	}
	path := filepath.Join(t.TempDir(), "api.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := proctest.Start(t, "", bin, []string{"-config", path})
	if !p.WaitOutput(20*time.Second, "api listening") {
		t.Fatalf("kuzet-api did not start:\n%s", p.Output())
	}
	m := regexp.MustCompile(`msg="api listening".* addr=(\S+)`).FindStringSubmatch(p.Output())
	if m == nil {
		t.Fatalf("no address in:\n%s", p.Output())
	}
	addr := m[1]
	t.Logf("VmHWM after start: %d MB", vmHWM(t, p.PID())>>10)
	// One key, 20 queries at once: the key's limit queues them, all are
	// served. Then four keys, five each: every global slot is in use.
	for _, keys := range []int{1, 4} {
		start := time.Now()
		var wg sync.WaitGroup
		type result struct {
			status, bytes int
			err           error
		}
		results := make([]result, 20)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/api/v1/events?limit=1000&q=invalid+user", nil)
				req.Header.Set("Authorization", fmt.Sprintf("Bearer owner-key-%d", i%keys))
				resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
				if err != nil {
					results[i].err = err
					return
				}
				defer resp.Body.Close()
				n, err := io.Copy(io.Discard, resp.Body)
				results[i] = result{resp.StatusCode, int(n), err}
			}()
		}
		wg.Wait()
		peak := vmHWM(t, p.PID())
		total := 0
		for i, r := range results {
			if r.err != nil || r.status != 200 {
				t.Errorf("%d keys, query %d: status %d, %v", keys, i, r.status, r.err)
			}
			total += r.bytes
		}
		t.Logf("%d key(s), 20 queries in %s, %d MB served; peak RSS (VmHWM) so far %d MB", keys,
			time.Since(start).Round(time.Millisecond), total>>20, peak>>10)
		if peak > 512<<10 {
			t.Errorf("peak RSS %d MB, bound 512 MB", peak>>10)
		}
	}
}

// vmHWM returns the process's peak resident set size, in KiB.
func vmHWM(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no VmHWM in /proc/%d/status", pid)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}
