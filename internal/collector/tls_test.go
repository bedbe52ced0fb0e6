package collector_test

import (
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
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/config"
)

// selfSigned writes a certificate and key for 127.0.0.1 and returns their
// paths and a pool that trusts the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kuzet test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestTLSInput(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	f := newFixture(t, func(c *config.Collector) {
		c.Inputs = append(c.Inputs, config.Input{Name: "tls", Type: config.InputTLS, Listen: "127.0.0.1:0",
			Pipeline: "test", TLSCert: certFile, TLSKey: keyFile})
	})
	conn, err := tls.Dial("tcp", f.c.InputAddr("tls"), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "%d %s", len("<13>ems-01|over tls"), "<13>ems-01|over tls")
	fmt.Fprintf(conn, "%d %s", len("<13>ems-01|second over tls"), "<13>ems-01|second over tls")
	conn.Close()
	// A plaintext client cannot speak to the TLS input.
	plain, err := net.Dial("tcp", f.c.InputAddr("tls"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(plain, "ems-01|plaintext\n")
	plain.Close()
	evs := f.waitEvents(t, 2)
	got := byMessage(evs)
	for _, m := range []string{"over tls", "second over tls"} {
		if ev, ok := got[m]; !ok || ev.Kuzet.Input != "tls" || ev.Kuzet.Object != "altyn-scada" {
			t.Errorf("%q: %+v", m, ev.Kuzet)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if _, ok := byMessage(f.events(t))["plaintext"]; ok {
		t.Error("a plaintext record was accepted on the TLS input")
	}
}
