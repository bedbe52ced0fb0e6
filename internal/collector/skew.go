package collector

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/event"
)

func newClockSkewMetric(r prometheus.Registerer) *prometheus.CounterVec {
	m := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kuzet_collector_clock_skew_events_total",
		Help: "Events whose own time is more than clock_skew.future ahead of, or clock_skew.past behind, their receive time, " +
			"by input, device (the registry object; unknown when none matched) and direction (future, past).",
	}, []string{"input", "device", "direction"})
	r.MustRegister(m)
	return m
}

// skewLogEvery bounds the clock-skew warnings to one a minute per input.
const skewLogEvery = time.Minute

// checkSkew counts an event whose own time is too far from its receive
// time. Events that carry no time of their own (kuzet.time_source
// received) have none to be skewed. The device label is the registry
// object, so its values are bounded by the registry, not by what senders
// write.
func (c *Collector) checkSkew(input string, ev *event.Event) {
	if ev.Kuzet.TimeSource != event.TimeEvent {
		return
	}
	d := ev.Timestamp.Sub(ev.Kuzet.ReceivedAt)
	dir := ""
	switch max := c.cfg.ClockSkew; {
	case max.Future > 0 && d > max.Future:
		dir = "future"
	case max.Past > 0 && d < -max.Past:
		dir = "past"
	default:
		return
	}
	device := ev.Kuzet.Object
	if device == "" {
		device = event.AssetUnknown
	}
	c.m.clockSkew.WithLabelValues(input, device, dir).Inc()
	now := c.now()
	v, _ := c.skewLogged.LoadOrStore(input, new(atomic.Int64))
	last := v.(*atomic.Int64)
	if prev := last.Load(); now.UnixNano()-prev >= int64(skewLogEvery) && last.CompareAndSwap(prev, now.UnixNano()) {
		host := ""
		if ev.Host != nil {
			host = ev.Host.Name
		}
		c.log.Warn("clock skew: an event's time is far from its receive time", "input", input, "device", device, "host", host,
			"direction", dir, "skew", d.Round(time.Second), "timestamp", ev.Timestamp, "received_at", ev.Kuzet.ReceivedAt)
	}
}
