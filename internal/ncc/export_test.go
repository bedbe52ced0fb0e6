package ncc

import (
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kuzet-kz/kuzet/internal/event"
)

// SetAckHook installs a hook called before held messages are acked; when it
// returns false the acks are skipped, as if they were lost after the insert.
func (n *NCC) SetAckHook(h func(msgs []jetstream.Msg) bool) { n.ackHook = h }

// SetDetectHook installs a hook run before detection on each event.
func (n *NCC) SetDetectHook(h func(*event.Event)) { n.detectHook = h }
