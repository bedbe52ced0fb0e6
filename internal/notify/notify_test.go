package notify

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/registry"
)

func TestSignatureVerifies(t *testing.T) {
	secret, body := []byte("s3cret-hmac-key"), []byte(`{"notification_id":"x"}`)
	at := time.Date(2026, 3, 8, 9, 0, 0, 0, time.UTC)
	h := Sign(secret, body, at)
	if err := VerifySignature(secret, body, h, at.Add(time.Minute), 5*time.Minute); err != nil {
		t.Fatalf("a good signature: %v", err)
	}
	for name, c := range map[string]struct {
		secret, body []byte
		header       string
		now          time.Time
	}{
		"body changed":    {secret, []byte(`{"notification_id":"y"}`), h, at},
		"other secret":    {[]byte("other"), body, h, at},
		"replayed later":  {secret, body, h, at.Add(10 * time.Minute)},
		"time changed":    {secret, body, strings.Replace(h, "t=", "t=1", 1), at},
		"no signature":    {secret, body, "t=1772960400", at},
		"malformed":       {secret, body, "garbage", at},
		"signature empty": {secret, body, "", at},
	} {
		if err := VerifySignature(c.secret, c.body, c.header, c.now, 5*time.Minute); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
}

func TestSecretByReference(t *testing.T) {
	t.Setenv("KUZET_TEST_SECRET", "from-env")
	if b, err := Secret("env:KUZET_TEST_SECRET"); err != nil || string(b) != "from-env" {
		t.Errorf("env: %q, %v", b, err)
	}
	for _, ref := range []string{"env:KUZET_TEST_UNSET_SECRET", "file:/nonexistent/secret", "plain-value", ""} {
		_, err := Secret(ref)
		if err == nil {
			t.Errorf("%q: no error", ref)
		} else if strings.Contains(err.Error(), "from-env") {
			t.Errorf("%q: the error shows a secret: %v", ref, err)
		}
	}
}

func TestParseAckIsStrict(t *testing.T) {
	if a, err := ParseAck([]byte(`{"notification_id":"n1","recipient":"ncc","at":"2026-12-02T10:00:00Z"}`)); err != nil || a.Recipient != "ncc" {
		t.Fatalf("a good acknowledgement: %+v, %v", a, err)
	}
	for _, bad := range []string{``, `{}`, `{"notification_id":"n1"}`, `{"notification_id":"n1","recipient":"ncc","extra":1}`,
		`{"notification_id":"n1","recipient":"ncc"} {}`, `[]`, `{"notification_id":1,"recipient":"ncc"}`} {
		if _, err := ParseAck([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseAck(f *testing.F) {
	f.Add([]byte(`{"notification_id":"n1","recipient":"ncc","at":"2026-12-02T10:00:00Z"}`))
	f.Add([]byte(`{"notification_id":"","recipient":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseAck(data)
		if err == nil && (a.NotificationID == "" || a.Recipient == "") {
			t.Fatalf("accepted without ids: %q", data)
		}
	})
}

func TestCatalogueComplete(t *testing.T) {
	keys := slices.Sorted(maps.Keys(catalogue["en"]))
	for _, lang := range registry.Languages {
		got := slices.Sorted(maps.Keys(catalogue[lang]))
		if !slices.Equal(got, keys) {
			t.Errorf("%s: keys %v, want %v", lang, got, keys)
		}
		for k, v := range catalogue[lang] {
			if strings.TrimSpace(v) == "" || strings.Count(v, "%") != strings.Count(catalogue["en"][k], "%") {
				t.Errorf("%s.%s: %q does not take the arguments of %q", lang, k, v, catalogue["en"][k])
			}
		}
	}
	for _, lang := range []string{"ru", "kk"} {
		if !slices.Equal(slices.Sorted(maps.Keys(words[lang])), slices.Sorted(maps.Keys(words["ru"]))) {
			t.Errorf("words in %s differ from ru's", lang)
		}
	}
}

const testRegistry = `
version: 1
centers:
  - {id: ncc, name: NCC, kind: ncc, notify: {language: en}}
  - {id: oisc-a, name: OISC A, kind: oisc, parent: ncc, auto_notify: true}
  - {id: oisc-b, name: OISC B, kind: oisc, parent: ncc}
  - {id: isc-energy, name: Energy ISC, kind: sectoral_isc, parent: ncc, sectors: [electricity]}
  - {id: pd, name: PD body, kind: authorized_body, notify: {channel: email, email: [pd@example.org]}}
organisations:
  - {id: grid, name: Grid, sectors: [electricity], oiscs: [oisc-a],
     notify: {channel: webhook, url: "https://grid.example/hook", secret: "env:GRID_HOOK", language: kk}}
  - {id: bank, name: Bank, sectors: [banking], oiscs: [oisc-b]}
objects: []
`

func TestResolveRoles(t *testing.T) {
	reg, err := registry.Parse([]byte(testRegistry))
	if err != nil {
		t.Fatal(err)
	}
	var unresolved []string
	r := NewResolver(reg)
	r.Unresolved = func(role string) { unresolved = append(unresolved, role) }
	in := &incident.ClockInput{Org: "grid", CenterID: "oisc-a", Sectors: []string{"electricity"}}
	got := func(role string, in *incident.ClockInput) string {
		rs, err := r.Resolve(role, in)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, x := range rs {
			out = append(out, x.Kind+"/"+x.ID+"/"+x.Channel+"/"+x.Language)
		}
		return strings.Join(out, " ")
	}
	for role, want := range map[string]string{
		incident.RecipientNCC:             "ncc/ncc/nats/en",
		incident.RecipientOwner:           "org/grid/webhook/kk",
		incident.RecipientConnectedCenter: "oisc/oisc-a/nats/ru",
		incident.RecipientAuthorizedBody:  "authorized_body/pd/email/ru",
		incident.RecipientSectorCenter:    "sectoral_isc/isc-energy/nats/ru",
	} {
		if g := got(role, in); g != want {
			t.Errorf("%s: %q, want %q", role, g, want)
		}
	}
	// The bank's incident without a detecting center: its organisation's
	// OISCs; no sectoral center covers banking: symbolic, not sent.
	bank := &incident.ClockInput{Org: "bank", Sectors: []string{"banking"}}
	if g := got(incident.RecipientConnectedCenter, bank); g != "oisc/oisc-b/nats/ru" {
		t.Errorf("bank's connected center: %q", g)
	}
	if g := got(incident.RecipientSectorCenter, bank); g != "/SECTOR_CENTER/none/ru" || !slices.Equal(unresolved, []string{"SECTOR_CENTER"}) {
		t.Errorf("bank's sector center: %q (unresolved %v)", g, unresolved)
	}
}

func TestReleasedAndSendable(t *testing.T) {
	reg, err := registry.Parse([]byte(testRegistry))
	if err != nil {
		t.Fatal(err)
	}
	auto := &incident.Incident{Origin: incident.OriginOISCDetected, CenterID: "oisc-a", Determination: incident.DeterminationSuspected}
	manual := &incident.Incident{Origin: incident.OriginOISCDetected, CenterID: "oisc-b", Determination: incident.DeterminationSuspected}
	confirmed := &incident.Incident{Origin: incident.OriginOISCDetected, CenterID: "oisc-b", Determination: incident.DeterminationConfirmed}
	reported := &incident.Incident{Origin: incident.OriginOwnerSelfIdentified, Determination: incident.DeterminationSuspected}
	fp := &incident.Incident{Origin: incident.OriginOISCDetected, CenterID: "oisc-a", Determination: incident.DeterminationFalsePositive}
	for name, c := range map[string]struct {
		in   *incident.Incident
		want bool
	}{"auto_notify OISC": {auto, true}, "waits for the analyst": {manual, false}, "confirmed": {confirmed, true},
		"self-reported": {reported, true}, "false positive": {fp, false}} {
		if got := Released(c.in, reg); got != c.want {
			t.Errorf("%s: released %v, want %v", name, got, c.want)
		}
	}
	st := &incident.Stage{Status: incident.StagePending}
	n := &incident.Notification{Channel: "nats"}
	if !Sendable(auto, st, n, true) || Sendable(auto, st, n, false) {
		t.Error("a pending stage's unsent notification is sent exactly when released")
	}
	if Sendable(auto, st, &incident.Notification{Channel: ChannelNone}, true) ||
		Sendable(auto, st, &incident.Notification{Channel: "nats", SentAt: time.Now()}, true) ||
		Sendable(auto, &incident.Stage{Status: incident.StagePending, Flags: []string{incident.FlagAwaitingAnchor}}, n, true) ||
		Sendable(auto, &incident.Stage{Status: incident.StageWaived}, n, true) {
		t.Error("unresolved, already sent, unstarted or waived: sent")
	}
}

func TestPlanSnapshotsPayloadInTheRecipientsLanguage(t *testing.T) {
	reg, err := registry.Parse([]byte(testRegistry))
	if err != nil {
		t.Fatal(err)
	}
	due := time.Date(2026, 3, 9, 4, 0, 0, 0, time.UTC)
	in := &incident.Incident{ID: "inc-1", Title: "Brute force on scada", Org: "grid", Origin: incident.OriginOISCDetected,
		CenterID: "oisc-a", Determination: incident.DeterminationSuspected, Severity: "high", TLP: incident.TLPAmber,
		DetectedAt: due.Add(-time.Hour), RSITClass: "intrusion-attempts", RSITType: "brute-force",
		Stages: []incident.Stage{{Regime: "kz_oisc_to_ncc", Stage: "immediate", DueAt: due, Status: incident.StagePending,
			Notifications: []incident.Notification{
				{ID: "n-ncc", Recipient: "ncc", Kind: "ncc", Channel: "nats", Language: "en"},
				{ID: "n-grid", Recipient: "grid", Kind: "org", Channel: "webhook", Language: "kk"},
				{ID: "n-sent", Recipient: "oisc-a", Kind: "oisc", Channel: "nats", Language: "ru", SentAt: due.Add(-time.Minute)},
			}}}}
	b := &Builder{Resolver: NewResolver(reg)}
	jobs, watches, err := b.Plan(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 || len(watches) != 1 || watches[0].DueAt != due {
		t.Fatalf("jobs %d (want 2: the sent one is not), watches %+v", len(jobs), watches)
	}
	again, _, _ := b.Plan(in)
	for i, j := range jobs {
		if j.PayloadSHA256 != incident.PayloadSHA256(j.Payload) || j.PayloadSHA256 != again[i].PayloadSHA256 {
			t.Errorf("job %s: the payload's SHA-256 is not its own, or not stable", j.NotificationID)
		}
	}
	if !strings.Contains(string(jobs[0].Payload), `"local":"2026-03-09 09:00:00 +05:00"`) ||
		!strings.Contains(string(jobs[0].Payload), `"subject":"[TLP:AMBER] high security incident: Brute force on scada (kz_oisc_to_ncc/immediate)"`) {
		t.Errorf("the NCC's payload (en, Almaty time): %s", jobs[0].Payload)
	}
	if !strings.Contains(string(jobs[1].Payload), "АҚ инциденті, жоғары") {
		t.Errorf("the owner's payload (kk): %s", jobs[1].Payload)
	}
}
