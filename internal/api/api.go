// Package api is the kuzet-api role: a Fiber HTTP server for analysts,
// critical-object owners and regulators.
//
// Every /api route but the public OpenAPI document (GET
// /api/v1/openapi.json) is authenticated with an API key (Authorization: Bearer
// <key>, or X-API-Key) and scoped by the key's role: the scope is applied
// inside the ClickHouse query (store.EventQuery.Scope), never only here.
// Keys come from the configuration (keys:, by hash) and from the store
// (api_keys, made by an admin through /api/v1/admin/keys or `kuzet apikey
// create`): the stored keys are read at most once per
// stored_keys.cache_ttl, so a revocation takes effect on every instance
// within it; an unknown, expired or revoked key answers the same 401 and is
// counted by reason (kuzet_api_auth_failures_total). A stored key can be
// rotated (a new secret; the old one works for a grace period). With
// oidc.issuer set, a bearer credential shaped as a JWT is an OIDC token,
// verified against the issuer's JWKS and mapped to a role and scope as a
// key's (oidc.go). An address with too many refused credentials in a window
// answers 429 before any is checked (authfail.go; behind trusted_proxies
// the address is X-Forwarded-For's).
//
// Reads of incident, event and alert data and every key change are audited
// (see audited and auditor): one record per request, appended before the
// answer leaves to this instance's hash chain (audit.instance), its head
// kept in the NATS KV bucket when nats.url is set. A request whose record
// cannot be written answers 503 audit_unavailable.
// The web console (internal/console) is served outside /api, at / and
// /console/*, without a key: its assets hold no data, and the page calls
// /api/v1 with the key a person signs in with, as a bearer token.
//
// Errors are JSON {"error":{"code","message","field"}} with a stable code
// (see the Code* constants). /healthz and /readyz need no key; /metrics is
// served on the operational listener (http.listen) only, never on the
// public port.
//
// Limits (config.APILimits): each key has a request rate (429 rate_limited
// with Retry-After) and at most max_concurrent_queries_per_key page queries
// running, the API max_concurrent_queries in total; others queue, then get
// 429 too_many_queries. A page is bounded by rows (limit) and bytes
// (max_response_bytes, ending early with next_cursor), is written into the
// response as it is read, and its query is bounded by query_timeout, which
// ClickHouse enforces too (max_execution_time). Memory is thus bounded by
// about max_concurrent_queries x max_response_bytes x 10 (see README).
package api

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/lifecycle"
	"github.com/kuzet-kz/kuzet/internal/registry"
	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/telemetry"
)

// Stable error codes.
const (
	CodeUnauthorized     = "unauthorized"
	CodeForbidden        = "forbidden"
	CodeInvalidParameter = "invalid_parameter"
	CodeInvalidTime      = "invalid_time"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeTooLarge         = "request_too_large"
	CodeRateLimited      = "rate_limited"
	CodeTooManyQueries   = "too_many_queries"
	CodeUnavailable      = "unavailable"
	CodeInternal         = "internal"
	CodeInvalidBody      = "invalid_body"
	CodeUnknownField     = "unknown_field"
	CodeConflict         = "conflict"
	// CodeAuditUnavailable: the request's audit record could not be
	// written, so it was not served (503).
	CodeAuditUnavailable = "audit_unavailable"
)

