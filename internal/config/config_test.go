package config_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/conformance"
)

func TestShippedConfigsLoad(t *testing.T) {
	dir := filepath.Join(conformance.ModuleRoot(t), "configs")
	c := config.DefaultCollector()
	if err := config.Load(filepath.Join(dir, "collector.yaml"), &c); err != nil {
		t.Errorf("collector.yaml: %v", err)
	}
	if c.ID != "almaty-1" || len(c.Inputs) != 3 || c.Batch.Linger != 200*time.Millisecond {
		t.Errorf("collector.yaml decoded wrong: %+v", c)
	}
	n := config.DefaultNCC()
	if err := config.Load(filepath.Join(dir, "ncc.yaml"), &n); err != nil {
		t.Errorf("ncc.yaml: %v", err)
	}
	a := config.DefaultAPI()
	t.Chdir(conformance.ModuleRoot(t)) // registry_file is relative to the working directory
	if err := config.Load(filepath.Join(dir, "api.yaml"), &a); err != nil {
		t.Errorf("api.yaml: %v", err)
	}
	if len(a.Keys) != 5 {
		t.Errorf("api.yaml keys: %d", len(a.Keys))
	}
}

func TestBadConfigs(t *testing.T) {
	for file, c := range map[string]struct {
		cfg  config.Validator
		want []string
	}{
		"unknown_key.bad.yaml": {ptr(config.DefaultCollector()), []string{"field inputz not found"}},
		"collector_fields.bad.yaml": {ptr(config.DefaultCollector()), []string{
			"collector_fields.bad.yaml:1: id:", "zone:", "batch.max_events: must be 1..100000",
			"inputs[0].listen: missing", "inputs[1].name: duplicate", "inputs[1].type: must be one of",
			`inputs[1].listen: "nowhere" is not host:port`, "inputs[2].keys: \"plaintext-key\" is not a sha256",
			"collector_fields.bad.yaml:10: inputs[1].name", "inputs[3].framing: must be auto, lf, nul or octet",
			"inputs[3].idle_timeout: must be 0", "inputs[3].max_conns_per_ip: 20 is more than max_conns 10"}},
		"ncc_fields.bad.yaml": {ptr(config.DefaultNCC()), []string{
			`clickhouse.addr: "localhost" is not host:port`, "clickhouse.database", `clickhouse.cluster: "kuzet cluster" is not a plain identifier`,
			`clickhouse.insert: must be "local" or "distributed", not "sometimes"`, `clickhouse.compression: must be "lz4" or "none", not "zstd9"`, "consumer.max_ack_pending: must be at least fetch_batch",
			"consumer.ack_wait", "nats.url: \"localhost:4222\" has no scheme", `nats.placement_tags[1]: "two words" is not a tag`, "nats.events_max_age: must be at least 1h, not 10m0s", "store.linger",
			"consumer.fetch_max_bytes: must be at least 9437184", `digests.time: "24:10" is not HH:MM`, "digests.retry: must be at least 1s", "store.max_batch_bytes: must be at least 1048576",
			"store.max_inflight_bytes: must be at least store.max_batch_bytes + consumer.fetch_max_bytes"}},
		"api_fields.bad.yaml": {ptr(config.DefaultAPI()), []string{
			"keys[0].hash", "keys[1].name: duplicate", "keys[1].role: role owner needs an org", `keys[2].sectors: unknown sector "space"`,
			`keys[3].role: unknown role "root"`, `keys[4].hash: is the hash of the common word "password"`,
			`keys[6].hash: the same hash as keys[5] ("e", role owner)`,
			`keys[7].org: key "g": organisation "no-such-org" is not in the registry`,
			`keys[8].oisc: key "h": "oisc-nowhere" is not an OISC`, `keys[9].oisc: key "i": "ncc" is not an OISC`}},
		"api_registry.bad.yaml": {ptr(config.DefaultAPI()), []string{
			`registry_file: "testdata/no-such-registry.yaml"`, `needed to check the org and oisc of keys[0] ("qazbank-ciso")`}},
		"collector_keys.bad.yaml": {ptr(config.DefaultCollector()), []string{
			`inputs[0].keys[1]: is the hash of the common word "changeme"`}},
		"api_audit.bad.yaml": {ptr(config.DefaultAPI()), []string{
			`nats.url: "localhost:4222" has no scheme`, `audit.instance: "api one"`, "audit.max_batch: must be 1..10000",
			"audit.write_timeout: must be at least 100ms", "stored_keys.cache_ttl: must be 0..1m", "stored_keys.default_ttl: must be at least 1m",
			"stored_keys.max_ttl: must be at least stored_keys.default_ttl"}},
		"api_limits.bad.yaml": {ptr(config.DefaultAPI()), []string{
			"http.listen: must differ from listen", "tls_cert: tls_cert and tls_key go together", "tls_client_ca: needs tls_cert",
			"tls_key: stat /nonexistent/api.key", "limits.max_response_bytes: must be 64 KiB..256 MiB",
			"limits.max_concurrent_queries_per_key: must be 1..max_concurrent_queries", "limits.queue_timeout: must be positive",
			"limits.rate_per_key: must be positive", "limits.burst_per_key", "limits.query_timeout: must be at least 1s",
			"clickhouse.max_open_conns: must exceed limits.max_concurrent_queries"}},
		"api_oidc.bad.yaml": {ptr(config.DefaultAPI()), []string{
			`oidc.issuer: "http://idp.example.kz/realms/kuzet": http only on a loopback host`, "oidc.audience: missing",
			"oidc.jwks_url: \"https://idp.example.kz/jwks?x=1\": want an absolute https URL", `oidc.allowed_algs[1]: "none"`,
			`oidc.allowed_algs[2]: "HS256"`, `oidc.claims.role: "sub" is a registered claim`, `oidc.claims.org: "kuzet_oisc" is also claims.oisc`,
			"oidc.leeway: must be 0..5m", "oidc.refresh: must be 1m..24h", "oidc.min_refetch: must be 1s..refresh",
			"limits.max_auth_failures_per_ip: must be 1..1000000", "limits.auth_failure_window: must be 1s..24h",
			`trusted_proxies[1]: "0.0.0.0/0" would trust every address`, `trusted_proxies[2]: "proxy.local" is neither a CIDR nor an address`}},
	} {
		t.Run(file, func(t *testing.T) {
			err := config.Load(filepath.Join("testdata", file), c.cfg)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestEnvOverrides(t *testing.T) {
	t.Setenv("KUZET_NATS_URL", "nats://10.0.0.1:4222")
	t.Setenv("KUZET_CLICKHOUSE_ADDR", "ch1:9000, ch2:9000")
	t.Setenv("KUZET_CLICKHOUSE_PASSWORD", "s3cret")
	t.Setenv("KUZET_STORE_LINGER", "250ms")
	t.Setenv("KUZET_CONSUMER_MAX_ACK_PENDING", "2048")
	n := config.DefaultNCC()
	if err := config.Load("", &n); err != nil {
		t.Fatal(err)
	}
	if n.NATS.URL != "nats://10.0.0.1:4222" || len(n.ClickHouse.Addr) != 2 || n.ClickHouse.Addr[1] != "ch2:9000" ||
		n.Store.Linger != 250*time.Millisecond || n.Consumer.MaxAckPending != 2048 || n.ClickHouse.Password.Reveal() != "s3cret" {
		t.Errorf("overrides not applied: %+v", n)
	}
	t.Setenv("KUZET_CONSUMER_FETCH_BATCH", "many")
	if err := config.Load("", &n); err == nil || !strings.Contains(err.Error(), "KUZET_CONSUMER_FETCH_BATCH") {
		t.Errorf("bad override: %v", err)
	}
	names := strings.Join(config.EnvNames(&n), " ")
	for _, want := range []string{"KUZET_NATS_URL", "KUZET_CLICKHOUSE_ADDR", "KUZET_STORE_MAX_BACKOFF", "KUZET_HTTP_LISTEN"} {
		if !strings.Contains(names, want) {
			t.Errorf("EnvNames lacks %s: %s", want, names)
		}
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	n := config.DefaultNCC()
	n.ClickHouse.Password = "hunter2"
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("cfg", "password", n.ClickHouse.Password, "clickhouse", n.ClickHouse)
	out := buf.String() + fmt.Sprintf("%v %+v %s", n.ClickHouse.Password, n.ClickHouse, n.ClickHouse.Password)
	if strings.Contains(out, "hunter2") {
		t.Errorf("secret leaked: %s", out)
	}
}
