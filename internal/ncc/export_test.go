package ncc

import "github.com/nats-io/nats.go/jetstream"

// SetAckHook installs a hook called before held messages are acked; when it
// returns false the acks are skipped, as if they were lost after the insert.
func (n *NCC) SetAckHook(h func(msgs []jetstream.Msg) bool) { n.ackHook = h }
