// Package telemetry holds what every role shares for observability: the
// slog logger built from configuration, the Prometheus registry with build
// information, readiness checks, and the operational HTTP server that serves
// /metrics, /healthz (alive) and /readyz (ready for traffic).
package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kuzet-kz/kuzet/internal/config"
)

// NewLogger returns a logger writing cfg's format at cfg's level to w.
func NewLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// OrDiscard returns l, or a logger that discards when l is nil.
func OrDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// Version is the module version of the running binary ("devel" in builds
// from a work tree).
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// NewRegistry returns a registry with the Go runtime, process and build
// collectors, for a role's main (tests use prometheus.NewPedanticRegistry).
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector())
	return r
}

// Registries returns the registerer and gatherer a role uses: a new
// registry when none is given, and the registerer itself as gatherer when
// it is one.
func Registries(r prometheus.Registerer, g prometheus.Gatherer) (prometheus.Registerer, prometheus.Gatherer) {
	if r == nil {
		r = prometheus.NewRegistry()
	}
	if g == nil {
		if rg, ok := r.(prometheus.Gatherer); ok {
			g = rg
		} else {
			g = prometheus.DefaultGatherer
		}
	}
	return r, g
}

// Readiness tracks named readiness checks; the role is ready when every
// check is set and passing. Safe for concurrent use.
type Readiness struct {
	mu     sync.Mutex
	checks map[string]error
	probes map[string]func() error
}

// ErrPending is the state of a check that has not reported yet.
var ErrPending = errors.New("not yet checked")

// NewReadiness returns a tracker with the named checks pending.
func NewReadiness(names ...string) *Readiness {
	r := &Readiness{checks: map[string]error{}}
	for _, n := range names {
		r.checks[n] = ErrPending
	}
	return r
}

// Set records the state of a check (nil: passing).
func (r *Readiness) Set(name string, err error) {
	r.mu.Lock()
	r.checks[name] = err
	r.mu.Unlock()
}

// SetProbe makes a check that runs probe at each readiness query (nil:
// passing); probe must return quickly.
func (r *Readiness) SetProbe(name string, probe func() error) {
	r.mu.Lock()
	if r.probes == nil {
		r.probes = map[string]func() error{}
	}
	r.probes[name] = probe
	r.mu.Unlock()
}

// Ready reports whether every check passes, and each failing check's error.
func (r *Readiness) Ready() (bool, map[string]string) {
	r.mu.Lock()
	failing := map[string]string{}
	for n, err := range r.checks {
		if err != nil {
			failing[n] = err.Error()
		}
	}
	probes := make(map[string]func() error, len(r.probes))
	for n, p := range r.probes {
		probes[n] = p
	}
	r.mu.Unlock()
	for n, p := range probes {
		if err := p(); err != nil {
			failing[n] = err.Error()
		}
	}
	return len(failing) == 0, failing
}

// Handler returns the /readyz handler: 200 with {"status":"ready"}, or 503
// with the failing checks.
func (r *Readiness) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		ok, failing := r.Ready()
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
			names := make([]string, 0, len(failing))
			for n := range failing {
				names = append(names, n)
			}
			sort.Strings(names)
			_ = json.NewEncoder(w).Encode(map[string]any{"status": "not ready", "failing": failing})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "ready"})
	})
}

// OpsMux returns the mux for a role's ops listener: empty, or with
// net/http/pprof under /debug/pprof/ when cfg.PProf is set (for
// `make loadtest PROFILE=1` and `go tool pprof http://ADDR/debug/pprof/profile`).
func OpsMux(cfg config.HTTP) *http.ServeMux {
	mux := http.NewServeMux()
	if cfg.PProf {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// OpsServer is a role's operational HTTP server.
type OpsServer struct {
	srv *http.Server
	ln  net.Listener
	log *slog.Logger
}

// StartOps listens on addr and serves /metrics from g, /healthz and /readyz;
// extra handlers may be added to mux by the caller before StartOps (nil mux
// is fine). An empty addr starts nothing and returns nil.
func StartOps(addr string, g prometheus.Gatherer, ready *Readiness, mux *http.ServeMux, log *slog.Logger) (*OpsServer, error) {
	if addr == "" {
		return nil, nil
	}
	if mux == nil {
		mux = http.NewServeMux()
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorLog: nil}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"alive"}`+"\n")
	})
	mux.Handle("GET /readyz", ready.Handler())
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &OpsServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, ln: ln, log: OrDiscard(log)}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("ops server", "err", err)
		}
	}()
	return s, nil
}

// Addr returns the listening address.
func (s *OpsServer) Addr() string {
	if s == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Stop shuts the server down within ctx. Safe on a nil server.
func (s *OpsServer) Stop(ctx context.Context) error {
	if s == nil {
		return nil
	}
	return s.srv.Shutdown(ctx)
}