// Error is an API error: HTTP status, stable code, safe message and, for
// parameter errors, the parameter's name.
type Error struct {
	Status  int
	Code    string
	Message string
	Field   string
	// Err is the cause, logged, never shown.
	Err error
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func badParam(field, format string, args ...any) *Error {
	return &Error{Status: fiber.StatusBadRequest, Code: CodeInvalidParameter, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Options configure a Server.
type Options struct {
	Config config.API
	// Store is used instead of opening one from Config.ClickHouse (tests
	// share one; `kuzet run` lets the API open a pool of its own, apart from
	// the ncc's writer). The Server does not close it.
	Store *store.Store
	// Bus is used instead of dialling Config.NATS (tests, `kuzet run`);
	// the Server does not close it. Neither: changes answer 503.
	Bus        *bus.Client
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	Now        func() time.Time
	// AuditHeads keeps the heads of the audit chains; nil: Start opens the
	// bucket when nats.url is set (the Server then closes it), else none.
	AuditHeads HeadStore
	// Registry is what new keys' org and oisc are checked against; nil:
	// registry_file, loaded on first use.
	Registry *registry.Registry
	// OIDCClient reads the OIDC issuer's discovery document and keys
	// (tests: a client trusting their server); nil: a default client.
	OIDCClient *http.Client
}

// Server is a running API server.
type Server struct {
	opts     Options
	cfg      config.API
	log      *slog.Logger
	app      *fiber.App
	st       *store.Store
	ownStore bool
	// bus reaches JetStream and the ncc (nil: the API is read-only).
	bus     *bus.Client
	keys    map[string]access.Principal // by key hash
	m       *metrics
	lim     *limiter
	now     func() time.Time
	ln      net.Listener
	ops     *telemetry.OpsServer
	allow   map[string]string // Allow header by route path
	served  chan error
	ring    *keyring
	oidc    *oidcVerifier // nil: no OIDC tokens
	fails   *failTracker  // failed authentications by address
	proxies []netip.Prefix
	aud     *auditor
	headsMu sync.Mutex
	heads   HeadStore
	regMu   sync.Mutex
	reg     *registry.Registry
	// cleanup releases, last first, what Start acquired; Stop runs it.
	cleanup  lifecycle.Stack
	stopOnce sync.Once
	stopErr  error
}

// New validates the options and builds the routes. It does no I/O.
func New(opts Options) (*Server, error) {
	if err := opts.Config.Validate(); err != nil {
		return nil, err
	}
	opts.Registerer, opts.Gatherer = telemetry.Registries(opts.Registerer, opts.Gatherer)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts: opts, cfg: opts.Config, st: opts.Store, bus: opts.Bus, now: opts.Now, m: newMetrics(opts.Registerer),
		log:  telemetry.OrDiscard(opts.Logger).With("role", "api"),
		keys: map[string]access.Principal{}, lim: newLimiter(opts.Config.Limits, opts.Now),
	}
	for _, k := range opts.Config.Keys {
		s.keys[k.Hash] = k.Principal()
	}
	s.ring = &keyring{ttl: opts.Config.StoredKeys.CacheTTL, now: opts.Now}
	if opts.Config.OIDC.Enabled() {
		s.oidc = newOIDCVerifier(opts.Config.OIDC, opts.OIDCClient, opts.Now, s.log)
	}
	for _, r := range oidcReasons {
		s.m.authFailures.WithLabelValues(r)
	}
	s.fails = newFailTracker(opts.Config.Limits.MaxAuthFailuresPerIP, opts.Config.Limits.AuthFailureWindow, opts.Now)
	proxies, err := config.ParseTrustedProxies(opts.Config.TrustedProxies)
	if err != nil {
		return nil, err
	}
	s.proxies = proxies
	s.heads, s.reg = opts.AuditHeads, opts.Registry
	instance := opts.Config.Audit.Instance
	if instance == "" {
		h, err := os.Hostname()
		if err != nil || !config.ValidInstance(h) {
			h = "kuzet-api"
		}
		instance = h
	}
	s.aud = newAuditor(instance, opts.Config.Audit.MaxBatch, opts.Config.Audit.WriteTimeout, s.log, s.m,
		func() (auditStore, HeadStore) {
			s.headsMu.Lock()
			defer s.headsMu.Unlock()
			if s.st == nil {
				return nil, s.heads
			}
			return s.st, s.heads
		})
	s.app = fiber.New(fiber.Config{
		AppName:               "kuzet-api",
		DisableStartupMessage: true,
		ErrorHandler:          s.errorHandler,
		BodyLimit:             1 << 20,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          60 * time.Second,
		IdleTimeout:           2 * time.Minute,
		ReadBufferSize:        16 << 10,
		StrictRouting:         false,
		CaseSensitive:         true,
	})
	s.routes()
	return s, nil
}

// securityHeaders are set on every response: the API serves data, never
// pages, so nothing may sniff, cache, frame or script it.
var securityHeaders = [][2]string{
	{fiber.HeaderXContentTypeOptions, "nosniff"},
	{fiber.HeaderCacheControl, "no-store"},
	{fiber.HeaderContentSecurityPolicy, "default-src 'none'; frame-ancestors 'none'"},
	{fiber.HeaderReferrerPolicy, "no-referrer"},
}

func (s *Server) routes() {
	app := s.app
	app.Use(recover.New())
	app.Use(func(c *fiber.Ctx) error {
		for _, h := range securityHeaders {
			c.Set(h[0], h[1])
		}
		return c.Next()
	})
	app.Use(requestIDs)
	app.Use(s.observe)
	app.Get("/healthz", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "alive"}) })
	app.Get("/readyz", s.readyz)
	// The OpenAPI document is public: registered before the group, whose
	// authentication it never reaches.
	app.Get("/api/v1/openapi.json", s.openAPI)
	s.mountConsole(app)
	v1 := app.Group("/api/v1", s.authenticate)
	v1.Get("/whoami", s.whoami)
	v1.Get("/sectors", s.sectors)
	v1.Get("/events", s.audited("event.list", "event"), s.listEvents)
	v1.Get("/alerts", s.audited("alert.list", "alert"), s.listAlerts)
	v1.Get("/incidents", s.audited("incident.list", "incident"), s.listIncidents)
	v1.Get("/incidents/:id", s.audited("incident.get", "incident"), s.getIncident)
	v1.Get("/incidents/:id/notifications", s.audited("incident.notifications", "incident"), s.incidentNotifications)
	v1.Get("/incidents/:id/report", s.audited("incident.report", "incident"), s.incidentReport)
	v1.Post("/incidents", s.audited("incident.create", "incident"), s.createIncident)
	v1.Patch("/incidents/:id", s.audited("incident.change", "incident"), s.patchIncident)
	v1.Post("/incidents/:id/declare", s.audited("incident.declare", "incident"), s.declareIncident)
	v1.Post("/incidents/:id/merge", s.audited("incident.merge", "incident"), s.mergeIncident)
	v1.Post("/incidents/:id/split", s.audited("incident.split", "incident"), s.splitIncident)
	v1.Post("/alerts/triage", s.audited("alert.triage_bulk", "alert"), s.bulkTriage)
	v1.Post("/alerts/:id/triage", s.audited("alert.triage", "alert"), s.triageAlert)
	v1.Get("/silences", s.audited("silence.list", "silence"), s.listSilences)
	v1.Post("/silences", s.audited("silence.create", "silence"), s.createSilence)
	v1.Delete("/silences/:id", s.audited("silence.expire", "silence"), s.expireSilence)
	v1.Post("/silences/:id/expire", s.audited("silence.expire", "silence"), s.expireSilence)
	v1.Get("/stats/incidents", s.audited("stats.incidents", "stats"), s.incidentStats)
	v1.Get("/stats/response-times", s.audited("stats.response_times", "stats"), s.responseTimes)
	v1.Get("/stats/timeliness", s.audited("stats.timeliness", "stats"), s.timeliness)
	v1.Get("/reports", s.audited("report.list", "report"), s.listReports)
	v1.Post("/reports", s.audited("report.create", "report"), s.createReport)
	v1.Get("/reports/:id", s.audited("report.get", "report"), s.getReport)
	v1.Get("/notifications", s.audited("notification.list", "notification"), s.listNotifications)
	v1.Post("/notifications/:id/ack", s.audited("notification.ack", "notification"), s.ackNotification)
	v1.Post("/admin/keys", s.audited("apikey.create", "apikey"), adminOnly, s.createKey)
	v1.Get("/admin/keys", s.audited("apikey.list", "apikey"), adminOnly, s.listKeys)
	v1.Delete("/admin/keys/:id", s.audited("apikey.revoke", "apikey"), adminOnly, s.revokeKey)
	v1.Post("/admin/keys/:id/revoke", s.audited("apikey.revoke", "apikey"), adminOnly, s.revokeKey)
	v1.Post("/admin/keys/:id/rotate", s.audited("apikey.rotate", "apikey"), adminOnly, s.rotateKey)
	v1.Get("/admin/registry", s.audited("registry.get", "registry"), adminOnly, s.getRegistry)
	v1.Put("/admin/registry", s.audited("registry.import", "registry"), adminOnly, s.putRegistry)
	v1.Put("/admin/registry/:kind/:id", s.audited("registry.put", "registry"), adminOnly, s.changeRegistryEntry)
	v1.Delete("/admin/registry/:kind/:id", s.audited("registry.delete", "registry"), adminOnly, s.changeRegistryEntry)
	// Any other method on a known path is 405 with Allow (Fiber adds HEAD
	// to every GET route).
	methods := map[string][]string{}
	for _, r := range app.GetRoutes(true) {
		if r.Path == "/" || r.Method == fiber.MethodHead {
			continue
		}
		methods[r.Path] = append(methods[r.Path], r.Method)
		if r.Method == fiber.MethodGet {
			methods[r.Path] = append(methods[r.Path], fiber.MethodHead)
		}
	}
	s.allow = map[string]string{}
	for p, ms := range methods {
		slices.Sort(ms)
		s.allow[p] = strings.Join(slices.Compact(ms), ", ")
	}
	app.Use(func(c *fiber.Ctx) error {
		if allow, ok := s.allow[c.Path()]; ok {
			c.Set(fiber.HeaderAllow, allow)
			return &Error{Status: fiber.StatusMethodNotAllowed, Code: CodeMethodNotAllowed,
				Message: "method " + c.Method() + " not allowed on " + c.Path() + " (allowed: " + allow + ")"}
		}
		return &Error{Status: fiber.StatusNotFound, Code: CodeNotFound, Message: "no such route: " + c.Method() + " " + c.Path()}
	})
}

