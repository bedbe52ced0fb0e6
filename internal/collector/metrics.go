package collector

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	received      *prometheus.CounterVec
	rejected      *prometheus.CounterVec
	accepted      *prometheus.CounterVec
	quarantined   *prometheus.CounterVec
	batches       prometheus.Counter
	published     prometheus.Counter
	publishErrors prometheus.Counter
	duplicates    prometheus.Counter
	publishTime   prometheus.Histogram
	queued        prometheus.Gauge
	inFlight      prometheus.Gauge
	connections   *prometheus.GaugeVec
	connClosed    *prometheus.CounterVec
	connRefused   *prometheus.CounterVec
	invalidUTF8   *prometheus.CounterVec
	objects       prometheus.Gauge
	spooled       prometheus.Gauge
	siteBytes     prometheus.Gauge
	siteMsgs      prometheus.Gauge
	siteAge       prometheus.Gauge
	siteDropped   prometheus.Counter
	recovered     prometheus.Counter
	regUpdates    prometheus.Counter
	clockSkew     *prometheus.CounterVec
}

func newMetrics(r prometheus.Registerer) *metrics {
	m := &metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kuzet_collector_records_received_total", Help: "Raw records taken off an input.",
		}, []string{"input"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kuzet_collector_records_rejected_total", Help: "Records rejected by an input or its pipeline, by reason.",
		}, []string{"input", "reason"}),
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kuzet_collector_events_accepted_total", Help: "Normalised events accepted, by registry match (known or unknown asset).",
		}, []string{"input", "asset"}),
		quarantined: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kuzet_collector_records_quarantined_total", Help: "Rejected records kept as pipeline_error events, by reason.",
		}, []string{"input", "reason"}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kuzet_collector_batches_published_total", Help: "Batch envelopes stored by JetStream.",
		}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kuzet_collector_events_published_total", Help: "Events in batch envelopes stored by JetStream.",
		}),
		publishErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kuzet_collector_publish_retries_total", Help: "Failed publish attempts that were retried.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kuzet_collector_publish_duplicates_total", Help: "Publishes JetStream reported as duplicates of a stored batch.",
		}),
		publishTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "kuzet_collector_publish_seconds", Help: "Time to store one batch, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 9),
		}),
		queued: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kuzet_collector_batches_queued", Help: "Sealed batches waiting for a publisher.",
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kuzet_collector_batches_in_flight", Help: "Batches being published.",
		}),
		connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kuzet_collector_connections", Help: "Open stream connections per input.",
		}, []string{"input"}),
		connClosed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kuzet_collector_connections_closed_total",
			Help: "Stream connections closed, by reason (eof, idle_timeout, error, shutdown).",
		}, []string{"input", "reason"}),
		connRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kuzet_collector_connections_refused_total",
			Help: "Stream connections refused at accept, by reason (max_conns, max_conns_per_ip).",
		}, []string{"input", "reason"}),
		invalidUTF8: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kuzet_collector_records_invalid_utf8_total",
			Help: "Records with invalid UTF-8 kept (invalid bytes replaced, exact bytes in kuzet.original_b64).",
		}, []string{"input"}),
		objects: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kuzet_collector_registry_objects", Help: "Critical objects of this OISC in the registry snapshot in use.",
		}),
		spooled: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kuzet_collector_spool_bytes", Help: "Bytes of accepted events in the spool not yet confirmed published.",
		}),
		siteBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kuzet_collector_site_buffered_bytes", Help: "Bytes in the site buffer not yet confirmed by the NCC.",
		}),
		siteMsgs: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kuzet_collector_site_buffered_batches", Help: "Batch envelopes in the site buffer not yet confirmed by the NCC.",
		}),
		siteAge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kuzet_collector_site_oldest_buffered_seconds", Help: "Age of the oldest envelope in the site buffer (0 when empty).",
		}),
		siteDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kuzet_collector_site_dropped_batches_total", Help: "Envelopes the site buffer dropped under the drop_oldest policy.",
		}),
		recovered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kuzet_collector_spool_recovered_events_total", Help: "Events republished from the spool after a restart.",
		}),
		regUpdates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kuzet_collector_registry_updates_total", Help: "Registry snapshots applied.",
		}),
	}
	m.clockSkew = newClockSkewMetric(r)
	r.MustRegister(m.received, m.rejected, m.accepted, m.quarantined, m.batches, m.published, m.publishErrors,
		m.duplicates, m.publishTime, m.queued, m.inFlight, m.connections, m.connClosed, m.connRefused, m.invalidUTF8, m.objects, m.regUpdates, m.spooled, m.recovered,
		m.siteBytes, m.siteMsgs, m.siteAge, m.siteDropped)
	return m
}
