package e2e_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/bus/bustest"
	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/proctest"
)

func writeCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "collector"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile = writeFile(t, dir, "cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	keyFile = writeFile(t, dir, "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})))
	c, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return certFile, keyFile, pool
}

// TestTransportsOfACollectorProcess sends records over every transport to a
// real kuzet-collector process and reads the events back from JetStream:
// syslog over UDP, TCP (LF and octet counting) and TLS, NDJSON over HTTP
// with gzip, and a file tailed across a rotation.
func TestTransportsOfACollectorProcess(t *testing.T) {
	ns := bustest.Server(t)
	_, js := bustest.Connect(t, ns)
	dir := t.TempDir()
	logs := t.TempDir()
	certFile, keyFile, pool := writeCert(t, dir)
	p := ports(t, 5)
	addr := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", p[i]) }
	key := "ingest-key-e2e"
	cfg := writeFile(t, dir, "collector.yaml", fmt.Sprintf(`
id: transports
oisc: oisc-astana
data_dir: %s
nats: {url: %q}
http: {listen: %q}
registry_file: %s
batch: {linger: 50ms}
inputs:
  - {name: udp, type: syslog_udp, listen: %q, pipeline: syslog}
  - {name: tcp, type: syslog_tcp, listen: %q, pipeline: syslog}
  - {name: tls, type: syslog_tls, listen: %q, pipeline: syslog, tls_cert: %q, tls_key: %q}
  - {name: http, type: http, listen: %q, pipeline: ndjson, keys: [%q]}
  - {name: file, type: file, paths: [%q], pipeline: suricata}
`, filepath.Join(dir, "data"), ns.ClientURL(), addr(0), filepath.Join(conformance.ModuleRoot(t), "configs", "registry.yaml"), addr(1), addr(2), addr(3), certFile, keyFile, addr(4),
		access.HashKey(key), filepath.Join(logs, "*.json")))
	coll := proctest.Start(t, "", proctest.Binary(t, "kuzet-collector"), []string{"-config", cfg})
	proctest.Eventually(t, 60*time.Second, func(ctx context.Context) error {
		code, err := httpStatus(ctx, "http://"+addr(0)+"/readyz")
		if err != nil || code != 200 {
			return fmt.Errorf("readyz %d %v", code, err)
		}
		return nil
	})
	// UDP, TCP and TLS syslog.
	u, _ := net.Dial("udp", addr(1))
	fmt.Fprint(u, "<38>Nov 24 10:00:01 cbs-db-01 sshd[1]: Failed password for root from 45.155.205.233 port 1 ssh2")
	u.Close()
	// One framing per connection (RFC 6587): octet counting, then LF.
	c, _ := net.Dial("tcp", addr(2))
	m := "<38>1 2026-11-24T10:00:02Z egov-web-01 sshd 2 - - Accepted password for op from 10.50.0.9 port 2 ssh2"
	fmt.Fprintf(c, "%d %s", len(m), m)
	c.Close()
	c, _ = net.Dial("tcp", addr(2))
	fmt.Fprint(c, "<13>Nov 24 10:00:03 wtp-plc-gw kernel: tcp lf\n")
	c.Close()
	tc, err := tls.Dial("tcp", addr(3), &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(tc, "<13>Nov 24 10:00:04 cbs-app-01 app: over tls\n")
	tc.Close()
	// HTTP NDJSON, gzip.
	var body bytes.Buffer
	zw := gzip.NewWriter(&body)
	fmt.Fprint(zw, `{"msg":"http one","host":"egov-web-02"}`+"\n"+`{"msg":"http two"}`+"\n")
	zw.Close()
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr(4)+"/v1/ingest", &body)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("http ingest: %v %v", resp, err)
	}
	resp.Body.Close()
	// A Suricata eve.json tailed across a rotation.
	eve := filepath.Join(logs, "eve.json")
	line := func(i int) string {
		return fmt.Sprintf(`{"timestamp":"2026-11-24T10:00:0%d.000000+0500","event_type":"alert","src_ip":"45.155.205.233","dest_ip":"10.10.4.21","proto":"TCP","alert":{"signature":"sig %d","signature_id":%d,"severity":2}}`+"\n", i, i, i)
	}
	os.WriteFile(eve, []byte(line(1)+line(2)), 0o644)
	time.Sleep(time.Second)
	os.Rename(eve, filepath.Join(logs, "eve.json.1"))
	os.WriteFile(eve, []byte(line(3)), 0o644)

	want := map[string]int{"udp": 1, "tcp": 2, "tls": 1, "http": 2, "file": 3}
	got := map[string]int{}
	var evs []event.Event
	proctest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
		evs = streamEvents(t, js)
		got = map[string]int{}
		for _, ev := range evs {
			got[ev.Kuzet.Input]++
		}
		for in, n := range want {
			if got[in] < n {
				return fmt.Errorf("events per input %v, want %v", got, want)
			}
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond)
	evs = streamEvents(t, js)
	got = map[string]int{}
	for _, ev := range evs {
		got[ev.Kuzet.Input]++
		if err := ev.Validate(); err != nil {
			t.Errorf("invalid event: %v", err)
		}
		if ev.Event.Kind == "pipeline_error" {
			t.Errorf("rejected: %s", ev.Message)
		}
	}
	for in, n := range want {
		if got[in] != n {
			t.Errorf("input %s: %d events, want %d", in, got[in], n)
		}
	}
	for _, ev := range evs {
		if ev.Kuzet.Input == "udp" && (ev.Kuzet.Object != "qazbank-cbs" || ev.User.Name != "root") {
			t.Errorf("udp event: %+v", ev.Kuzet)
		}
		if ev.Kuzet.Input == "file" && (ev.Rule == nil || ev.Suricata == nil) {
			t.Errorf("file event: %+v", ev)
		}
	}
	coll.Signal(os.Interrupt)
	if code := coll.Wait(30 * time.Second); code != 0 {
		t.Errorf("collector exit %d", code)
	}
}

// streamEvents reads every event the events stream holds.
func streamEvents(t *testing.T, js jetstream.JetStream) []event.Event {
	t.Helper()
	ctx := context.Background()
	st, err := js.Stream(ctx, bus.EventsStream)
	if err != nil {
		return nil
	}
	info, err := st.Info(ctx)
	if err != nil || info.State.Msgs == 0 {
		return nil
	}
	var out []event.Event
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		out = append(out, bustest.Events(t, m.Header, m.Data)...)
	}
	return out
}
