package collector_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/bus/bustest"
	"github.com/kuzet-kz/kuzet/internal/collector"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/pipeline"
	"github.com/kuzet-kz/kuzet/internal/proctest"
)

type fileFixture struct {
	*fixture
	dir, logs string
	cfg       config.Collector
}

// newFileFixture runs a collector with a file input over <logs>/*.log
// using the real pipelines.
func newFileFixture(t *testing.T, pipelineName string) *fileFixture {
	t.Helper()
	ff := &fileFixture{dir: t.TempDir(), logs: t.TempDir()}
	s := bustest.Server(t)
	_, js := bustest.Connect(t, s)
	ff.fixture = &fixture{js: js, reg: prometheus.NewPedanticRegistry()}
	cfg := config.DefaultCollector()
	cfg.ID, cfg.OISC, cfg.NATS.URL, cfg.DataDir = "c1", "oisc-almaty", s.ClientURL(), ff.dir
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Batch.Linger = 50 * time.Millisecond
	cfg.Inputs = []config.Input{{Name: "files", Type: config.InputFile, Paths: []string{filepath.Join(ff.logs, "*.log")},
		Pipeline: pipelineName, MaxRecord: 512}}
	ff.cfg = cfg
	ff.start(t)
	return ff
}

func (ff *fileFixture) start(t *testing.T) {
	t.Helper()
	set, err := pipeline.Default()
	if err != nil {
		t.Fatal(err)
	}
	c, err := collector.New(collector.Options{Config: ff.cfg, Streams: collector.PipelineStreams(set),
		Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop(context.Background()) })
	ff.c = c
}

func (ff *fileFixture) stop(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ff.c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

func appendLines(t *testing.T, path string, from, to int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	for i := from; i < to; i++ {
		fmt.Fprintf(f, `{"msg":"line %d","host":"ems-01"}`+"\n", i)
	}
	f.Close()
}

// messages returns how many times each "line N" message was published.
func (ff *fileFixture) messages(t *testing.T, want int) map[string]int {
	t.Helper()
	counts := map[string]int{}
	proctest.Eventually(t, 15*time.Second, func(context.Context) error {
		counts = map[string]int{}
		for _, ev := range ff.events(t) {
			counts[ev.Message]++
		}
		if len(counts) < want {
			return fmt.Errorf("%d of %d lines published", len(counts), want)
		}
		return nil
	})
	time.Sleep(300 * time.Millisecond)
	counts = map[string]int{}
	for _, ev := range ff.events(t) {
		counts[ev.Message]++
	}
	return counts
}

func checkOnce(t *testing.T, counts map[string]int, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if c := counts[fmt.Sprintf("line %d", i)]; c != 1 {
			t.Errorf("line %d published %d times", i, c)
		}
	}
	if len(counts) != n {
		t.Errorf("%d distinct messages, want %d", len(counts), n)
	}
}

func TestFileTailRotationAndRestart(t *testing.T) {
	ff := newFileFixture(t, "ndjson")
	log := filepath.Join(ff.logs, "app.log")
	appendLines(t, log, 0, 50)
	ff.messages(t, 50)
	// A line written in two parts is read once, whole.
	f, _ := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
	fmt.Fprint(f, `{"msg":"line 50",`)
	f.Sync()
	time.Sleep(500 * time.Millisecond)
	fmt.Fprint(f, `"host":"ems-01"}`+"\n")
	f.Close()
	// Rotation by rename: the old file keeps its tail, the new one starts at 0.
	appendLines(t, log, 51, 60)
	if err := os.Rename(log, filepath.Join(ff.logs, "app.log.1")); err != nil {
		t.Fatal(err)
	}
	appendLines(t, filepath.Join(ff.logs, "app.log.1"), 60, 62) // written to the renamed file by a slow writer
	appendLines(t, log, 62, 80)
	counts := ff.messages(t, 80)
	checkOnce(t, counts, 80)
	// Restart: nothing read twice, the new lines read.
	ff.stop(t)
	appendLines(t, log, 80, 100)
	ff.start(t)
	checkOnce(t, ff.messages(t, 100), 100)
	// copytruncate: the file is copied away and truncated in place.
	data, _ := os.ReadFile(log)
	os.WriteFile(filepath.Join(ff.logs, "app.log.2"), data, 0o644)
	if err := os.Truncate(log, 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	appendLines(t, log, 100, 110)
	checkOnce(t, ff.messages(t, 110), 110)
	for _, ev := range ff.events(t) {
		if ev.Log == nil || ev.Log.File == nil || !strings.HasPrefix(ev.Log.File.Path, ff.logs) {
			t.Fatalf("event without its file: %+v", ev.Log)
		}
	}
}

func TestFileOversizeAndAuditd(t *testing.T) {
	ff := newFileFixture(t, "auditd")
	log := filepath.Join(ff.logs, "audit.log")
	text := `type=SYSCALL msg=audit(1700000000.5:77): arch=c000003e syscall=59 success=yes exit=0 items=2 ppid=10 pid=11 auid=1000 uid=0 comm="sh" exe="/usr/bin/dash" key="exec"
type=EXECVE msg=audit(1700000000.5:77): argc=3 a0="sh" a1="-c" a2=6563686F2068656C6C6F
type=PATH msg=audit(1700000000.5:77): item=0 name="/usr/bin/sh" nametype=NORMAL
type=EOE msg=audit(1700000000.5:77):
type=SYSCALL msg=audit(1700000001.0:78): arch=c000003e syscall=2 success=no exit=-13 items=1 ppid=1 pid=2 comm="cat" exe="/bin/cat" key="` + strings.Repeat("k", 600) + `"
type=USER_LOGIN msg=audit(1700000002.0:79): pid=5 uid=0 msg='op=login acct="root" addr=45.155.205.233 res=failed'
`
	os.WriteFile(log, []byte(text), 0o644)
	var evs []event.Event
	proctest.Eventually(t, 15*time.Second, func(context.Context) error {
		evs = ff.events(t)
		if len(evs) < 3 {
			return fmt.Errorf("%d events", len(evs))
		}
		return nil
	})
	var exec, login, quarantined int
	for _, ev := range evs {
		switch {
		case ev.Event.Kind == "pipeline_error":
			quarantined++
		case ev.Auditd["a2"] == "echo hello":
			exec++
		case ev.Auditd["acct"] == "root":
			login++
		}
	}
	if exec != 1 || login != 1 || quarantined != 1 {
		t.Errorf("exec %d, login %d, quarantined oversize %d (events %d)", exec, login, quarantined, len(evs))
	}
}
