package collector

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/ingest"
)

func (c *Collector) startInput(ic config.Input) (input, error) {
	switch ic.Type {
	case config.InputUDP:
		return c.startUDP(ic)
	case config.InputTCP, config.InputTLS:
		return c.startStream(ic)
	case config.InputHTTP:
		return c.startHTTP(ic)
	case config.InputFile:
		return c.startFile(ic)
	}
	return nil, fmt.Errorf("input type %q is not supported yet", ic.Type)
}

func maxRecord(ic config.Input) int {
	if ic.MaxRecord > 0 {
		return ic.MaxRecord
	}
	return ingest.DefaultMaxRecord
}

// udpInput reads one record per datagram.
type udpInput struct {
	cfg  config.Input
	conn net.PacketConn
	done chan struct{}
}

func (c *Collector) startUDP(ic config.Input) (input, error) {
	src, err := c.newSource(c.bgCtx, ic)
	if err != nil {
		return nil, err
	}
	conn, err := net.ListenPacket("udp", ic.Listen)
	if err != nil {
		return nil, err
	}
	if uc, ok := conn.(*net.UDPConn); ok {
		_ = uc.SetReadBuffer(8 << 20) // absorb bursts; the kernel may cap it
	}
	in := &udpInput{cfg: ic, conn: conn, done: make(chan struct{})}
	max := maxRecord(ic)
	go func() {
		defer close(in.done)
		defer src.flush()
		buf := make([]byte, 65536)
		for {
			n, peer, err := conn.ReadFrom(buf)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				c.log.Warn("udp read", "input", ic.Name, "err", err)
				continue
			}
			rec := ingest.Record{Data: bytes.TrimRight(buf[:n], "\r\n\x00"), Input: ic.Name, Pipeline: ic.Pipeline,
				Peer: peer.String(), ReceivedAt: c.now().UTC()}
			if n > max {
				c.m.received.WithLabelValues(ic.Name).Inc()
				src.reject(rec, ingest.Errorf(ingest.ReasonOversize, "datagram of %d bytes over the limit of %d", n, max))
				continue
			}
			if len(rec.Data) == 0 {
				// Only NUL, CR or LF: nothing to keep, but counted.
				c.m.received.WithLabelValues(ic.Name).Inc()
				c.m.rejected.WithLabelValues(ic.Name, ingest.ReasonEmpty).Inc()
				continue
			}
			if _, err := src.handle(rec); err != nil {
				return
			}
		}
	}()
	return in, nil
}

