package collector_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/ingest"
)

type ingestAnswer struct {
	Accepted *int `json:"accepted"`
	Rejected *int `json:"rejected"`
	LastLine *int `json:"last_line"`
	Error    struct{ Code string }
}

func decodeAnswer(t *testing.T, resp *http.Response) ingestAnswer {
	t.Helper()
	defer resp.Body.Close()
	var a ingestAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatal(err)
	}
	return a
}

func (a ingestAnswer) counts() string {
	show := func(p *int) string {
		if p == nil {
			return "missing"
		}
		return fmt.Sprint(*p)
	}
	return fmt.Sprintf("accepted %s rejected %s last_line %s", show(a.Accepted), show(a.Rejected), show(a.LastLine))
}

// TestIngestBadCRCSaysWhatWasAccepted: a gzip body whose checksum is wrong
// is refused only after its records were read: the answer says exactly
// which were taken, so a retry from last_line+1 duplicates nothing.
func TestIngestBadCRCSaysWhatWasAccepted(t *testing.T) {
	f := newFixture(t, nil)
	var body bytes.Buffer
	zw := gzip.NewWriter(&body)
	fmt.Fprint(zw, "ems-01|crc one\n\nnot-a-record\nems-01|crc two\n")
	zw.Close()
	b := body.Bytes()
	b[len(b)-8] ^= 0xff // the CRC-32 of the gzip trailer
	resp := f.post(t, b, "gzip", f.key)
	a := decodeAnswer(t, resp)
	if resp.StatusCode != http.StatusBadRequest || a.Error.Code != "bad_body" {
		t.Errorf("status %d %+v", resp.StatusCode, a)
	}
	// Line 2 is empty: last_line counts lines of the body, not records.
	if a.counts() != "accepted 2 rejected 1 last_line 4" {
		t.Errorf("answer: %s, want accepted 2 rejected 1 last_line 4", a.counts())
	}
	evs := f.waitEvents(t, 3)
	got := byMessage(evs)
	for _, m := range []string{"crc one", "crc two"} {
		if _, ok := got[m]; !ok {
			t.Errorf("%q not stored", m)
		}
	}
}

// TestIngestBodyEndsEarly: a body shorter than its Content-Length keeps the
// record it cut short as a pipeline_error event, and the answer counts it.
func TestIngestBodyEndsEarly(t *testing.T) {
	f := newFixture(t, nil)
	conn, err := net.Dial("tcp", f.c.InputAddr("http"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	part := "ems-01|early one\nems-01|early two\nems-01|early thr"
	fmt.Fprintf(conn, "POST /v1/ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s",
		f.key, len(part)+50, part)
	conn.(*net.TCPConn).CloseWrite()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	a := decodeAnswer(t, resp)
	if resp.StatusCode != http.StatusBadRequest || a.counts() != "accepted 2 rejected 1 last_line 3" {
		t.Errorf("status %d, %s, want 400 and accepted 2 rejected 1 last_line 3", resp.StatusCode, a.counts())
	}
	evs := f.waitEvents(t, 3)
	var cut []string
	for _, ev := range evs {
		if ev.Event.Kind == "pipeline_error" && ev.Labels["reject_reason"] == ingest.ReasonTruncated {
			cut = append(cut, ev.Event.Original)
		}
	}
	if len(cut) != 1 || cut[0] != "ems-01|early thr" {
		t.Errorf("the record cut short was not kept: %q", cut)
	}
}

// TestIngestTooLargeSaysWhereToResume: the 413 answer carries the counts.
func TestIngestTooLargeSaysWhereToResume(t *testing.T) {
	f := newFixture(t, nil)
	resp := f.post(t, []byte(strings.Repeat("ems-01|big\n", 600)), "", f.key) // max_body 4096: 372 whole lines
	a := decodeAnswer(t, resp)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || a.counts() != "accepted 372 rejected 0 last_line 372" {
		t.Errorf("status %d, %s", resp.StatusCode, a.counts())
	}
}

func TestIngestBearerSchemeCaseInsensitive(t *testing.T) {
	f := newFixture(t, nil)
	for _, scheme := range []string{"Bearer", "bearer", "BEARER", "bEaReR"} {
		req, _ := http.NewRequest(http.MethodPost, "http://"+f.c.InputAddr("http")+"/v1/ingest", strings.NewReader("ems-01|auth\n"))
		req.Header.Set("Authorization", scheme+" "+f.key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("Authorization: %s <key>: status %d", scheme, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+f.c.InputAddr("http")+"/v1/ingest", strings.NewReader("ems-01|auth\n"))
	req.Header.Set("Authorization", "Basic "+f.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("Authorization: Basic <key>: status %d", resp.StatusCode)
	}
}
