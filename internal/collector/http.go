package collector

import (
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/ingest"
)

// httpInput accepts NDJSON batches: POST /v1/ingest with an API key.
type httpInput struct {
	listener
	srv *http.Server
	ln  net.Listener
	// overloaded reports a full publish queue: requests are then refused
	// with 429 before their body is read.
	overloaded func() bool
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

func startHTTP(l listener, overloaded func() bool) (input, error) {
	ic := l.cfg
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
	in := &httpInput{listener: l, ln: ln, overloaded: overloaded}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/ingest", in.serveIngest)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		httpError(w, http.StatusNotFound, "not_found", "POST NDJSON to /v1/ingest")
	})
	in.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
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

func (in *httpInput) serveIngest(w http.ResponseWriter, r *http.Request) {
	ic, l := in.cfg, in.listener
	key := apiKey(r)
	authorized := false
	for _, h := range ic.Keys {
		if key != "" && access.KeyMatches(key, h) {
			authorized = true
		}
	}
	if !authorized {
		l.m.rejected.WithLabelValues(ic.Name, reasonUnauthorized).Inc()
		httpError(w, http.StatusUnauthorized, "unauthorized", "a valid API key is required (Authorization: Bearer <key>)")
		return
	}
	if in.overloaded() {
		l.m.rejected.WithLabelValues(ic.Name, ingest.ReasonOverload).Inc()
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
			l.m.rejected.WithLabelValues(ic.Name, reasonBadRequest).Inc()
			httpError(w, http.StatusBadRequest, "bad_gzip", "the body is not gzip: "+err.Error())
			return
		}
		defer zr.Close()
		body = &limitedReader{r: zr, n: 8 * maxBody}
	default:
		l.m.rejected.WithLabelValues(ic.Name, reasonBadRequest).Inc()
		httpError(w, http.StatusUnsupportedMediaType, "unsupported_encoding", "Content-Encoding must be gzip or identity")
		return
	}
	src, err := l.open(r.Context())
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
		rec := ingest.Record{Data: data, Input: ic.Name, Pipeline: ic.Pipeline, Peer: peer, ReceivedAt: l.now().UTC()}
		if err != nil {
			var ie *ingest.Error
			var mbe *http.MaxBytesError
			switch {
			case errors.As(err, &mbe) || errors.Is(err, errBodyTooLarge):
				// The record the limit cut is not kept: the sender sends it
				// again, from last_line+1, in a smaller request.
				l.m.rejected.WithLabelValues(ic.Name, ingest.ReasonOversize).Inc()
				fail(http.StatusRequestEntityTooLarge, "too_large",
					fmt.Sprintf("body over the limit; lines up to %d were taken, send the rest from line %d", resp.LastLine, resp.LastLine+1))
				return
			case errors.As(err, &ie):
				l.m.received.WithLabelValues(ic.Name).Inc()
				src.reject(rec, ie)
				resp.reject(line, ie)
				continue
			default:
				// The body ended early or is corrupt: a record cut short is
				// kept as a pipeline_error event.
				if len(data) > 0 {
					ie := &ingest.Error{Reason: ingest.ReasonTruncated, Offset: len(data), Err: fmt.Errorf("body ended inside the record: %w", err)}
					l.m.received.WithLabelValues(ic.Name).Inc()
					src.reject(rec, ie)
					resp.reject(line, ie)
				} else {
					l.m.rejected.WithLabelValues(ic.Name, ingest.ReasonTruncated).Inc()
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

func (h *httpInput) addr() string { return h.ln.Addr().String() }
func (h *httpInput) close(ctx context.Context) error {
	return h.srv.Shutdown(ctx)
}