func (u *udpInput) name() string { return u.cfg.Name }
func (u *udpInput) addr() string { return u.conn.LocalAddr().String() }
func (u *udpInput) close(ctx context.Context) error {
	_ = u.conn.Close()
	select {
	case <-u.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// streamInput accepts TCP or TLS connections carrying framed syslog.
type streamInput struct {
	cfg     config.Input
	ln      net.Listener
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	perIP   map[string]int
	closing atomic.Bool
	wg      sync.WaitGroup
	done    chan struct{}
}

// Defaults of the connection limits of stream inputs.
const (
	defaultIdleTimeout   = 5 * time.Minute
	defaultMaxConns      = 4096
	defaultMaxConnsPerIP = 64
)

// Reasons a stream connection is refused or closed (label values of
// kuzet_collector_connections_refused_total and _closed_total).
const (
	reasonMaxConns      = "max_conns"
	reasonMaxConnsPerIP = "max_conns_per_ip"
	reasonIdleTimeout   = "idle_timeout"
	reasonEOF           = "eof"
	reasonConnError     = "error"
	reasonShutdown      = "shutdown"
)

func orDefault[T time.Duration | int](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}
func loadTLS(ic config.Input) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(ic.TLSCert, ic.TLSKey)
	if err != nil {
		return nil, err
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if ic.TLSClientCA != "" {
		pem, err := os.ReadFile(ic.TLSClientCA)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no certificates", ic.TLSClientCA)
		}
		tc.ClientCAs, tc.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

func (c *Collector) startStream(ic config.Input) (input, error) {
	ln, err := net.Listen("tcp", ic.Listen)
	if err != nil {
		return nil, err
	}
	if ic.Type == config.InputTLS {
		tc, err := loadTLS(ic)
		if err != nil {
			ln.Close()
			return nil, err
		}
		ln = tls.NewListener(ln, tc)
	}
	in := &streamInput{cfg: ic, ln: ln, conns: map[net.Conn]struct{}{}, perIP: map[string]int{}, done: make(chan struct{})}
	maxConns, maxPerIP := orDefault(ic.MaxConns, defaultMaxConns), orDefault(ic.MaxConnsPerIP, defaultMaxConnsPerIP)
	go func() {
		defer close(in.done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				c.log.Warn("accept", "input", ic.Name, "err", err)
				time.Sleep(50 * time.Millisecond)
				continue
			}
			ip := peerIP(conn.RemoteAddr())
			in.mu.Lock()
			refused := ""
			switch {
			case len(in.conns) >= maxConns:
				refused = reasonMaxConns
			case in.perIP[ip] >= maxPerIP:
				refused = reasonMaxConnsPerIP
			}
			if refused != "" {
				in.mu.Unlock()
				c.m.connRefused.WithLabelValues(ic.Name, refused).Inc()
				c.log.Debug("connection refused", "input", ic.Name, "peer", conn.RemoteAddr(), "reason", refused)
				conn.Close()
				continue
			}
			in.conns[conn] = struct{}{}
			in.perIP[ip]++
			in.wg.Add(1)
			in.mu.Unlock()
			go c.serveConn(in, conn, ip)
		}
	}()
	return in, nil
}

// peerIP is the address part of a remote address, the key of the
// per-address connection limit.
func peerIP(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// idleConn moves the read deadline idle ahead before every read, so a
// connection that sends nothing for idle is closed. Once the input is
// closing, it leaves the deadline in the past (see streamInput.close).
type idleConn struct {
	net.Conn
	idle    time.Duration
	closing *atomic.Bool
}

func (r idleConn) Read(p []byte) (int, error) {
	_ = r.Conn.SetReadDeadline(time.Now().Add(r.idle))
	if r.closing.Load() {
		_ = r.Conn.SetReadDeadline(time.Now())
	}
	return r.Conn.Read(p)
}

func (c *Collector) serveConn(in *streamInput, conn net.Conn, ip string) {
	ic := in.cfg
	c.m.connections.WithLabelValues(ic.Name).Inc()
	reason := reasonConnError
	defer func() {
		conn.Close()
		in.mu.Lock()
		delete(in.conns, conn)
		if in.perIP[ip]--; in.perIP[ip] <= 0 {
			delete(in.perIP, ip)
		}
		in.mu.Unlock()
		c.m.connections.WithLabelValues(ic.Name).Dec()
		c.m.connClosed.WithLabelValues(ic.Name, reason).Inc()
		in.wg.Done()
	}()
	src, err := c.newSource(c.bgCtx, ic)
	if err != nil {
		c.log.Error("pipeline", "input", ic.Name, "err", err)
		return
	}
	defer src.flush()
	peer := conn.RemoteAddr().String()
	rec := func(data []byte) ingest.Record {
		return ingest.Record{Data: data, Input: ic.Name, Pipeline: ic.Pipeline, Peer: peer, ReceivedAt: c.now().UTC()}
	}
	fr := ingest.NewFrameReader(idleConn{conn, orDefault(ic.IdleTimeout, defaultIdleTimeout), &in.closing}, ic.Framing, maxRecord(ic))
	for {
		data, err := fr.Next()
		if err == nil {
			if _, err := src.handle(rec(data)); err != nil {
				reason = reasonShutdown
				return
			}
			continue
		}
		var ie *ingest.Error
		if errors.As(err, &ie) {
			c.m.received.WithLabelValues(ic.Name).Inc()
			src.reject(rec(data), ie)
			if !ingest.Fatal(err) {
				continue
			}
		} else if len(data) > 0 {
			// The connection ended inside a line: like a last line without
			// LF at EOF, it is a record.
			if _, herr := src.handle(rec(data)); herr != nil {
				reason = reasonShutdown
				return
			}
		}
		switch {
		case in.closing.Load():
			reason = reasonShutdown
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			reason = reasonEOF
		case errors.Is(err, os.ErrDeadlineExceeded):
			reason = reasonIdleTimeout
		}
		c.log.Debug("connection ended", "input", ic.Name, "peer", peer, "reason", reason, "err", err)
		return
	}
}

func (s *streamInput) name() string { return s.cfg.Name }
func (s *streamInput) addr() string { return s.ln.Addr().String() }

// close stops accepting, then lets each connection finish the frames it
// has already read: a read deadline in the past ends its next read.
func (s *streamInput) close(ctx context.Context) error {
	s.closing.Store(true)
	_ = s.ln.Close()
	<-s.done
	s.mu.Lock()
	for conn := range s.conns {
		_ = conn.SetReadDeadline(time.Now())
	}
	s.mu.Unlock()
	finished := make(chan struct{})
	go func() { s.wg.Wait(); close(finished) }()
	select {
	case <-finished:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for conn := range s.conns {
			conn.Close()
		}
		s.mu.Unlock()
		return ctx.Err()
	}
}

// httpInput accepts NDJSON batches: POST /v1/ingest with an API key.
type httpInput struct {
	cfg config.Input
	srv *http.Server
	ln  net.Listener
}

// Reasons for whole HTTP requests refused before their records are read.
const (
	reasonUnauthorized = "unauthorized"
	reasonBadRequest   = "bad_request"
)

// defaultMaxBody bounds a request body (compressed) when max_body is unset.
const defaultMaxBody = 16 << 20

type ingestError struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
	Detail string `json:"detail"`
}

// ingestResponse is the answer to a request whose records were read: the
// success answer, and every error answer after reading began. LastLine is
// the last line number the collector is done with (accepted, rejected and
// kept as a pipeline_error event, or dropped by the pipeline): a sender
// resumes at LastLine+1 without duplicates.
type ingestResponse struct {
	Accepted int           `json:"accepted"`
	Rejected int           `json:"rejected"`
	LastLine int           `json:"last_line"`
	Errors   []ingestError `json:"errors,omitempty"`
	Error    *apiError     `json:"error,omitempty"`
}

type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (r *ingestResponse) fail(w http.ResponseWriter, status int, code, msg string) {
	r.Error = &apiError{Code: code, Message: msg}
	writeJSON(w, status, r)
}

func (r *ingestResponse) reject(line int, ie *ingest.Error) {
	r.Rejected++
	r.LastLine = line
	if len(r.Errors) < 100 {
		r.Errors = append(r.Errors, ingestError{Line: line, Reason: ie.Reason, Detail: ie.Err.Error()})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func httpError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func (c *Collector) startHTTP(ic config.Input) (input, error) {
	ln, err := net.Listen("tcp", ic.Listen)
	if err != nil {
		return nil, err
	}
	if ic.TLSCert != "" {
		tc, err := loadTLS(ic)
		if err != nil {
			ln.Close()
			return nil, err
		}
		ln = tls.NewListener(ln, tc)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/ingest", func(w http.ResponseWriter, r *http.Request) { c.serveIngest(ic, w, r) })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		httpError(w, http.StatusNotFound, "not_found", "POST NDJSON to /v1/ingest")
	})
	in := &httpInput{cfg: ic, ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}}
	go func() { _ = in.srv.Serve(ln) }()
	return in, nil
}

// apiKey returns the key of "Authorization: Bearer <key>" (the scheme is
// case-insensitive, RFC 7235 section 2.1) or of X-Api-Key.
func apiKey(r *http.Request) string {
	if scheme, k, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(k)
	}
	return r.Header.Get("X-Api-Key")
}

func (c *Collector) serveIngest(ic config.Input, w http.ResponseWriter, r *http.Request) {
	key := apiKey(r)
	authorized := false
	for _, h := range ic.Keys {
		if key != "" && access.KeyMatches(key, h) {
			authorized = true
		}
	}
	if !authorized {
		c.m.rejected.WithLabelValues(ic.Name, reasonUnauthorized).Inc()
		httpError(w, http.StatusUnauthorized, "unauthorized", "a valid API key is required (Authorization: Bearer <key>)")
		return
	}
	if c.batch.full() {
		c.m.rejected.WithLabelValues(ic.Name, ingest.ReasonOverload).Inc()
		w.Header().Set("Retry-After", "1")
		httpError(w, http.StatusTooManyRequests, "overloaded", "the collector is applying backpressure; retry later")
		return
	}
	maxBody := int64(ic.MaxBody)
	if maxBody <= 0 {
		maxBody = defaultMaxBody
	}
	body := io.Reader(http.MaxBytesReader(w, r.Body, maxBody))
	switch enc := strings.ToLower(r.Header.Get("Content-Encoding")); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			c.m.rejected.WithLabelValues(ic.Name, reasonBadRequest).Inc()
			httpError(w, http.StatusBadRequest, "bad_gzip", "the body is not gzip: "+err.Error())
			return
		}
		defer zr.Close()
		body = &limitedReader{r: zr, n: 8 * maxBody}
	default:
		c.m.rejected.WithLabelValues(ic.Name, reasonBadRequest).Inc()
		httpError(w, http.StatusUnsupportedMediaType, "unsupported_encoding", "Content-Encoding must be gzip or identity")
		return
	}
	src, err := c.newSource(r.Context(), ic)
	if err != nil {
		httpError(w, http.StatusInternalServerError, "internal", "pipeline unavailable")
		return
	}
	peer := r.RemoteAddr
	fr := ingest.NewFrameReader(body, ingest.FramingLF, maxRecord(ic))
	var resp ingestResponse
	fail := func(status int, code, msg string) {
		src.flush() // records a joining pipeline holds back, before the answer counts them
		resp.fail(w, status, code, msg)
	}
	for {
		data, err := fr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		line := fr.Line()
		rec := ingest.Record{Data: data, Input: ic.Name, Pipeline: ic.Pipeline, Peer: peer, ReceivedAt: c.now().UTC()}
		if err != nil {
			var ie *ingest.Error
			var mbe *http.MaxBytesError
			switch {
			case errors.As(err, &mbe) || errors.Is(err, errBodyTooLarge):
				// The record the limit cut is not kept: the sender sends it
				// again, from last_line+1, in a smaller request.
				c.m.rejected.WithLabelValues(ic.Name, ingest.ReasonOversize).Inc()
				fail(http.StatusRequestEntityTooLarge, "too_large",
					fmt.Sprintf("body over the limit; lines up to %d were taken, send the rest from line %d", resp.LastLine, resp.LastLine+1))
				return
			case errors.As(err, &ie):
				c.m.received.WithLabelValues(ic.Name).Inc()
				src.reject(rec, ie)
				resp.reject(line, ie)
				continue
			default:
				// The body ended early or is corrupt: a record cut short is
				// kept as a pipeline_error event.
				if len(data) > 0 {
					ie := &ingest.Error{Reason: ingest.ReasonTruncated, Offset: len(data), Err: fmt.Errorf("body ended inside the record: %w", err)}
					c.m.received.WithLabelValues(ic.Name).Inc()
					src.reject(rec, ie)
					resp.reject(line, ie)
				} else {
					c.m.rejected.WithLabelValues(ic.Name, ingest.ReasonTruncated).Inc()
				}
				fail(http.StatusBadRequest, "bad_body", "reading the body: "+err.Error())
				return
			}
		}
		ie, herr := src.handle(rec)
		if herr != nil {
			fail(http.StatusServiceUnavailable, "stopping", "the collector is stopping")
			return
		}
		if ie != nil {
			resp.reject(line, ie)
			continue
		}
		resp.Accepted++
		resp.LastLine = line
	}
	src.flush()
	writeJSON(w, http.StatusOK, resp)
}

var errBodyTooLarge = errors.New("decompressed body over the limit")

// limitedReader fails, rather than ending quietly, past n bytes.
type limitedReader struct {
	r io.Reader
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errBodyTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

func (h *httpInput) name() string { return h.cfg.Name }
func (h *httpInput) addr() string { return h.ln.Addr().String() }
func (h *httpInput) close(ctx context.Context) error {
	return h.srv.Shutdown(ctx)
}
