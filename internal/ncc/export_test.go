package ncc

import (
	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/event"
)

// SetAckHook installs a hook called before held messages are acked; when it
// returns false the acks are skipped, as if they were lost after the insert.
func (n *NCC) SetAckHook(h func(msgs []bus.Delivery) bool) { n.ackHook = h }

// SetDetectHook installs a hook run before detection on each event.
func (n *NCC) SetDetectHook(h func(*event.Event)) { n.detectHook = h }

// DetectEvents loads the configured rules and runs the consumer's path for
// one event (event.Decode, then detection unless it is a pipeline error)
// over each of raws, returning the ids of the rules each one matched.
func (n *NCC) DetectEvents(raws [][]byte) ([][]string, error) {
	rs, err := n.loadRules()
	if err != nil {
		return nil, err
	}
	out := make([][]string, len(raws))
	for i, raw := range raws {
		ev, doc, err := event.Decode(raw)
		if err != nil {
			return nil, err
		}
		if doc == nil || ev.Event.Kind == "pipeline_error" {
			continue
		}
		alerts, _ := n.safeDetect(rs, ev, doc, n.now())
		for _, a := range alerts {
			out[i] = append(out[i], a.RuleID)
		}
	}
	return out, nil
}
