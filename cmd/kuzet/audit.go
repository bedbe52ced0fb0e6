package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/kuzet-kz/kuzet/internal/audit"
	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/store"
)

func init() {
	register("audit", "check the API's audit log: `kuzet audit verify` names the first broken record of each chain", auditCmd)
}

const auditUsage = `usage: kuzet audit verify [flags]

Reads each API instance's audit chain in seq order, recomputes every hash,
checks each link and compares the end with the head kept in NATS
(-nats; without it, records cut from the end do not show). Prints the first
broken record of each chain: altered, unlinked, missing, duplicate,
truncated or head_mismatch. Exit status 1 when any chain is broken.
`

func auditCmd(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprint(stderr, auditUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "help") {
			return 0
		}
		return 2
	}
	fs := flag.NewFlagSet("kuzet audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, auditUsage); fs.PrintDefaults() }
	sf := addStoreFlags(fs)
	natsURL := fs.String("nats", "", "NATS URL of the audit heads bucket (empty: no head check)")
	instance := fs.String("instance", "", "verify only this instance's chain (default: every chain in the store or the bucket)")
	timeout := fs.Duration("timeout", 10*time.Minute, "bound on the whole check")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	st, err := sf.open(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "kuzet audit verify: %v\n", err)
		return 1
	}
	defer st.Close()
	var heads *bus.AuditHeads
	if *natsURL != "" {
		nc := config.DefaultNATS()
		nc.URL = *natsURL
		if heads, err = bus.DialAuditHeads(ctx, nc, "kuzet audit verify", nil); err != nil {
			fmt.Fprintf(stderr, "kuzet audit verify: %v\n", err)
			return 1
		}
		defer heads.Close()
	}
	broken, err := verifyAudit(ctx, st, heads, *instance, *timeout, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "kuzet audit verify: %v\n", err)
		return 1
	}
	if broken {
		return 1
	}
	return 0
}

// verifyAudit checks the chain of instance, or every chain found in the
// store or the heads bucket when instance is empty, and prints one line per
// chain. It reports whether any is broken.
func verifyAudit(ctx context.Context, st *store.Store, heads *bus.AuditHeads, instance string, timeout time.Duration, w io.Writer) (bool, error) {
	instances := []string{instance}
	if instance == "" {
		var err error
		if instances, err = st.AuditInstances(ctx); err != nil {
			return false, err
		}
		if heads != nil {
			more, err := heads.Instances(ctx)
			if err != nil {
				return false, err
			}
			instances = append(instances, more...)
		}
		slices.Sort(instances)
		instances = slices.Compact(instances)
	}
	if len(instances) == 0 {
		fmt.Fprintln(w, "no audit chains")
		return false, nil
	}
	broken := false
	for _, in := range instances {
		var head *audit.Head
		if heads != nil {
			h, ok, err := heads.Get(ctx, in)
			if err != nil {
				return false, err
			}
			if ok {
				head = &h
			}
		}
		v := audit.NewVerifier(in, head)
		n := 0
		err := st.ScanAudit(ctx, in, timeout, func(r audit.Record) error {
			n++
			if b := v.Add(r); b != nil {
				return b
			}
			return nil
		})
		var b *audit.Break
		if err != nil && !errors.As(err, &b) {
			return false, err
		}
		if b == nil {
			b = v.End()
		}
		if b != nil {
			broken = true
			fmt.Fprintf(w, "%s: BROKEN at seq %d: %s: %s\n", in, b.Seq, b.Problem, b.Detail)
			continue
		}
		last := v.Last()
		switch {
		case head == nil && heads != nil:
			fmt.Fprintf(w, "%s: ok, %d records to seq %d (no head in the bucket)\n", in, n, last.Seq)
		case head == nil:
			fmt.Fprintf(w, "%s: ok, %d records to seq %d (head not checked: no -nats)\n", in, n, last.Seq)
		case last.Seq > head.Seq:
			fmt.Fprintf(w, "%s: ok, %d records to seq %d (head at seq %d: stored after the rows)\n", in, n, last.Seq, head.Seq)
		default:
			fmt.Fprintf(w, "%s: ok, %d records to seq %d, matching its head\n", in, n, last.Seq)
		}
	}
	return broken, nil
}