// App returns the Fiber app, for in-process tests (app.Test).
func (s *Server) App() *fiber.App { return s.app }

// Start opens the store if none was given, then listens and serves.
func (s *Server) Start(ctx context.Context) error {
	if s.st == nil {
		st, err := store.Open(ctx, s.cfg.ClickHouse, s.log)
		if err != nil {
			return err
		}
		s.headsMu.Lock()
		s.st, s.ownStore = st, true
		s.headsMu.Unlock()
		s.cleanup.Push("clickhouse", func(context.Context) error { return st.Close() })
	}
	if s.bus == nil && s.cfg.NATS.URL != "" {
		c, err := bus.Dial(s.cfg.NATS, "kuzet-api", s.log)
		if err != nil {
			return err
		}
		s.bus = c
		s.cleanup.Push("nats", func(context.Context) error { c.Close(); return nil })
	}
	if s.heads == nil && s.cfg.NATS.URL != "" {
		h, err := bus.DialAuditHeads(ctx, s.cfg.NATS, "kuzet-api "+s.aud.instance, s.log)
		if err != nil {
			return fmt.Errorf("api: audit heads: %w", err)
		}
		s.headsMu.Lock()
		s.heads = h
		s.headsMu.Unlock()
		s.cleanup.Push("nats", func(context.Context) error { return h.Close() })
	}
	if s.heads == nil {
		s.log.Warn("audit: no nats.url, so the heads of the audit chain are not kept apart from its rows: records cut from the end will not show")
	}
	s.cleanup.Push("audit writer", s.aud.close)
	tc, err := s.tlsConfig()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("api: listen: %w", err)
	}
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	ready := telemetry.NewReadiness()
	ready.SetProbe("clickhouse", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return s.st.Ping(ctx)
	})
	if s.ops, err = telemetry.StartOps(s.cfg.HTTP.Listen, s.opts.Gatherer, ready, telemetry.OpsMux(s.cfg.HTTP), s.log); err != nil {
		_ = ln.Close()
		return fmt.Errorf("api: ops listener: %w", err)
	}
	s.cleanup.Push("ops listener", s.ops.Stop)
	s.ln = ln
	s.served = make(chan error, 1)
	go func() { s.served <- s.app.Listener(ln) }()
	s.cleanup.Push("http", func(ctx context.Context) error {
		err := s.app.ShutdownWithContext(ctx)
		select {
		case <-s.served:
		case <-ctx.Done():
		}
		return err
	})
	s.log.Info("api listening", "addr", ln.Addr().String(), "tls", tc != nil, "ops", s.ops.Addr(), "configured_keys", len(s.keys),
		"audit_instance", s.aud.instance)
	return nil
}

