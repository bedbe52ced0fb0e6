package bus_test

import (
	"context"
	"testing"

	"github.com/kuzet-kz/kuzet/internal/audit"
	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/bus/bustest"
	"github.com/kuzet-kz/kuzet/internal/config"
)

func TestAuditHeads(t *testing.T) {
	srv := bustest.Server(t)
	ctx := context.Background()
	cfg := config.DefaultNATS()
	cfg.URL = srv.ClientURL()
	h, err := bus.DialAuditHeads(ctx, cfg, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if ins, err := h.Instances(ctx); err != nil || len(ins) != 0 {
		t.Fatalf("empty bucket: %v %v", ins, err)
	}
	if _, ok, err := h.Get(ctx, "api-1"); ok || err != nil {
		t.Fatalf("missing head: %v %v", ok, err)
	}
	want := audit.Head{Seq: 7, Hash: "ab"}
	if err := h.Put(ctx, "api-1", want); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := h.Get(ctx, "api-1"); !ok || err != nil || got != want {
		t.Fatalf("head %+v %v %v", got, ok, err)
	}
	if ins, err := h.Instances(ctx); err != nil || len(ins) != 1 || ins[0] != "api-1" {
		t.Fatalf("instances %v %v", ins, err)
	}
}
