package grouping_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/alert"
	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/bus/bustest"
	"github.com/kuzet-kz/kuzet/internal/grouping"
	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/notify"
	"github.com/kuzet-kz/kuzet/internal/registry"
	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"
)

// smtpServer is a minimal SMTP server on a loopback port: it accepts every
// message (no STARTTLS offered) and keeps each one's recipients and data.
type smtpServer struct {
	ln   net.Listener
	mu   sync.Mutex
	msgs []smtpMsg
}

type smtpMsg struct {
	from string
	to   []string
	data string
}

func startSMTP(t *testing.T) *smtpServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *smtpServer) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	say := func(line string) { fmt.Fprintf(c, "%s\r\n", line) }
	say("220 test ESMTP")
	var m smtpMsg
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250-test")
			say("250 8BITMIME")
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			m = smtpMsg{from: strings.TrimSpace(line[len("MAIL FROM:"):])}
			say("250 ok")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			m.to = append(m.to, strings.Trim(strings.TrimSpace(line[len("RCPT TO:"):]), "<>"))
			say("250 ok")
		case cmd == "DATA":
			say("354 go on")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			m.data = b.String()
			s.mu.Lock()
			s.msgs = append(s.msgs, m)
			s.mu.Unlock()
			say("250 queued")
		case cmd == "QUIT":
			say("221 bye")
			return
		default:
			say("250 ok")
		}
	}
}

func (s *smtpServer) messages() []smtpMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]smtpMsg(nil), s.msgs...)
}

const testRegimes = `
calendars: {}
regimes:
  - id: kz_oisc_to_ncc
    basis: "Law on informatization Art. 7-2"
    applies_if: {origin: [oisc_detected], determination: [suspected, confirmed]}
    stages:
      - {stage: immediate, anchor: detected_at, due: PT1H, recipients: [NCC, OWNER]}
  - id: authority
    basis: "a test regime with an e-mailed recipient"
    applies_if: {origin: [oisc_detected]}
    stages:
      - {stage: initial, anchor: detected_at, due: PT1H, recipients: [AUTHORIZED_BODY]}
  - id: short
    basis: "a test regime whose recipient nobody is: it falls overdue"
    applies_if: {origin: [oisc_detected]}
    stages:
      - {stage: two_seconds, anchor: detected_at, due: PT2S, recipients: [SECTOR_CENTER]}
`