// tlsConfig returns the listener's TLS configuration, nil without tls_cert.
func (s *Server) tlsConfig() (*tls.Config, error) {
	if s.cfg.TLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("api: tls_cert/tls_key: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if s.cfg.TLSClientCA != "" {
		pem, err := os.ReadFile(s.cfg.TLSClientCA)
		if err != nil {
			return nil, fmt.Errorf("api: tls_client_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("api: tls_client_ca %s: no PEM certificates", s.cfg.TLSClientCA)
		}
		tc.ClientCAs, tc.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// OpsAddr is the address of the operational listener (/metrics, /healthz,
// /readyz), "" when it is disabled.
func (s *Server) OpsAddr() string { return s.ops.Addr() }

// Addr is the listening address.
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Stop stops accepting, lets requests in flight finish, stops the ops
// listener and closes the store it opened, in reverse order of
// acquisition, within the earlier of ctx's end and stop_timeout (also when
// ctx never ends). Idempotent.
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.stopErr = s.cleanup.Run(ctx, s.cfg.StopTimeout)
		// Without Start (in-process tests) the writer is not on the stack.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.StopTimeout)
		defer cancel()
		if err := s.aud.close(actx); err != nil {
			s.stopErr = errors.Join(s.stopErr, fmt.Errorf("audit writer: %w", err))
		}
	})
	return s.stopErr
}

