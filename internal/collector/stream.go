package collector

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/ingest"
)

// streamInput accepts TCP or TLS connections carrying framed syslog.
type streamInput struct {
	listener
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

func startStream(ctx context.Context, l listener) (input, error) {
	ic := l.cfg
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
	in := &streamInput{listener: l, ln: ln, conns: map[net.Conn]struct{}{}, perIP: map[string]int{}, done: make(chan struct{})}
	maxConns, maxPerIP := orDefault(ic.MaxConns, defaultMaxConns), orDefault(ic.MaxConnsPerIP, defaultMaxConnsPerIP)
	go func() {
		defer close(in.done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				l.log.Warn("accept", "input", ic.Name, "err", err)
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
				l.m.connRefused.WithLabelValues(ic.Name, refused).Inc()
				l.log.Debug("connection refused", "input", ic.Name, "peer", conn.RemoteAddr(), "reason", refused)
				conn.Close()
				continue
			}
			in.conns[conn] = struct{}{}
			in.perIP[ip]++
			in.wg.Add(1)
			in.mu.Unlock()
			go in.serveConn(ctx, conn, ip)
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

func (in *streamInput) serveConn(ctx context.Context, conn net.Conn, ip string) {
	ic, l := in.cfg, in.listener
	l.m.connections.WithLabelValues(ic.Name).Inc()
	reason := reasonConnError
	defer func() {
		conn.Close()
		in.mu.Lock()
		delete(in.conns, conn)
		if in.perIP[ip]--; in.perIP[ip] <= 0 {
			delete(in.perIP, ip)
		}
		in.mu.Unlock()
		l.m.connections.WithLabelValues(ic.Name).Dec()
		l.m.connClosed.WithLabelValues(ic.Name, reason).Inc()
		in.wg.Done()
	}()
	src, err := l.open(ctx)
	if err != nil {
		l.log.Error("pipeline", "input", ic.Name, "err", err)
		return
	}
	defer src.flush()
	peer := conn.RemoteAddr().String()
	rec := func(data []byte) ingest.Record {
		return ingest.Record{Data: data, Input: ic.Name, Pipeline: ic.Pipeline, Peer: peer, ReceivedAt: l.now().UTC()}
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
			l.m.received.WithLabelValues(ic.Name).Inc()
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
		l.log.Debug("connection ended", "input", ic.Name, "peer", peer, "reason", reason, "err", err)
		return
	}
}

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
