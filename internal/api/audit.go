package api

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/kuzet-kz/kuzet/internal/audit"
)

// auditStore is what the audit writer needs of the store.
type auditStore interface {
	AppendAudit(ctx context.Context, rs []audit.Record) error
	LastAudit(ctx context.Context, instance string) (audit.Record, bool, error)
}

// HeadStore keeps the head of each audit chain apart from its rows
// (bus.AuditHeads in production).
type HeadStore interface {
	Get(ctx context.Context, instance string) (audit.Head, bool, error)
	Put(ctx context.Context, instance string, head audit.Head) error
}

// errAuditStopped is the answer to records given after Stop.
var errAuditStopped = errors.New("api: audit writer stopped")

// auditor appends audit records to one chain, in order: a single goroutine
// takes the records waiting (at most maxBatch), seals them after the
// chain's head, appends them in one INSERT and then stores the new head.
// Each caller waits for its record's batch: an error means the record may
// not be stored and the request must not be answered as served.
//
// The head is read from the store (the last row) and from the head store
// before the first batch and again after any failed INSERT (its rows may
// have landed all the same). When the head store is ahead of the rows, rows
// were cut from the end: the writer logs it and goes on after the head
// store's head, so the gap stays for `kuzet audit verify` to name.
type auditor struct {
	instance string
	maxBatch int
	timeout  time.Duration
	log      *slog.Logger
	m        *metrics
	deps     func() (auditStore, HeadStore)

	in       chan auditReq
	quit     chan struct{}
	done     chan struct{}
	start    sync.Once
	stop     sync.Once
	started  bool
	mu       sync.Mutex // guards started against stop
	head     audit.Head // owned by run
	synced   bool       // owned by run
	stopping bool
}

type auditReq struct {
	rec  audit.Record
	done chan error
}

func newAuditor(instance string, maxBatch int, timeout time.Duration, log *slog.Logger, m *metrics,
	deps func() (auditStore, HeadStore)) *auditor {
	return &auditor{instance: instance, maxBatch: maxBatch, timeout: timeout, log: log, m: m, deps: deps,
		in: make(chan auditReq), quit: make(chan struct{}), done: make(chan struct{})}
}

// append writes r (its Instance, Seq and hashes are set here) and returns
// once its batch is stored, or with the error that kept it from being.
func (a *auditor) append(r audit.Record) error {
	a.mu.Lock()
	if a.stopping {
		a.mu.Unlock()
		return errAuditStopped
	}
	a.start.Do(func() {
		a.started = true
		go a.run()
	})
	a.mu.Unlock()
	r.Instance = a.instance
	req := auditReq{rec: r, done: make(chan error, 1)}
	timer := time.NewTimer(2 * a.timeout)
	defer timer.Stop()
	select {
	case a.in <- req:
	case <-a.quit:
		return errAuditStopped
	case <-timer.C:
		return errors.New("api: audit writer busy")
	}
	select {
	case err := <-req.done:
		return err
	case <-timer.C:
		return errors.New("api: audit write timed out")
	}
}

