package collector

import (
	"bytes"
	"context"
	"errors"
	"net"

	"github.com/kuzet-kz/kuzet/internal/ingest"
)

// udpInput reads one record per datagram.
type udpInput struct {
	listener
	conn net.PacketConn
	done chan struct{}
}

func startUDP(ctx context.Context, l listener) (input, error) {
	ic := l.cfg
	src, err := l.open(ctx)
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
	in := &udpInput{listener: l, conn: conn, done: make(chan struct{})}
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
				l.log.Warn("udp read", "input", ic.Name, "err", err)
				continue
			}
			rec := ingest.Record{Data: bytes.TrimRight(buf[:n], "\r\n\x00"), Input: ic.Name, Pipeline: ic.Pipeline,
				Peer: peer.String(), ReceivedAt: l.now().UTC()}
			if n > max {
				l.m.received.WithLabelValues(ic.Name).Inc()
				src.reject(rec, ingest.Errorf(ingest.ReasonOversize, "datagram of %d bytes over the limit of %d", n, max))
				continue
			}
			if len(rec.Data) == 0 {
				// Only NUL, CR or LF: nothing to keep, but counted.
				l.m.received.WithLabelValues(ic.Name).Inc()
				l.m.rejected.WithLabelValues(ic.Name, ingest.ReasonEmpty).Inc()
				continue
			}
			if _, err := src.handle(rec); err != nil {
				return
			}
		}
	}()
	return in, nil
}

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
