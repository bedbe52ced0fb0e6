package ncc_test

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// metricValue is a prometheus.Collector for one value found by name (and
// label) in a registry, for testutil.ToFloat64.
type metricValue struct {
	desc *prometheus.Desc
	v    float64
}

func (m metricValue) Describe(ch chan<- *prometheus.Desc) { ch <- m.desc }
func (m metricValue) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(m.desc, prometheus.UntypedValue, m.v)
}

func find(g prometheus.Gatherer, name, label, value string) float64 {
	mfs, err := g.Gather()
	if err != nil {
		return -1
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label != "" && !hasLabel(m, label, value) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			}
		}
	}
	return 0
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

func gauge(g prometheus.Gatherer, name string) prometheus.Collector {
	return metricValue{prometheus.NewDesc("x", "x", nil, nil), find(g, name, "", "")}
}

func counterVec(g prometheus.Gatherer, name, label, value string) prometheus.Collector {
	return metricValue{prometheus.NewDesc("x", "x", nil, nil), find(g, name, label, value)}
}