// TestNotificationsGoOutAndAreAcknowledged runs the incident stage with its
// notification stage on a real JetStream and ClickHouse against a NATS
// subscriber, a webhook that fails twice and then succeeds (checking each
// signature), and an SMTP server on a loopback port: each receives its
// notifications, the delivery log shows every attempt, acknowledgements set
// acknowledged_at (a forged and a misaddressed one are refused and
// counted), and a stage nobody can receive falls overdue: a metric and a
// meta-alert on its incident, which opens no incident.
func TestNotificationsGoOutAndAreAcknowledged(t *testing.T) {
	st := storetest.Open(t)
	nc, js := bustest.Connect(t, bustest.Server(t))
	ctx := context.Background()
	if err := bus.EnsureStreams(ctx, js, bus.DefaultStreamOptions()); err != nil {
		t.Fatal(err)
	}
	secret := "test-webhook-secret-" + fmt.Sprint(time.Now().UnixNano())
	t.Setenv("KUZET_TEST_WEBHOOK_SECRET", secret)
	var hookMu sync.Mutex
	var hookCalls int
	var hookBodies []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := notify.VerifySignature([]byte(secret), body, r.Header.Get(notify.HeaderSignature), time.Now(), time.Minute); err != nil {
			t.Errorf("webhook signature: %v", err)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		hookMu.Lock()
		defer hookMu.Unlock()
		hookCalls++
		if hookCalls <= 2 {
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		}
		hookBodies = append(hookBodies, string(body))
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()
	mail := startSMTP(t)

	reg, err := registry.Parse(fmt.Appendf(nil, `
version: 1
centers:
  - {id: ncc, name: NCC, kind: ncc}
  - {id: oisc-a, name: OISC A, kind: oisc, parent: ncc, auto_notify: true}
  - {id: pd-body, name: PD body, kind: authorized_body, notify: {channel: email, email: [pd@body.example], language: en}}
organisations:
  - {id: grid, name: Grid, sectors: [electricity], oiscs: [oisc-a],
     notify: {channel: webhook, url: %q, secret: "env:KUZET_TEST_WEBHOOK_SECRET", language: kk}}
  - {id: bank, name: Bank, sectors: [banking], oiscs: [oisc-a]}
objects: []
`, hook.URL+"/hook"))
	if err != nil {
		t.Fatal(err)
	}
	regs, err := incident.ParseRegimes([]byte(testRegimes), fstest.MapFS{})
	if err != nil {
		t.Fatal(err)
	}
	resolver := notify.NewResolver(reg)
	clocks, err := incident.NewClocks(incident.ClockOptions{Regimes: regs, Resolve: resolver.Resolve})
	if err != nil {
		t.Fatal(err)
	}
	// A recipient on NATS: every notification of the subjects, counted.
	var subMu sync.Mutex
	received := map[string][]*nats.Msg{}
	sub, err := nc.Subscribe("kuzet.notify.*.*", func(m *nats.Msg) {
		subMu.Lock()
		received[m.Subject] = append(received[m.Subject], m)
		subMu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

	cfg := incident.DefaultConfig()
	cfg.RSITFile = ""
	cfg.Routes = []incident.Route{{Name: "default", GroupBy: []string{"rule", "object"},
		GroupWait: 200 * time.Millisecond, GroupInterval: 300 * time.Millisecond, RepeatInterval: time.Hour}}
	metrics := prometheus.NewRegistry()
	stg, err := grouping.Start(ctx, js, st, grouping.Options{Config: cfg, Partitions: 4, Member: "ncc-1", Clocks: clocks,
		Heartbeat: 100 * time.Millisecond, TTL: 400 * time.Millisecond, Tick: 50 * time.Millisecond, Registerer: metrics,
		Notify: &grouping.NotifyOptions{Builder: &notify.Builder{Resolver: resolver, Regimes: regs},
			Webhook: notify.NewWebhook(2 * time.Second), Email: &notify.SMTP{Addr: mail.ln.Addr().String(), From: "ncc@kuzet.example"},
			Backoff: 100 * time.Millisecond, MaxBackoff: 300 * time.Millisecond, Recheck: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer stg.Stop(context.Background())

	now := time.Now().UTC()
	for i, o := range []struct{ org, sector, object string }{{"grid", "electricity", "scada-1"}, {"bank", "banking", "cbs"}} {
		a := mkAlert(200+i, o.org, o.sector, o.object, "r-notify", "192.0.2.10", now)
		data, _ := json.Marshal(a)
		if _, err := js.Publish(ctx, bus.AlertsSubject(a.OISC, a.Sector), data); err != nil {
			t.Fatal(err)
		}
	}
	incidents := func() map[string]incident.Incident {
		out := map[string]incident.Incident{}
		if _, err := st.StreamIncidents(ctx, store.IncidentQuery{Limit: 10, National: new(bool)}, func(doc []byte) error {
			var in incident.Incident
			err := json.Unmarshal(doc, &in)
			out[in.Org] = in
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	stageOf := func(in incident.Incident, regime string) *incident.Stage {
		for i := range in.Stages {
			if in.Stages[i].Regime == regime {
				return &in.Stages[i]
			}
		}
		return nil
	}
	waitFor := func(what string, d time.Duration, ok func() error) {
		t.Helper()
		deadline := time.Now().Add(d)
		for {
			err := ok()
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %v", what, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	var ins map[string]incident.Incident
	waitFor("every notification sent", 30*time.Second, func() error {
		ins = incidents()
		if len(ins) != 2 {
			return fmt.Errorf("%d incidents", len(ins))
		}
		for org, in := range ins {
			for _, regime := range []string{"kz_oisc_to_ncc", "authority"} {
				s := stageOf(in, regime)
				if s == nil || s.Status != incident.StageSent {
					return fmt.Errorf("%s: stage %s: %+v", org, regime, s)
				}
			}
		}
		return nil
	})
	// NATS: the NCC got one per incident, the bank (owner, default
	// channel) one; the grid's owner notification went by webhook.
	subMu.Lock()
	gotNCC, gotBank, gotGrid := len(received["kuzet.notify.ncc.ncc"]), len(received["kuzet.notify.org.bank"]), len(received["kuzet.notify.org.grid"])
	var bankMsg *nats.Msg
	if gotBank > 0 {
		bankMsg = received["kuzet.notify.org.bank"][0]
	}
	subMu.Unlock()
	if gotNCC != 2 || gotBank != 1 || gotGrid != 0 {
		t.Fatalf("NATS notifications: ncc %d, bank %d, grid %d; want 2, 1, 0", gotNCC, gotBank, gotGrid)
	}
	var bankPayload notify.Payload
	if err := json.Unmarshal(bankMsg.Data, &bankPayload); err != nil {
		t.Fatal(err)
	}
	bankN := stageOf(ins["bank"], "kz_oisc_to_ncc").Notifications
	var bankOwner incident.Notification
	for _, n := range bankN {
		if n.Recipient == "bank" {
			bankOwner = n
		}
	}
	if bankPayload.NotificationID != bankOwner.ID || bankMsg.Header.Get(notify.HeaderNotificationID) != bankOwner.ID ||
		bankMsg.Header.Get(notify.HeaderPayloadSHA256) != incident.PayloadSHA256(bankMsg.Data) ||
		bankPayload.Incident.ID != ins["bank"].ID || bankPayload.Language != "ru" || !strings.Contains(bankPayload.Subject, "Инцидент") {
		t.Errorf("the bank's notification: headers %v, payload %+v", bankMsg.Header, bankPayload)
	}
	// The webhook: two refusals, then the one notification, in Kazakh.
	hookMu.Lock()
	calls, bodies := hookCalls, slices(hookBodies)
	hookMu.Unlock()
	if calls != 3 || len(bodies) != 1 {
		t.Fatalf("webhook: %d calls, %d accepted; want 3 and 1", calls, len(bodies))
	}
	var gridPayload notify.Payload
	if err := json.Unmarshal([]byte(bodies[0]), &gridPayload); err != nil || gridPayload.Language != "kk" ||
		!strings.Contains(gridPayload.Subject, "инциденті") || gridPayload.Recipient.ID != "grid" {
		t.Errorf("webhook payload (%v): %+v", err, gridPayload)
	}
	// E-mail: the authorized body, once per incident, in English.
	msgs := mail.messages()
	if len(msgs) != 2 {
		t.Fatalf("%d e-mails, want 2", len(msgs))
	}
	for _, m := range msgs {
		if len(m.to) != 1 || m.to[0] != "pd@body.example" || !strings.Contains(m.data, "Subject: [TLP:AMBER] high security incident: rule r-notify") ||
			!strings.Contains(m.data, "X-Kuzet-Notification-Id: ") {
			t.Errorf("e-mail to %v:\n%s", m.to, m.data)
		}
	}
	// The delivery log of the grid's incident shows the webhook's three
	// attempts: failed, failed, sent.
	log, err := st.NotificationLog(ctx, ins["grid"].ID, access.EventScope{Org: "grid"})
	if err != nil {
		t.Fatal(err)
	}
	var hookAttempts []string
	for _, e := range log {
		if e.Channel == registry.ChannelWebhook {
			hookAttempts = append(hookAttempts, fmt.Sprintf("%d:%s", e.Attempt, e.Outcome))
			if e.PayloadSHA256 != incident.PayloadSHA256([]byte(e.Payload)) {
				t.Errorf("log row %d: payload SHA-256 %s does not match its payload", e.Attempt, e.PayloadSHA256)
			}
		}
	}
	if other, err := st.NotificationLog(ctx, ins["grid"].ID, access.EventScope{Org: "bank"}); err != nil || len(other) != 0 {
		t.Errorf("the bank reads %d rows of the grid's delivery log (%v), want none", len(other), err)
	}
	if strings.Join(hookAttempts, " ") != "1:failed 2:failed 3:sent" {
		t.Errorf("webhook attempts in the log: %v", hookAttempts)
	}
	for _, e := range log {
		if e.Outcome == store.DeliveryFailed && !strings.Contains(e.Detail, "HTTP 503") {
			t.Errorf("a failed attempt's detail: %q", e.Detail)
		}
	}

	// Acknowledgements: a forged id and a misaddressed one are refused; the
	// bank's own sets acknowledged_at.
	ack := func(a any) {
		data, _ := json.Marshal(a)
		if _, err := js.Publish(ctx, bus.NotifyAckSubject, data); err != nil {
			t.Fatal(err)
		}
	}
	ack(notify.Ack{NotificationID: "00000000-0000-0000-0000-000000000000", Recipient: "bank", At: time.Now()})
	ack(notify.Ack{NotificationID: bankOwner.ID, Recipient: "grid", At: time.Now()})
	if _, err := js.Publish(ctx, bus.NotifyAckSubject, []byte(`{"notification_id": 1}`)); err != nil {
		t.Fatal(err)
	}
	ackAt := time.Now().UTC().Truncate(time.Millisecond)
	ack(notify.Ack{NotificationID: bankOwner.ID, Recipient: "bank", At: ackAt})
	waitFor("the bank's acknowledgement applied", 20*time.Second, func() error {
		in := incidents()["bank"]
		for _, n := range stageOf(in, "kz_oisc_to_ncc").Notifications {
			if n.Recipient == "bank" {
				if !n.AcknowledgedAt.Equal(ackAt) {
					return fmt.Errorf("acknowledged_at %v, want %v", n.AcknowledgedAt, ackAt)
				}
				return nil
			}
		}
		return fmt.Errorf("no bank notification")
	})
	for reason, want := range map[string]float64{"unknown_notification": 1, "wrong_recipient": 1, "malformed": 1} {
		waitFor("rejected acknowledgements counted", 10*time.Second, func() error {
			if got := counter(t, metrics, "kuzet_notification_acks_rejected_total", "reason", reason); got != want {
				return fmt.Errorf("%s: %v, want %v", reason, got, want)
			}
			return nil
		})
	}

	// Overdue: the stage nobody receives is past due at two seconds.
	waitFor("overdue stages raised", 20*time.Second, func() error {
		if got := counter(t, metrics, "kuzet_notification_overdue_total", "regime", "short"); got != 2 {
			return fmt.Errorf("overdue raised %v, want 2", got)
		}
		return nil
	})
	if n, err := testutil.GatherAndCount(metrics, "kuzet_notification_stages_overdue"); err != nil || n != 1 {
		t.Errorf("overdue gauge series: %d, %v", n, err)
	}
	d, err := st.GetIncident(ctx, ins["grid"].ID, access.EventScope{Org: "grid"}, 100)
	if err != nil {
		t.Fatal(err)
	}
	var meta []alert.Alert
	for _, raw := range d.Alerts {
		var a alert.Alert
		if err := json.Unmarshal(raw, &a); err != nil {
			t.Fatal(err)
		}
		if a.RuleID == grouping.MetaOverdueRule {
			meta = append(meta, a)
		}
	}
	if len(meta) != 1 || !strings.Contains(meta[0].RuleTitle, "short/two_seconds") {
		t.Fatalf("meta-alerts on the grid's incident: %+v", meta)
	}
	// It opens no incident: only the two incidents exist, a second later.
	time.Sleep(time.Second)
	if got := incidents(); len(got) != 2 {
		t.Errorf("%d incidents after the meta-alerts, want 2", len(got))
	}
}

func slices(s []string) []string { return append([]string(nil), s...) }

// counter is the value of a counter's series with label=value (0 when the
// series does not exist yet).
func counter(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
