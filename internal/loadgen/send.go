package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// Target is one collector: the OISC it serves and the addresses of its
// inputs by input kind (InputSyslog, InputWinevent, InputZeek,
// InputSuricata). An input kind without an address is not sent to.
type Target struct {
	OISC  string            `json:"oisc"`
	Addrs map[string]string `json:"addrs"`
}

// ParseTarget reads "OISC:kind=host:port,kind=host:port", e.g.
// "oisc-almaty:syslog=127.0.0.1:6601,winevent=127.0.0.1:6602".
func ParseTarget(s string) (Target, error) {
	oisc, rest, ok := strings.Cut(s, ":")
	if !ok || oisc == "" || rest == "" {
		return Target{}, fmt.Errorf("target %q: want OISC:kind=host:port,...", s)
	}
	t := Target{OISC: oisc, Addrs: map[string]string{}}
	for _, kv := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(kv, "=")
		switch {
		case !ok || v == "":
			return Target{}, fmt.Errorf("target %q: %q is not kind=host:port", s, kv)
		case k != InputSyslog && k != InputWinevent && k != InputZeek && k != InputSuricata:
			return Target{}, fmt.Errorf("target %q: unknown input kind %q (syslog, winevent, zeek, suricata)", s, k)
		}
		if _, _, err := net.SplitHostPort(v); err != nil {
			return Target{}, fmt.Errorf("target %q: %s: %w", s, k, err)
		}
		t.Addrs[k] = v
	}
	return t, nil
}

// counters are a run's send figures, shared by its senders.
type counters struct {
	sent       atomic.Int64 // written to a socket (syslog) or accepted by the collector (HTTP)
	rejected   atomic.Int64 // refused by the collector (HTTP rejected lines, 4xx other than 429)
	sendErrors atomic.Int64 // records in writes or requests that failed
	retries    atomic.Int64 // HTTP 429 answers (the request was repeated)
	byKind     [16]atomic.Int64
}

// kindIndex numbers the kinds for byKind.
var kindIndex = func() map[string]int {
	m := map[string]int{}
	for i, k := range Kinds() {
		m[k] = i
	}
	return m
}()

// syslogConn sends octet-counted syslog frames (RFC 6587) over one TCP
// connection, reconnecting after an error.
type syslogConn struct {
	addr    string
	conn    net.Conn
	w       *bufio.Writer
	pending int64
	c       *counters
}

func (s *syslogConn) send(ctx context.Context, data []byte) {
	if s.conn == nil {
		d := net.Dialer{Timeout: 5 * time.Second}
		conn, err := d.DialContext(ctx, "tcp", s.addr)
		if err != nil {
			s.c.sendErrors.Add(1)
			time.Sleep(100 * time.Millisecond)
			return
		}
		s.conn = conn
		s.w = bufio.NewWriterSize(conn, 64<<10)
	}
	if s.w.Available() < len(data)+8 {
		s.flush()
		if s.conn == nil {
			s.c.sendErrors.Add(1)
			return
		}
	}
	s.w.WriteString(fmt.Sprint(len(data)))
	s.w.WriteByte(' ')
	s.w.Write(data)
	s.pending++
}

// flush writes what is buffered; the records count as sent once written.
func (s *syslogConn) flush() {
	if s.conn == nil || s.pending == 0 {
		return
	}
	_ = s.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if err := s.w.Flush(); err != nil {
		s.c.sendErrors.Add(s.pending)
		s.conn.Close()
		s.conn, s.w = nil, nil
	} else {
		s.c.sent.Add(s.pending)
	}
	s.pending = 0
}

func (s *syslogConn) close() {
	s.flush()
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}

// httpBatch gathers NDJSON lines for one HTTP input and posts them.
type httpBatch struct {
	url    string
	key    string
	client *http.Client
	buf    bytes.Buffer
	lines  int64
	c      *counters
}

const (
	httpMaxLines = 1000
	httpMaxBytes = 512 << 10
)

func (h *httpBatch) add(ctx context.Context, data []byte) {
	h.buf.Write(data)
	h.buf.WriteByte('\n')
	h.lines++
	if h.lines >= httpMaxLines || h.buf.Len() >= httpMaxBytes {
		h.flush(ctx)
	}
}

// flush posts the batch. A 429 (the collector's backpressure, refused
// before the body is read) is retried after a pause until ctx ends; other
// answers are final.
func (h *httpBatch) flush(ctx context.Context) {
	if h.lines == 0 {
		return
	}
	defer func() { h.buf.Reset(); h.lines = 0 }()
	body := h.buf.Bytes()
	for pause := 20 * time.Millisecond; ; pause = min(2*pause, time.Second) {
		req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodPost, h.url, bytes.NewReader(body))
		if err != nil {
			h.c.sendErrors.Add(h.lines)
			return
		}
		req.Header.Set("Content-Type", "application/x-ndjson")
		if h.key != "" {
			req.Header.Set("Authorization", "Bearer "+h.key)
		}
		resp, err := h.client.Do(req)
		if err != nil {
			h.c.sendErrors.Add(h.lines)
			return
		}
		var ans struct {
			Accepted int `json:"accepted"`
			Rejected int `json:"rejected"`
		}
		_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&ans)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
			h.c.retries.Add(1)
			select {
			case <-ctx.Done():
				h.c.sendErrors.Add(h.lines)
				return
			case <-time.After(pause):
			}
			continue
		case resp.StatusCode == http.StatusOK:
			// Rejected lines are kept as pipeline_error events by the
			// collector, so every line of an answered request is stored.
			h.c.sent.Add(h.lines)
			h.c.rejected.Add(int64(ans.Rejected))
		default:
			h.c.rejected.Add(h.lines)
		}
		return
	}
}
