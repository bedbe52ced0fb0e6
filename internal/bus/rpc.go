package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/incident"
)

// Requests the API makes of the ncc, which owns incident writes: changes
// of an incident (compare-and-set on its revision, the If-Match of the
// API) and new incidents (an OISC's declaration, an owner's self-report).
// Any ncc instance answers (queue group kuzet-ncc); with none running the
// API answers 503.
const (
	RPCIncidentChange = "kuzet.rpc.incident.change"
	RPCIncidentCreate = "kuzet.rpc.incident.create"
	RPCIncidentMerge  = "kuzet.rpc.incident.merge"
	RPCIncidentSplit  = "kuzet.rpc.incident.split"
	rpcQueue          = "kuzet-ncc"
)

// ErrNoResponder: no ncc answers.
var ErrNoResponder = errors.New("bus: no ncc answers")

// IncidentChangeRequest changes one incident.
type IncidentChangeRequest struct {
	ID string `json:"id"`
	// IfMatch is the version the caller saw (0: apply to the current one).
	IfMatch uint64 `json:"if_match,omitempty"`
	// Scope is the caller's: an incident out of it is not found.
	Scope  access.EventScope `json:"scope"`
	Change incident.Change   `json:"change"`
}

// IncidentMergeRequest merges incident ID into Into (ID is closed as its
// duplicate); IfMatch is ID's version as the caller saw it.
type IncidentMergeRequest struct {
	ID      string            `json:"id"`
	Into    string            `json:"into"`
	IfMatch uint64            `json:"if_match,omitempty"`
	Scope   access.EventScope `json:"scope"`
	Actor   string            `json:"actor"`
}

// IncidentSplitRequest moves alerts of incident ID into a new incident.
type IncidentSplitRequest struct {
	ID       string            `json:"id"`
	AlertIDs []string          `json:"alert_ids"`
	IfMatch  uint64            `json:"if_match,omitempty"`
	Scope    access.EventScope `json:"scope"`
	Actor    string            `json:"actor"`
}

// IncidentCreateRequest stores a new incident (its id chosen by the API:
// the same request retried has the same id).
type IncidentCreateRequest struct {
	Incident incident.Incident `json:"incident"`
	Scope    access.EventScope `json:"scope"`
}

// IncidentReply answers both: the incident as stored, whether this request
// created it, or an error.
type IncidentReply struct {
	Incident *incident.Incident `json:"incident,omitempty"`
	Created  bool               `json:"created,omitempty"`
	Error    *RPCError          `json:"error,omitempty"`
}

// RPCError is a refusal with the API's error shape and status.
type RPCError struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (e *RPCError) Error() string { return e.Code + ": " + e.Message }

// Serve answers requests on subject (one of each at a time per instance,
// in a queue group shared by the ncc instances) until the returned stop is
// called. A handler's panic is not recovered: it is a bug.
func Serve(nc *nats.Conn, subject string, h func(ctx context.Context, data []byte) any) (stop func(), err error) {
	sub, err := nc.QueueSubscribe(subject, rpcQueue, func(m *nats.Msg) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		out, err := json.Marshal(h(ctx, m.Data))
		if err != nil {
			out, _ = json.Marshal(IncidentReply{Error: &RPCError{Status: 500, Code: "internal", Message: "reply not encoded"}})
		}
		_ = m.Respond(out)
	})
	if err != nil {
		return nil, fmt.Errorf("bus: serve %s: %w", subject, err)
	}
	return func() { _ = sub.Drain() }, nil
}

// Request sends a request to the ncc and decodes its reply into out.
func (c *Client) Request(ctx context.Context, subject string, req, out any) error {
	data, err := json.Marshal(req)
	if err != nil {
		return err
	}
	m, err := c.nc.RequestWithContext(ctx, subject, data)
	if errors.Is(err, nats.ErrNoResponders) {
		return ErrNoResponder
	}
	if err != nil {
		return fmt.Errorf("bus: request %s: %w", subject, err)
	}
	return json.Unmarshal(m.Data, out)
}

// JetStreamPublish stores data on subject (durably: the stream's
// acknowledgement), with id as Nats-Msg-Id when set.
func (c *Client) JetStreamPublish(ctx context.Context, subject, id string, data []byte) error {
	msg := &nats.Msg{Subject: subject, Header: nats.Header{}, Data: data}
	if id != "" {
		msg.Header.Set("Nats-Msg-Id", id)
	}
	if _, err := c.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("bus: publish %s: %w", subject, err)
	}
	return nil
}