// Run serves until ctx ends, then stops within the stop timeout.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(ctx); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case err := <-s.served:
		return err
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.StopTimeout)
	defer cancel()
	return s.Stop(sctx)
}

func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	var ae *Error
	var fe *fiber.Error
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &fe):
		ae = &Error{Status: fe.Code, Code: fiberCode(fe.Code), Message: fe.Message}
	case errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded):
		ae = &Error{Status: fiber.StatusServiceUnavailable, Code: CodeUnavailable, Message: "the event store is unavailable; retry later", Err: err}
	default:
		ae = &Error{Status: fiber.StatusInternalServerError, Code: CodeInternal, Message: "internal error", Err: err}
	}
	if ae.Status >= 500 {
		s.log.Error("request failed", "method", c.Method(), "path", c.Path(), "code", ae.Code, "err", ae.Err)
	}
	if ae.Status < 500 {
		s.m.rejected.WithLabelValues(ae.Code).Inc()
	}
	body := fiber.Map{"code": ae.Code, "message": ae.Message}
	if ae.Field != "" {
		body["field"] = ae.Field
	}
	if ae.Status == fiber.StatusUnauthorized {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="kuzet"`)
	}
	return c.Status(ae.Status).JSON(fiber.Map{"error": body})
}

func fiberCode(status int) string {
	switch status {
	case fiber.StatusNotFound:
		return CodeNotFound
	case fiber.StatusMethodNotAllowed:
		return CodeMethodNotAllowed
	case fiber.StatusRequestEntityTooLarge:
		return CodeTooLarge
	case fiber.StatusBadRequest:
		return CodeInvalidParameter
	}
	if status >= 500 {
		return CodeInternal
	}
	return "http_" + strconv.Itoa(status)
}

func (s *Server) observe(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	if err != nil {
		if herr := s.app.ErrorHandler(c, err); herr != nil {
			return herr
		}
	}
	route := "unmatched"
	if r := c.Route(); r != nil && r.Path != "/" && r.Path != "" {
		route = r.Path
	}
	status := c.Response().StatusCode()
	s.m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	s.m.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	return nil
}

func (s *Server) readyz(c *fiber.Ctx) error {
	if s.st == nil {
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "not ready", "failing": fiber.Map{"clickhouse": "not opened"}})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.st.Ping(ctx); err != nil {
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "not ready", "failing": fiber.Map{"clickhouse": "unavailable"}})
	}
	return c.JSON(fiber.Map{"status": "ready"})
}
