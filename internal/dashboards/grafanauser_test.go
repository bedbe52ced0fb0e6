package dashboards_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/kuzet-kz/kuzet/internal/chlocal"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/store"
)

// TestPanelQueriesAsGrafana installs deploy/clickhouse/users.d/grafana.xml
// (its password hash filled in) into a private ClickHouse, migrates and
// seeds the kuzet database there, and runs every panel as the grafana user,
// as the provisioned data source does: the snippet must load, its
// readonly=2 must let the plugin's max_execution_time through, and the user
// must not write nor read another database.
func TestPanelQueriesAsGrafana(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a ClickHouse server; skipped with -short")
	}
	bin, err := chlocal.Find()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	const password = "grafana-test-secret"
	snippet, err := os.ReadFile(filepath.Join(conformance.ModuleRoot(t), "deploy/clickhouse/users.d/grafana.xml"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(password))
	xml := strings.Replace(string(snippet), "REPLACE_WITH_SHA256_OF_THE_PASSWORD", hex.EncodeToString(sum[:]), 1)
	if xml == string(snippet) {
		t.Fatal("grafana.xml: no REPLACE_WITH_SHA256_OF_THE_PASSWORD placeholder")
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "users.d"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "users.d", "grafana.xml"), []byte(xml), 0o640); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	srv, err := chlocal.Start(ctx, chlocal.Options{Binary: bin, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	// Its data is thrown away: SIGKILL, not the graceful stop 18.16 takes
	// about 8 s over.
	t.Cleanup(srv.Kill)

	t.Logf("private ClickHouse started in %s", time.Since(start).Round(time.Millisecond))
	cfg := config.DefaultClickHouse() // database kuzet, user default
	cfg.Addr = []string{srv.Addr()}
	st, err := store.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"CREATE DATABASE IF NOT EXISTS other", "CREATE TABLE IF NOT EXISTS other.t (a UInt8) ENGINE = Memory"} {
		if err := st.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC().Truncate(time.Second)
	seed(t, st, now)

	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{srv.Addr()},
		Auth: clickhouse.Auth{Database: "kuzet", Username: "grafana", Password: password}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Ping(ctx); err != nil {
		t.Fatalf("grafana cannot sign in with the snippet installed: %v", err)
	}
	// Refused for the right reason: code 164 (READONLY), 291
	// (DATABASE_ACCESS_DENIED); each bounded, so a hang is no refusal.
	for _, c := range []struct {
		sql  string
		code int32
	}{
		{"INSERT INTO kuzet.schema_migrations SELECT 999, 'x', now()", 164},
		{"CREATE TABLE kuzet.x (a UInt8) ENGINE = Memory", 164},
		{"SELECT 1 SETTINGS readonly = 0", 164},
		{"SELECT count() FROM other.t", 291},
	} {
		qctx, qcancel := context.WithTimeout(ctx, 10*time.Second)
		err := conn.Exec(qctx, c.sql)
		qcancel()
		var ex *clickhouse.Exception
		if !errors.As(err, &ex) || ex.Code != c.code {
			t.Errorf("as grafana, %q: %v; want refused with code %d", c.sql, err, c.code)
		}
	}
	// The plugin sends its query timeout as max_execution_time with every
	// query. readonly=1 refuses that over HTTP on 18.16 (over the native
	// protocol 18.16 lets it through, current releases refuse it too):
	// readonly=2 takes it.
	q := url.Values{"query": {"SELECT count() FROM kuzet.events"}, "max_execution_time": {"30"},
		"user": {"grafana"}, "password": {password}}
	resp, err := http.Get("http://" + srv.HTTPAddr() + "/?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("as grafana over HTTP, a query with max_execution_time: %s %s", resp.Status, body)
	}
	checkPanels(t, conn, now)
}
