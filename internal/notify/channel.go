package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/smtp"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kuzet-kz/kuzet/internal/registry"
)

// Channel delivers one job to one endpoint. Delivered is not
// acknowledged: the recipient acknowledges on its own.
type Channel interface {
	Deliver(ctx context.Context, j *Job, ep *registry.Notify) error
}

// ChannelFunc adapts a function to Channel (the bus's NATS channel).
type ChannelFunc func(ctx context.Context, j *Job, ep *registry.Notify) error

// Deliver calls f.
func (f ChannelFunc) Deliver(ctx context.Context, j *Job, ep *registry.Notify) error {
	return f(ctx, j, ep)
}

// Headers of every delivery (the webhook's, and the NATS message's).
const (
	HeaderNotificationID = "Kuzet-Notification-Id"
	HeaderPayloadSHA256  = "Kuzet-Payload-Sha256"
	HeaderSignature      = "Kuzet-Signature"
)

// Secret reads a secret by reference: env:NAME or file:PATH. The value is
// never part of an error.
func Secret(ref string) ([]byte, error) {
	kind, name, _ := strings.Cut(ref, ":")
	switch kind {
	case "env":
		v, ok := os.LookupEnv(name)
		if !ok || v == "" {
			return nil, fmt.Errorf("secret %s: environment variable not set", ref)
		}
		return []byte(v), nil
	case "file":
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("secret %s: %w", ref, errors.Unwrap(err))
		}
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			return nil, fmt.Errorf("secret %s: empty file", ref)
		}
		return b, nil
	}
	return nil, fmt.Errorf("secret %q: want env:NAME or file:PATH", ref)
}

// Sign returns the Kuzet-Signature header of body sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">". Binding the
// time in stops a captured request from being replayed later.
func Sign(secret, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret []byte, ts string, body []byte) string {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// VerifySignature checks a Kuzet-Signature header against body, and that
// its time is within tolerance of now. Receivers use it.
func VerifySignature(secret, body []byte, header string, now time.Time, tolerance time.Duration) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return errors.New("signature: malformed header")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("signature: time %s is outside the %s tolerance", time.Unix(sec, 0).UTC().Format(time.RFC3339), tolerance)
	}
	if !hmac.Equal([]byte(sig), []byte(mac(secret, ts, body))) {
		return errors.New("signature: mismatch")
	}
	return nil
}

// Webhook posts the payload to the endpoint's URL, signed.
type Webhook struct {
	Client *http.Client
	// Now stamps the signature (default time.Now).
	Now func() time.Time
}

// NewWebhook returns a webhook channel with a client that times out after
// timeout and follows no redirect (a redirect is a failed attempt).
func NewWebhook(timeout time.Duration) *Webhook {
	return &Webhook{Client: &http.Client{Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Deliver posts j's payload; any answer but 2xx is an error.
func (w *Webhook) Deliver(ctx context.Context, j *Job, ep *registry.Notify) error {
	if ep == nil || ep.URL == "" {
		return errors.New("webhook: no URL in the registry")
	}
	secret, err := Secret(ep.Secret)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(j.Payload))
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "kuzet-ncc")
	req.Header.Set(HeaderSignature, Sign(secret, j.Payload, now()))
	req.Header.Set(HeaderNotificationID, j.NotificationID)
	req.Header.Set("Idempotency-Key", j.NotificationID)
	req.Header.Set(HeaderPayloadSHA256, j.PayloadSHA256)
	resp, err := w.Client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

// SMTP sends the notification as an e-mail through a relay.
type SMTP struct {
	// Addr is the relay's host:port; From the envelope and header sender.
	Addr, From string
	// Username and Password authenticate (PLAIN, only over TLS or to
	// localhost, as net/smtp enforces); empty: no authentication.
	Username, Password string
	// StartTLS: "auto" (when offered, the default), "require", "off".
	StartTLS string
	Timeout  time.Duration
	Now      func() time.Time
}

// Deliver sends one message to the endpoint's addresses.
func (s *SMTP) Deliver(ctx context.Context, j *Job, ep *registry.Notify) error {
	if s == nil || s.Addr == "" {
		return errors.New("email: no SMTP relay configured (notifications.smtp.addr)")
	}
	if ep == nil || len(ep.Email) == 0 {
		return errors.New("email: no address in the registry")
	}
	msg, err := s.message(j, ep.Email)
	if err != nil {
		return err
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(dctx, "tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("email: %w", err)
	}
	if dl, ok := dctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	host, _, _ := net.SplitHostPort(s.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("email: %w", err)
	}
	defer c.Close()
	if err := c.Hello("kuzet-ncc"); err != nil {
		return fmt.Errorf("email: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok && s.StartTLS != "off" {
		if err := c.StartTLS(&tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}); err != nil {
			return fmt.Errorf("email: starttls: %w", err)
		}
	} else if s.StartTLS == "require" {
		return errors.New("email: the relay offers no STARTTLS and smtp.starttls is require")
	}
	if s.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, host)); err != nil {
			return fmt.Errorf("email: auth: %w", err)
		}
	}
	if err := c.Mail(s.From); err != nil {
		return fmt.Errorf("email: MAIL FROM: %w", err)
	}
	for _, to := range ep.Email {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("email: RCPT TO %s: %w", to, err)
		}
	}
	wc, err := c.Data()
	if err != nil {
		return fmt.Errorf("email: DATA: %w", err)
	}
	if _, err := wc.Write(msg); err != nil {
		return fmt.Errorf("email: %w", err)
	}
	if err := wc.Close(); err != nil {
		return fmt.Errorf("email: %w", err)
	}
	return c.Quit()
}

// message renders the e-mail: the subject and summary in the recipient's
// language, then the payload as sent (JSON), base64 in UTF-8.
func (s *SMTP) message(j *Job, to []string) ([]byte, error) {
	var p Payload
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return nil, fmt.Errorf("email: payload: %w", err)
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	var pretty bytes.Buffer
	_ = json.Indent(&pretty, j.Payload, "", "  ")
	body := p.Summary + "\r\n\r\nTLP:" + p.TLP + "\r\nSHA-256: " + j.PayloadSHA256 + "\r\n\r\n" + pretty.String() + "\r\n"
	var b bytes.Buffer
	hdr := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	hdr("From", s.From)
	hdr("To", strings.Join(to, ", "))
	hdr("Subject", mime.BEncoding.Encode("utf-8", p.Subject))
	hdr("Date", now().UTC().Format(time.RFC1123Z))
	hdr("Message-ID", "<"+j.NotificationID+"@kuzet>")
	hdr("X-"+HeaderNotificationID, j.NotificationID)
	hdr("X-"+HeaderPayloadSHA256, j.PayloadSHA256)
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "base64")
	b.WriteString("\r\n")
	enc := base64.StdEncoding.EncodeToString([]byte(body))
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	return b.Bytes(), nil
}

// Ack is what a recipient publishes on kuzet.notify.ack to acknowledge a
// notification.
type Ack struct {
	NotificationID string    `json:"notification_id"`
	Recipient      string    `json:"recipient"`
	At             time.Time `json:"at"`
}

// ParseAck decodes an acknowledgement strictly: unknown fields, trailing
// data and missing ids are errors.
func ParseAck(data []byte) (Ack, error) {
	var a Ack
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return Ack{}, fmt.Errorf("ack: %w", err)
	}
	if dec.More() {
		return Ack{}, errors.New("ack: data after the object")
	}
	if a.NotificationID == "" || a.Recipient == "" {
		return Ack{}, errors.New("ack: notification_id and recipient are required")
	}
	return a, nil
}
