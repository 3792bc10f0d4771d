package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/regsync/regsync/store"
)

var apikeyCommands = []command{
	{"create", "", "create an API key and print its token, once", runAPIKeyCreate},
	{"list", "", "list API keys; never their tokens", runAPIKeyList},
	{"revoke", "KEY_ID", "revoke an API key", runAPIKeyRevoke},
}

func runAPIKey(ctx context.Context, c *cli, args []string) error {
	return c.runSubcommand(ctx, "apikey", "API keys of the HTTP API.", apikeyCommands, args)
}

// scopeList is the repeatable --scope flag.
type scopeList []string

func (l *scopeList) String() string { return strings.Join(*l, ",") }

func (l *scopeList) Set(v string) error {
	if !slices.Contains(store.Scopes, v) {
		return fmt.Errorf("unknown scope %q: want %s", v, strings.Join(store.Scopes, " or "))
	}
	if !slices.Contains(*l, v) {
		*l = append(*l, v)
	}
	return nil
}

func runAPIKeyCreate(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("apikey create", "", "Create an API key of the HTTP API. Its token is printed alone on stdout, once: regsync keeps only a hash of it")
	common := c.commonFlags(fs)
	name := fs.String("name", "", "what the key is for, 1 to 100 characters")
	var scopes scopeList
	fs.Var(&scopes, "scope", "a scope the key holds, repeatable: "+strings.Join(store.Scopes, ", "))
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	if *name == "" || len(*name) > 100 {
		return fmt.Errorf("%w: --name must be 1 to 100 characters", errUsage)
	}
	if len(scopes) == 0 {
		return fmt.Errorf("%w: give at least one --scope: %s", errUsage, strings.Join(store.Scopes, ", "))
	}
	pool, err := connect(ctx, common)
	if err != nil {
		return err
	}
	defer pool.Close()
	key, token, err := store.New(pool).CreateAPIKey(ctx, *name, scopes)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "created API key %s (%s) with scopes %s; its token follows on stdout and is not shown again\n",
		key.ID, key.Name, strings.Join(key.Scopes, ", "))
	fmt.Fprintln(c.stdout, token)
	return nil
}

func runAPIKeyList(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("apikey list", "", "List API keys, oldest first, revoked ones included; never their tokens")
	common := c.commonFlags(fs)
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	pool, err := connect(ctx, common)
	if err != nil {
		return err
	}
	defer pool.Close()
	keys, err := store.New(pool).APIKeys(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tSCOPES\tCREATED\tLAST USED\tREVOKED")
	for _, k := range keys {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, strings.Join(k.Scopes, ","),
			formatTime(k.CreatedAt), formatTime(k.LastUsedAt), formatTime(k.RevokedAt))
	}
	return w.Flush()
}

// formatTime writes t in RFC 3339 UTC, or "-" for the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func runAPIKeyRevoke(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("apikey revoke", "KEY_ID", "Revoke an API key: its token is refused from now on")
	common := c.commonFlags(fs)
	if err := c.parse(fs, args, 1); err != nil {
		return err
	}
	id := fs.Arg(0)
	if err := store.ValidateAPIKeyID(id); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	pool, err := connect(ctx, common)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := store.New(pool).RevokeAPIKey(ctx, id); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "revoked API key %s\n", id)
	return nil
}
