package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/regsync/regsync/internal/domainname"
	"github.com/regsync/regsync/store"
)

var transferCommands = []command{
	{"add", "", "add a blocked transfer, due for a retry at once", runTransferAdd},
	{"list", "", "list transfers", runTransferList},
	{"show", "TRANSFER_ID", "show a transfer and its attempts as JSON", runTransferShow},
	{"retry", "TRANSFER_ID", "enqueue a retry of a transfer", runTransferRetry},
	{"set-auth-info", "TRANSFER_ID", "store a new authInfo read from stdin, encrypted, and enqueue a retry", runTransferSetAuthInfo},
}

func runTransfer(ctx context.Context, c *cli, args []string) error {
	return c.runSubcommand(ctx, "transfer", "Blocked domain transfers that regsync retries.", transferCommands, args)
}

func runTransferAdd(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("transfer add", "", "Add a blocked transfer; it is due for a retry at once")
	common := c.commonFlags(fs)
	id := fs.String("id", "", "public transfer id, trf_...")
	account := fs.String("account", "", "the customer's account number at the registrar")
	domain := fs.String("domain", "", "domain name (Unicode or A-labels; stored IDNA-normalized)")
	registrarName := fs.String("registrar", "", "registrar adapter name, e.g. hostway")
	reason := fs.String("reason", "unknown", "why it blocked: "+strings.Join(store.BlockReasons, ", "))
	registrarReason := fs.String("registrar-reason", "", "the registrar's own words for the block")
	blockedSince := fs.String("blocked-since", "", "RFC 3339 time it blocked (default now)")
	registeredAt := fs.String("registered-at", "", "RFC 3339 time the domain was registered or last transferred")
	deadline := fs.String("deadline", "", "RFC 3339 time to give up (default 60 days after it blocked)")
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	name, err := domainname.Normalize(*domain)
	if err != nil {
		return fmt.Errorf("%w: --domain: %v", errUsage, err)
	}
	t := store.NewTransfer{
		ID: *id, AccountNumber: *account, DomainName: name, Registrar: *registrarName,
		BlockReason: *reason, RegistrarReason: *registrarReason,
	}
	if err := store.ValidateTransferID(t.ID); err != nil {
		return fmt.Errorf("%w: --id: %v", errUsage, err)
	}
	if !slices.Contains(store.BlockReasons, t.BlockReason) {
		return fmt.Errorf("%w: --reason %q: want one of %s", errUsage, t.BlockReason, strings.Join(store.BlockReasons, ", "))
	}
	for _, f := range []struct {
		flag  string
		value string
		into  *time.Time
	}{{"--blocked-since", *blockedSince, &t.BlockedSince}, {"--registered-at", *registeredAt, &t.RegisteredAt}, {"--deadline", *deadline, &t.Deadline}} {
		if f.value == "" {
			continue
		}
		if *f.into, err = time.Parse(time.RFC3339, f.value); err != nil {
			return fmt.Errorf("%w: %s: %v", errUsage, f.flag, err)
		}
	}
	pool, err := connect(ctx, common)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := store.New(pool).AddTransfer(ctx, t); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "added transfer %s of %s\n", t.ID, t.DomainName)
	return nil
}

func runTransferList(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("transfer list", "", "List transfers, oldest first")
	common := c.commonFlags(fs)
	state := fs.String("state", "", "only transfers in this state")
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	if *state != "" && !slices.Contains(store.TransferStates, store.TransferState(*state)) {
		return fmt.Errorf("%w: --state %q is not a transfer state", errUsage, *state)
	}
	pool, err := connect(ctx, common)
	if err != nil {
		return err
	}
	defer pool.Close()
	transfers, err := store.New(pool).Transfers(ctx, store.TransferState(*state))
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tSTATE\tREASON\tDOMAIN\tACCOUNT\tATTEMPTS\tNEXT RETRY\tLAST RESULT")
	for _, t := range transfers {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", t.ID, t.State, t.BlockReason, t.DomainName, t.AccountNumber,
			t.Attempts, t.NextRetryAt.UTC().Format(time.RFC3339), t.LastResult)
	}
	return w.Flush()
}

func runTransferShow(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("transfer show", "TRANSFER_ID", "Show a transfer and its attempts as JSON; the authInfo is never shown")
	common := c.commonFlags(fs)
	if err := c.parse(fs, args, 1); err != nil {
		return err
	}
	pool, err := connect(ctx, common)
	if err != nil {
		return err
	}
	defer pool.Close()
	st := store.New(pool)
	t, err := st.Transfer(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	attempts, err := st.TransferAttempts(ctx, t.ID)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		store.Transfer
		Attempts []store.TransferAttempt `json:"attempts"`
	}{t, attempts})
}

func runTransferRetry(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("transfer retry", "TRANSFER_ID", "Enqueue a retry of a transfer through regsync.enqueue_transfer_retry")
	common := c.commonFlags(fs)
	if err := c.parse(fs, args, 1); err != nil {
		return err
	}
	pool, err := connect(ctx, common)
	if err != nil {
		return err
	}
	defer pool.Close()
	return enqueueTransferRetry(ctx, c, store.New(pool), fs.Arg(0))
}

func enqueueTransferRetry(ctx context.Context, c *cli, st *store.Store, id string) error {
	jobID, inserted, err := st.EnqueueTransferRetry(ctx, id)
	if err != nil {
		return err
	}
	if !inserted {
		fmt.Fprintf(c.stdout, "a retry of %s is already pending\n", id)
		return nil
	}
	fmt.Fprintf(c.stdout, "enqueued job %d\n", jobID)
	return nil
}

func runTransferSetAuthInfo(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("transfer set-auth-info", "TRANSFER_ID", "Read a new authInfo (6 to 16 printable ASCII characters) from the first line of stdin, store it encrypted with REGSYNC_SECRET_KEY, keep the current one to revert to, and enqueue a retry that sends it. The transfer must be open and not in progress at the registry (--force overrides the latter). The value never appears in arguments, job rows, logs or output")
	common := c.commonFlags(fs)
	force := fs.Bool("force", false, "reset a transfer that is in progress at the registry too")
	if err := c.parse(fs, args, 1); err != nil {
		return err
	}
	id := fs.Arg(0)
	if err := store.ValidateTransferID(id); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	keyring, err := c.keyring()
	if err != nil {
		return err
	}
	if keyring == nil {
		return fmt.Errorf("%w: REGSYNC_SECRET_KEY or REGSYNC_SECRET_KEY_FILE must be set to store an authInfo", errUsage)
	}
	authInfo, err := readSecretLine(c.stdin, "authInfo")
	if err != nil {
		return err
	}
	pool, err := connect(ctx, common)
	if err != nil {
		return err
	}
	defer pool.Close()
	done, err := store.New(pool).RequestReset(ctx, keyring, store.ResetRequest{TransferID: id, AuthInfo: authInfo, Force: *force})
	if errors.Is(err, store.ErrTransferNotResettable) {
		return fmt.Errorf("%w; pass --force to reset it all the same", err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "stored a new authInfo for %s\n", id)
	if done.JobID == 0 {
		fmt.Fprintf(c.stdout, "a retry of %s is already pending\n", id)
		return nil
	}
	fmt.Fprintf(c.stdout, "enqueued job %d\n", done.JobID)
	return nil
}

// readSecretLine reads the first line of r without its line ending: the
// secret that names.
func readSecretLine(r io.Reader, what string) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 1024)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read %s from stdin: %w", what, err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("%w: no %s on stdin", errUsage, what)
	}
	return line, nil
}
