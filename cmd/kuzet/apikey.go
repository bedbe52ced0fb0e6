package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/registry"
	"github.com/kuzet-kz/kuzet/internal/store"
)

// storeFlags are the flags of the subcommands that reach ClickHouse; the
// password comes from KUZET_CLICKHOUSE_PASSWORD only.
type storeFlags struct {
	addr, db, user, cluster *string
}

func addStoreFlags(fs *flag.FlagSet) storeFlags {
	return storeFlags{
		addr:    fs.String("clickhouse", "127.0.0.1:9000", "ClickHouse native address(es), comma-separated"),
		db:      fs.String("database", "kuzet", "ClickHouse database"),
		user:    fs.String("user", "default", "ClickHouse user (password: KUZET_CLICKHOUSE_PASSWORD)"),
		cluster: fs.String("cluster", "", "ClickHouse cluster of the database, as the roles' clickhouse.cluster (empty: one server)"),
	}
}

// open connects and migrates (the key and audit tables may not exist yet).
func (f storeFlags) open(ctx context.Context) (*store.Store, error) {
	cfg := config.DefaultClickHouse()
	cfg.Addr, cfg.Database, cfg.User, cfg.Cluster = strings.Split(*f.addr, ","), *f.db, *f.user, *f.cluster
	eo := envOnly{ClickHouse: cfg}
	if err := config.Load("", &eo); err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, eo.ClickHouse, nil)
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

const apikeyUsage = `usage:
  kuzet apikey                    make a key and print it with the hash to put in a configuration file
  kuzet apikey create [flags]     make a key in the store (ClickHouse) and print it, once
  kuzet apikey list [flags]       list the stored keys (never their hashes)
  kuzet apikey revoke [flags] ID  revoke a stored key (every API stops taking it within stored_keys.cache_ttl)
  kuzet apikey rotate [flags] ID  give a stored key a new secret, printed once; the old one works for -grace (24h)

'kuzet apikey <create|list|revoke|rotate> -h' lists the flags.
`

func apikeyCmd(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "create":
			return apikeyCreate(args[1:], stdout, stderr)
		case "list":
			return apikeyList(args[1:], stdout, stderr)
		case "revoke":
			return apikeyRevoke(args[1:], stdout, stderr)
		case "rotate":
			return apikeyRotate(args[1:], stdout, stderr)
		case "-h", "-help", "--help", "help":
			fmt.Fprint(stdout, apikeyUsage)
			return 0
		}
		if !strings.HasPrefix(args[0], "-") {
			fmt.Fprintf(stderr, "kuzet apikey: unknown subcommand %q\n\n%s", args[0], apikeyUsage)
			return 2
		}
	}
	fs := flag.NewFlagSet("kuzet apikey", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, apikeyUsage) }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	_, key, err := access.NewKey()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "key:  %s\nhash: %s\n", key, access.HashKey(key))
	fmt.Fprintln(stderr, "Give the key to its holder once; configurations keep only the hash.")
	return 0
}

