package api

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	rejected *prometheus.CounterVec
	// Query limits.
	inFlight  prometheus.Gauge
	queued    prometheus.Gauge
	wait      prometheus.Histogram
	byteBound prometheus.Counter
	// Keys and audit.
	authFailures  *prometheus.CounterVec
	authBlocked   prometheus.Counter
	authAddrs     prometheus.Gauge
	auditRecords  prometheus.Counter
	auditFailures *prometheus.CounterVec
}

func newMetrics(r prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kuzet_api_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kuzet_api_request_seconds", Help: "HTTP request duration by route.",
			Buckets: prometheus.ExponentialBuckets(0.001, 3, 10),
		}, []string{"route"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kuzet_api_rejected_total", Help: "Requests refused (4xx) by stable error code.",
		}, []string{"reason"}),
	}
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kuzet_api_queries_in_flight", Help: "Page queries running (bounded by limits.max_concurrent_queries).",
	})
	m.queued = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kuzet_api_queries_waiting", Help: "Page queries waiting for a query slot.",
	})
	m.wait = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "kuzet_api_query_wait_seconds", Help: "Time page queries waited for a query slot.",
		Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
	})
	m.byteBound = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kuzet_api_pages_byte_bounded_total", Help: "Pages ended early at limits.max_response_bytes (with a next cursor).",
	})
	m.authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kuzet_api_auth_failures_total",
		Help: "API keys and bearer tokens refused by reason: missing, malformed, unknown, expired, revoked, rotated (a previous secret past its grace), unavailable (the stored keys could not be read); oidc_* for OIDC tokens.",
	}, []string{"reason"})
	m.authBlocked = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kuzet_api_auth_blocked_total",
		Help: "Requests refused with 429 because their address failed to authenticate limits.max_auth_failures_per_ip times within limits.auth_failure_window.",
	})
	m.authAddrs = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kuzet_api_auth_failure_addresses", Help: "Addresses (IPv6: /64s) whose failed authentications are being counted.",
	})
	m.auditRecords = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kuzet_api_audit_records_total", Help: "Audit records appended to this instance's chain.",
	})
	m.auditFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kuzet_api_audit_failures_total",
		Help: "Audit log problems by reason: sync (head unreadable), append (records not stored: their requests answered 503), head (head not stored), truncated (rows found ending before the head).",
	}, []string{"reason"})
	for _, r := range []string{"missing", "malformed", "unknown", "expired", "revoked", "rotated", "unavailable"} {
		m.authFailures.WithLabelValues(r)
	}
	for _, r := range []string{"sync", "append", "head", "truncated"} {
		m.auditFailures.WithLabelValues(r)
	}
	r.MustRegister(m.requests, m.duration, m.rejected, m.inFlight, m.queued, m.wait, m.byteBound, m.authFailures, m.authBlocked, m.authAddrs, m.auditRecords, m.auditFailures)
	return m
}
