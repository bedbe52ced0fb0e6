package collector

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/ingest"
)

// The listeners (udp.go, stream.go, http.go, file.go) take records off a
// transport and hand them to a records handler; they know nothing of
// batching, publishing or the spool.

// input is one running input.
type input interface {
	name() string
	addr() string
	// close stops accepting and waits until every record taken off the
	// transport has been handed to the collector.
	close(ctx context.Context) error
}

// records is the handler of one source of records (a UDP input, a TCP or
// TLS connection, an HTTP request, a file): it normalises, stamps,
// enriches and batches them. *source implements it.
type records interface {
	// handle counts and normalises one record; a record the pipeline
	// rejects is quarantined and returned as rejected. err is set only when
	// the collector cannot take more (stopping).
	handle(rec ingest.Record) (rejected *ingest.Error, err error)
	// reject quarantines a record the listener itself rejected (oversize,
	// framing); the listener has counted it as received.
	reject(rec ingest.Record, ie *ingest.Error)
	// flush emits what the source's pipeline holds back, quarantining what
	// cannot be completed.
	flush()
}

// openRecords opens the handler of a new source of the input; ctx bounds
// its waits for room in the publish queue.
type openRecords func(ctx context.Context) (records, error)

// listener is what every listener gets from the role: its input's
// configuration, the handler of each new source, and the role's logger,
// metrics and clock.
type listener struct {
	cfg  config.Input
	open openRecords
	log  *slog.Logger
	m    *metrics
	now  func() time.Time
}

func (l *listener) name() string { return l.cfg.Name }

func maxRecord(ic config.Input) int {
	if ic.MaxRecord > 0 {
		return ic.MaxRecord
	}
	return ingest.DefaultMaxRecord
}

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