func apikeyCreate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kuzet apikey create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sf := addStoreFlags(fs)
	name := fs.String("name", "", "the key's name (required; unique among active keys)")
	role := fs.String("role", "", "role: "+rolesList())
	oisc := fs.String("oisc", "", "the OISC of an oisc-analyst key")
	org := fs.String("org", "", "the organisation of an owner key")
	sectors := fs.String("sectors", "", "comma-separated sectors of a sector-analyst or regulator key")
	ttl := fs.Duration("ttl", 90*24*time.Hour, "how long the key is valid")
	maxTTL := fs.Duration("max-ttl", 366*24*time.Hour, "the longest -ttl accepted")
	reg := fs.String("registry", "configs/registry.yaml", "registry file that -org and -oisc are checked against")
	by := fs.String("created-by", "kuzet apikey", "who makes the key (recorded with it)")
	asJSON := fs.Bool("json", false, "print the key and its record as JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	now := time.Now().UTC()
	spec := access.KeySpec{Name: *name, Role: access.Role(*role), OISC: *oisc, Org: *org, ExpiresAt: now.Add(*ttl)}
	if *sectors != "" {
		spec.Sectors = strings.Split(*sectors, ",")
	}
	var r *registry.Registry
	if spec.Org != "" || spec.OISC != "" {
		var err error
		if r, err = registry.LoadFile(*reg); err != nil {
			fmt.Fprintf(stderr, "kuzet apikey create: -registry: %v\n", err)
			return 2
		}
	}
	if err := spec.Check(r, now, *maxTTL); err != nil {
		fmt.Fprintf(stderr, "kuzet apikey create: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := sf.open(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "kuzet apikey create: %v\n", err)
		return 1
	}
	defer st.Close()
	k, key, err := createStoredKey(ctx, st, spec, *by, now)
	if err != nil {
		fmt.Fprintf(stderr, "kuzet apikey create: %v\n", err)
		return 1
	}
	if *asJSON {
		b, _ := json.Marshal(struct {
			access.Key
			Secret string `json:"key"`
		}{k, key})
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		fmt.Fprintf(stdout, "id:      %s\nname:    %s\nrole:    %s\nexpires: %s\nkey:     %s\n", k.ID, k.Name, k.Role,
			k.ExpiresAt.Format(time.RFC3339), key)
	}
	fmt.Fprintln(stderr, "The key is shown this once; the store keeps only its hash.")
	return 0
}

// createStoredKey mints a key for a checked spec and stores its hash.
func createStoredKey(ctx context.Context, st *store.Store, spec access.KeySpec, by string, now time.Time) (access.Key, string, error) {
	id, key, err := access.NewKey()
	if err != nil {
		return access.Key{}, "", err
	}
	k := spec.Key(id, access.HashKey(key), by, now)
	if err := st.InsertKey(ctx, k); err != nil {
		return access.Key{}, "", err
	}
	return k, key, nil
}

func apikeyList(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kuzet apikey list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sf := addStoreFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON, one key per line")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := sf.open(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "kuzet apikey list: %v\n", err)
		return 1
	}
	defer st.Close()
	keys, err := st.Keys(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "kuzet apikey list: %v\n", err)
		return 1
	}
	now := time.Now()
	if *asJSON {
		for _, k := range keys {
			b, _ := json.Marshal(struct {
				access.Key
				State access.KeyState `json:"state"`
			}{k, k.State(now)})
			fmt.Fprintf(stdout, "%s\n", b)
		}
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tROLE\tSCOPE\tSTATE\tEXPIRES\tCREATED BY")
	for _, k := range keys {
		scope := k.OISC + k.Org + strings.Join(k.Sectors, ",")
		if scope == "" {
			scope = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Role, scope, k.State(now), k.ExpiresAt.Format(time.RFC3339), k.CreatedBy)
	}
	_ = tw.Flush()
	return 0
}

func apikeyRevoke(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kuzet apikey revoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sf := addStoreFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 || !access.ValidKeyID(fs.Arg(0)) {
		fmt.Fprintln(stderr, "kuzet apikey revoke: give one key id (32 hex digits; kuzet apikey list shows them)")
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := sf.open(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "kuzet apikey revoke: %v\n", err)
		return 1
	}
	defer st.Close()
	k, err := st.RevokeKey(ctx, fs.Arg(0), time.Now())
	if errors.Is(err, store.ErrNotFound) {
		fmt.Fprintf(stderr, "kuzet apikey revoke: no key %s\n", fs.Arg(0))
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "kuzet apikey revoke: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "revoked %s (%s) at %s\n", k.ID, k.Name, k.RevokedAt.Format(time.RFC3339))
	return 0
}

func rolesList() string {
	s := make([]string, len(access.Roles))
	for i, r := range access.Roles {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}
