package ncc

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	siteForeign *prometheus.GaugeVec
	// siteForeignRejected counts sourced envelopes refused by the hub's
	// own check (bus.SourceIndex).
	siteForeignRejected *prometheus.CounterVec
	siteFilterResets    *prometheus.CounterVec
	// streamBytes and streamMaxBytes: how full the events and alerts
	// streams are (readStreams).
	streamBytes, streamMaxBytes *prometheus.GaugeVec
	batches                     prometheus.Counter
	events                      prometheus.Counter
	redelivered                 prometheus.Counter
	rejected                    *prometheus.CounterVec
	stored                      prometheus.Counter
	acked                       prometheus.Counter
	insertErrors                prometheus.Counter
	insertTime                  prometheus.Histogram
	writeStep                   *prometheus.HistogramVec
	batchBytes                  prometheus.Histogram
	latency                     prometheus.Histogram
	storeUp                     prometheus.Gauge
	pending                     prometheus.Gauge
	ackPending                  prometheus.Gauge

	alerts       *prometheus.CounterVec
	detectErrors prometheus.Counter
	// signalsRejected counts matches of correlation-referenced rules that
	// make no signal (a group-by field missing, ...), by reason.
	signalsRejected *prometheus.CounterVec
	rulesLoaded     prometheus.Gauge
	rulesRejected   prometheus.Counter
	ruleReloads     prometheus.Counter
}

func newMetrics(r prometheus.Registerer) *metrics {
	m := &metrics{
		batches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kuzet_ncc_batches_received_total", Help: "Batch envelopes fetched and decoded.",
		}),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kuzet_ncc_events_received_total", Help: "Events in fetched envelopes (redeliveries included).",
		}),
		redelivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kuzet_ncc_batches_redelivered_total", Help: "Envelopes delivered more than once.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kuzet_ncc_rejected_total", Help: "Envelopes or events that could not be decoded, by reason.",
		}, []string{"reason"}),
		stored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kuzet_ncc_events_stored_total", Help: "Event rows written to ClickHouse (a redelivered event counts again).",
		}),
		acked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kuzet_ncc_batches_acked_total", Help: "Envelopes acked after their events were stored.",
		}),
		insertErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kuzet_ncc_insert_errors_total", Help: "Failed INSERTs (retried).",
		}),
		insertTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "kuzet_ncc_insert_seconds", Help: "Duration of successful event INSERTs.",
			Buckets: prometheus.ExponentialBuckets(0.001, 3, 10),
		}),
		writeStep: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kuzet_ncc_write_step_seconds", Help: "Duration of each step of a successful batch write: events, alerts (the INSERTs), publish_alerts, publish_signals.",
			Buckets: prometheus.ExponentialBuckets(0.001, 3, 10),
		}, []string{"step"}),
		batchBytes: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "kuzet_ncc_batch_bytes", Help: "Bytes of the envelopes of each batch handed to the writer (decompressed body and message).",
			Buckets: prometheus.ExponentialBuckets(64<<10, 2, 12),
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "kuzet_ncc_event_latency_seconds", Help: "From acceptance at the collector to storage at the NCC (the INSERT returned: queryable).",
			// Fine around the seconds an operator's objective names (5 s),
			// and close enough beyond it that a bucket's bound is a useful
			// upper bound of the quantiles it holds.
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 10, 12, 15,
				20, 30, 45, 60, 90, 120, 180, 240, 300, 450, 600, 900, 1800, 3600},
		}),
		storeUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kuzet_ncc_store_up", Help: "1 when the last ClickHouse operation succeeded, 0 while it is unavailable.",
		}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kuzet_ncc_consumer_pending_messages", Help: "Envelopes in the stream not yet delivered to the consumer (lag).",
		}),
		ackPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kuzet_ncc_consumer_ack_pending_messages", Help: "Envelopes delivered and not yet acked.",
		}),
	}
	m.alerts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kuzet_ncc_alerts_total", Help: "Alerts produced by Sigma rules, by level (a redelivered event counts again).",
	}, []string{"level"})
	m.detectErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kuzet_ncc_detect_errors_total", Help: "Events on which detection failed (a rule-engine bug, recovered); each is stored without alerts.",
	})
	m.signalsRejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kuzet_ncc_signals_rejected_total", Help: "Matches of correlation-referenced rules that made no signal, by reason.",
	}, []string{"reason"})
	m.rulesLoaded = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kuzet_ncc_rules_loaded", Help: "Sigma rules in the running rule set.",
	})
	m.rulesRejected = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kuzet_ncc_rules_rejected_total", Help: "Sigma rules that did not parse or compile, at each load.",
	})
	m.ruleReloads = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kuzet_ncc_rule_reloads_total", Help: "Rule set reloads after the rule directories changed.",
	})
	m.siteForeign = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "kuzet_site_foreign_subject_messages", Help: "Messages a site buffer holds under another OISC's subjects: never sourced into the events stream.",
	}, []string{"site"})
	m.siteFilterResets = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kuzet_site_source_filter_resets_total", Help: "Times a site's source consumer had a filter other than its OISC's and the ncc set it back.",
	}, []string{"site"})
	m.siteForeignRejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kuzet_site_foreign_subject_rejected_total",
		Help: "Envelopes a site's source delivered under another OISC's subject, refused (terminated, not stored) by the ncc, by site."}, []string{"site"})
	m.streamBytes = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kuzet_stream_bytes",
		Help: "Bytes the events and alerts streams hold, read every 10 s by the ncc."}, []string{"stream"})
	m.streamMaxBytes = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kuzet_stream_max_bytes",
		Help: "The streams' max_bytes (nats.events_max_bytes; alerts an eighth): past it JetStream drops the oldest messages, read or not."}, []string{"stream"})
	r.MustRegister(m.siteForeign, m.siteFilterResets, m.siteForeignRejected, m.streamBytes, m.streamMaxBytes)
	r.MustRegister(m.alerts, m.detectErrors, m.signalsRejected, m.rulesLoaded, m.rulesRejected, m.ruleReloads)
	r.MustRegister(m.batches, m.events, m.redelivered, m.rejected, m.stored, m.acked, m.insertErrors, m.insertTime, m.writeStep, m.batchBytes,
		m.latency, m.storeUp, m.pending, m.ackPending)
	return m
}
