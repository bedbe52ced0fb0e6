package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/store"
)

// apikeyRotate gives a stored key a new secret, printed once; the old one
// keeps working for -grace.
func apikeyRotate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kuzet apikey rotate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sf := addStoreFlags(fs)
	grace := fs.Duration("grace", access.DefaultRotationGrace, "how long the old secret keeps working (0 to 168h)")
	asJSON := fs.Bool("json", false, "print the new key and its record as JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 || !access.ValidKeyID(fs.Arg(0)) {
		fmt.Fprintln(stderr, "kuzet apikey rotate: give one key id (32 hex digits; kuzet apikey list shows them)")
		return 2
	}
	if err := access.CheckGrace(*grace); err != nil {
		fmt.Fprintf(stderr, "kuzet apikey rotate: -grace %v\n", err)
		return 2
	}
	id := fs.Arg(0)
	secret, err := access.NewSecret(id)
	if err != nil {
		fmt.Fprintf(stderr, "kuzet apikey rotate: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := sf.open(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "kuzet apikey rotate: %v\n", err)
		return 1
	}
	defer st.Close()
	now := time.Now()
	k, err := st.RotateKey(ctx, id, access.HashKey(secret), now, now.Add(*grace))
	switch {
	case errors.Is(err, store.ErrNotFound):
		fmt.Fprintf(stderr, "kuzet apikey rotate: no key %s\n", id)
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "kuzet apikey rotate: %v\n", err)
		return 1
	}
	until := now.Add(*grace).UTC().Truncate(time.Second)
	if until.After(k.ExpiresAt) {
		until = k.ExpiresAt
	}
	if *asJSON {
		b, _ := json.Marshal(struct {
			access.Key
			Secret             string    `json:"key"`
			PreviousValidUntil time.Time `json:"previous_valid_until"`
		}{k, secret, until})
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		fmt.Fprintf(stdout, "id:       %s\nname:     %s\nrole:     %s\nexpires:  %s\nkey:      %s\nold key until: %s\n", k.ID, k.Name, k.Role,
			k.ExpiresAt.Format(time.RFC3339), secret, until.Format(time.RFC3339))
	}
	fmt.Fprintln(stderr, "The new key is shown this once; the store keeps only its hash. The old one works until the time above.")
	return 0
}