// close stops the writer after the batch it is writing, within ctx.
// Records given afterwards fail with errAuditStopped.
func (a *auditor) close(ctx context.Context) error {
	a.mu.Lock()
	a.stopping = true
	started := a.started
	a.mu.Unlock()
	a.stop.Do(func() { close(a.quit) })
	if !started {
		return nil
	}
	select {
	case <-a.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (a *auditor) run() {
	defer close(a.done)
	for {
		var batch []auditReq
		select {
		case <-a.quit:
			return
		case r := <-a.in:
			batch = append(batch, r)
		}
	more:
		for len(batch) < a.maxBatch {
			select {
			case r := <-a.in:
				batch = append(batch, r)
			default:
				break more
			}
		}
		err := a.write(batch)
		for _, r := range batch {
			r.done <- err
		}
	}
}

func (a *auditor) write(batch []auditReq) error {
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	st, heads := a.deps()
	if st == nil {
		return errors.New("api: no store for the audit log")
	}
	if !a.synced {
		if err := a.sync(ctx, st, heads); err != nil {
			a.m.auditFailures.WithLabelValues("sync").Inc()
			a.log.Error("audit: cannot read the chain's head", "instance", a.instance, "err", err)
			return err
		}
	}
	head := a.head
	recs := make([]audit.Record, len(batch))
	for i, r := range batch {
		recs[i], head = audit.Seal(r.rec, head)
	}
	if err := st.AppendAudit(ctx, recs); err != nil {
		a.synced = false
		a.m.auditFailures.WithLabelValues("append").Inc()
		a.log.Error("audit: append failed; its requests answer 503", "instance", a.instance, "records", len(recs), "err", err)
		return err
	}
	a.head = head
	a.m.auditRecords.Add(float64(len(recs)))
	if heads != nil {
		if err := heads.Put(ctx, a.instance, head); err != nil {
			// The rows are stored; the next batch puts the head again.
			a.m.auditFailures.WithLabelValues("head").Inc()
			a.log.Warn("audit: head not stored; the records are", "instance", a.instance, "seq", head.Seq, "err", err)
		}
	}
	return nil
}

func (a *auditor) sync(ctx context.Context, st auditStore, heads HeadStore) error {
	last, ok, err := st.LastAudit(ctx, a.instance)
	if err != nil {
		return err
	}
	var h audit.Head
	if ok {
		h = audit.Head{Seq: last.Seq, Hash: last.Hash}
	}
	if heads != nil {
		kh, kok, err := heads.Get(ctx, a.instance)
		if err != nil {
			return err
		}
		if kok && kh.Seq > h.Seq {
			a.m.auditFailures.WithLabelValues("truncated").Inc()
			a.log.Error("audit: the chain's rows end before its head: records were cut from the end; continuing after the head",
				"instance", a.instance, "last_row_seq", h.Seq, "head_seq", kh.Seq)
			h = kh
		}
	}
	a.head, a.synced = h, true
	return nil
}

// Locals keys of the audit middleware.
const (
	auditDetailKey   = "kuzet.audit.detail"
	auditResourceKey = "kuzet.audit.resource"
	requestIDKey     = "kuzet.request_id"
)

// maxAuditDetail bounds a record's detail.
const maxAuditDetail = 2048

// setAuditDetail sets what the audit record of the request says it did.
func setAuditDetail(c *fiber.Ctx, d string) { c.Locals(auditDetailKey, strings.Clone(d)) }

// setAuditResource sets the id of the resource the request acted on when
// the route does not name it (a created key).
func setAuditResource(c *fiber.Ctx, id string) { c.Locals(auditResourceKey, strings.Clone(id)) }

// audited appends an audit record for every request of the route, after its
// handler ran and before the answer leaves: who (the key's name and role),
// the action and resource, its id, the answer's status, the remote address,
// the request id and the parameters. When the record cannot be written the
// request answers 503 audit_unavailable, its body discarded: an audited
// read is not served unaudited. A change has happened by then (a key made
// or revoked stays so; a new key that was never shown is of use to no one).
func (s *Server) audited(action, resource string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := c.Next(); err != nil {
			if herr := s.errorHandler(c, err); herr != nil {
				return herr
			}
		}
		p := principal(c)
		rid := c.Params("id")
		if v, ok := c.Locals(auditResourceKey).(string); ok {
			rid = v
		}
		detail, _ := c.Locals(auditDetailKey).(string)
		if detail == "" {
			detail = string(c.Context().QueryArgs().QueryString())
		}
		rec := audit.Record{At: s.now(), ActorName: p.Name, ActorRole: string(p.Role), Action: action, Resource: resource,
			ResourceID: clean(rid, 128), Outcome: strconv.Itoa(c.Response().StatusCode()), RemoteAddr: clean(s.clientIP(c), 64),
			RequestID: requestID(c), Detail: clean(detail, maxAuditDetail)}
		err := s.aud.append(rec)
		if err != nil && !errors.Is(err, errAuditStopped) {
			// Once more: a failed batch resyncs the chain's head from the
			// store first, so a transient error costs a retry, not a 503.
			s.log.Warn("audit record not written; retrying once", "action", action, "err", err)
			err = s.aud.append(rec)
		}
		if err != nil {
			c.Response().ResetBody()
			c.Response().Header.Del(fiber.HeaderLocation)
			return &Error{Status: fiber.StatusServiceUnavailable, Code: CodeAuditUnavailable,
				Message: "the audit log cannot be written, so the request was not served; retry later", Err: err}
		}
		return nil
	}
}

// clean copies s (Fiber reuses its buffers), valid UTF-8, at most n bytes.
func clean(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) > n {
		s = s[:n]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return strings.Clone(s)
}

// requestIDs gives every request an id: the caller's X-Request-Id when it
// is 1 to 128 characters of [A-Za-z0-9._:-], else a new UUIDv7; the answer
// carries it back.
func requestIDs(c *fiber.Ctx) error {
	id := c.Get(fiber.HeaderXRequestID)
	if !validRequestID(id) {
		u, err := uuid.NewV7()
		if err != nil {
			u = uuid.New()
		}
		id = u.String()
	} else {
		id = strings.Clone(id)
	}
	c.Locals(requestIDKey, id)
	c.Set(fiber.HeaderXRequestID, id)
	return c.Next()
}

func requestID(c *fiber.Ctx) string {
	id, _ := c.Locals(requestIDKey).(string)
	return id
}

func validRequestID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}
