package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.yaml.in/yaml/v3"

	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/notify"
	"github.com/kuzet-kz/kuzet/internal/registry"
)

// notifyDemo lets a newcomer see notifications go out, arrive and be
// acknowledged: a NATS subscriber on every recipient's subject, and a
// webhook receiver that the registry's loopback webhook endpoints are
// pointed at. Each logs what it receives (the webhook after checking its
// signature) and acknowledges it on kuzet.notify.ack, as a recipient would.
type notifyDemo struct {
	log     *slog.Logger
	nc      *nats.Conn
	srv     *http.Server
	ln      net.Listener
	secrets map[string][]byte // by secret reference
	mu      sync.Mutex
	// Received counts notifications received, by channel.
	received map[string]int
}

// prepareRegistry points the registry's loopback webhook endpoints at the
// demo receiver and sets their secrets (a fresh random one, unless the
// environment already holds it): it writes the result to the work
// directory and returns its path, or the file itself when it has no such
// endpoint.
func (d *notifyDemo) prepareRegistry(file, workdir string) (string, error) {
	reg, err := registry.LoadFile(file)
	if err != nil {
		return "", err
	}
	var eps []*registry.Notify
	for i := range reg.Centers {
		eps = append(eps, reg.Centers[i].Notify)
	}
	for i := range reg.Organisations {
		eps = append(eps, reg.Organisations[i].Notify)
	}
	changed := false
	for _, ep := range eps {
		if ep == nil || ep.ChannelOrDefault() != registry.ChannelWebhook {
			continue
		}
		u, err := url.Parse(ep.URL)
		if err != nil {
			continue
		}
		if ip, err := netip.ParseAddr(u.Hostname()); err != nil || !ip.IsLoopback() {
			continue
		}
		if d.ln == nil {
			if d.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
				return "", err
			}
		}
		u.Host = d.ln.Addr().String()
		ep.URL = u.String()
		if name, ok := strings.CutPrefix(ep.Secret, "env:"); ok && os.Getenv(name) == "" {
			var b [32]byte
			if _, err := rand.Read(b[:]); err != nil {
				return "", err
			}
			if err := os.Setenv(name, hex.EncodeToString(b[:])); err != nil {
				return "", err
			}
		}
		secret, err := notify.Secret(ep.Secret)
		if err != nil {
			return "", err
		}
		d.secrets[ep.Secret] = secret
		changed = true
	}
	if !changed {
		return file, nil
	}
	out, err := yaml.Marshal(reg)
	if err != nil {
		return "", err
	}
	path := filepath.Join(workdir, "registry.yaml")
	header := "# Written by kuzet run from " + file + ": loopback webhook endpoints point at its demo receiver.\n"
	return path, os.WriteFile(path, append([]byte(header), out...), 0o600)
}

// start subscribes and serves.
func (d *notifyDemo) start(natsCfg config.NATS) error {
	var err error
	d.nc, err = bus.Connect(natsCfg, "kuzet run notification receiver", d.log)
	if err != nil {
		return err
	}
	if _, err := d.nc.Subscribe("kuzet.notify.*.*", func(m *nats.Msg) {
		id := m.Header.Get(notify.HeaderNotificationID)
		var p notify.Payload
		_ = json.Unmarshal(m.Data, &p)
		d.count("nats")
		d.log.Info("demo recipient: notification received by NATS", "subject", m.Subject, "notification", id,
			"incident", p.Incident.ID, "regime", p.Regime, "stage", p.Stage, "summary", p.Subject)
		d.ack(id, p.Recipient.ID)
	}); err != nil {
		return err
	}
	if d.ln != nil {
		d.srv = &http.Server{Handler: http.HandlerFunc(d.webhook), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = d.srv.Serve(d.ln) }()
	}
	return nil
}

func (d *notifyDemo) count(channel string) {
	d.mu.Lock()
	d.received[channel]++
	d.mu.Unlock()
}

// webhook receives a signed notification.
func (d *notifyDemo) webhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || r.Method != http.MethodPost {
		http.Error(w, "POST a notification", http.StatusBadRequest)
		return
	}
	var verr error = errors.New("no secret")
	for _, secret := range d.secrets {
		if verr = notify.VerifySignature(secret, body, r.Header.Get(notify.HeaderSignature), time.Now(), 5*time.Minute); verr == nil {
			break
		}
	}
	if verr != nil {
		d.log.Warn("demo recipient: webhook refused", "err", verr)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var p notify.Payload
	_ = json.Unmarshal(body, &p)
	d.count("webhook")
	d.log.Info("demo recipient: notification received by webhook", "notification", p.NotificationID, "recipient", p.Recipient.ID,
		"incident", p.Incident.ID, "regime", p.Regime, "stage", p.Stage, "summary", p.Subject)
	w.WriteHeader(http.StatusNoContent)
	go d.ack(p.NotificationID, p.Recipient.ID)
}

// ack acknowledges a notification a little later, as a person would.
func (d *notifyDemo) ack(id, recipient string) {
	if id == "" || recipient == "" {
		return
	}
	time.AfterFunc(2*time.Second, func() {
		data, _ := json.Marshal(notify.Ack{NotificationID: id, Recipient: recipient, At: time.Now().UTC()})
		if err := d.nc.Publish(bus.NotifyAckSubject, data); err != nil {
			d.log.Warn("demo recipient: acknowledgement not sent", "err", err)
		}
	})
}

// URL is the webhook receiver's address ("" when none runs).
func (d *notifyDemo) URL() string {
	if d == nil || d.ln == nil {
		return ""
	}
	return "http://" + d.ln.Addr().String()
}

func (d *notifyDemo) stop(ctx context.Context) {
	if d == nil {
		return
	}
	if d.srv != nil {
		_ = d.srv.Shutdown(ctx)
	} else if d.ln != nil {
		_ = d.ln.Close()
	}
	if d.nc != nil {
		d.nc.Close()
	}
}
