package main

import (
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
	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/factory"
	"github.com/regsync/regsync/store"
)

var domainCommands = []command{
	{"add", "ID NAME", "add a domain, due for a sync at once, or update an existing one", runDomainAdd},
	{"import", "FILE|-", "add and update domains from a CSV or JSON Lines file", runDomainImport},
	{"list", "", "list domains", runDomainList},
	{"show", "ID", "show a domain and its last sync outcomes", runDomainShow},
	{"sync", "ID", "the sync command: sync one domain now and print the outcome", runSync},
}

func runDomain(ctx context.Context, c *cli, args []string) error {
	return c.runSubcommand(ctx, "domain", "The domains whose status regsync keeps true to their registrar.", domainCommands, args)
}

func runDomainAdd(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("domain add", "ID NAME", "Add a domain; it is due for a sync at once. An existing id gets the given name, registrar and sync interval, never the status, which syncs own")
	common := c.commonFlags(fs)
	fields := domainFields{}
	fs.StringVar(&fields.Registrar, "registrar", "", "registrar adapter name: "+strings.Join(registrarNames, ", "))
	fs.StringVar(&fields.Status, "status", "", "status of the new domain (default unknown): "+statusNames())
	fs.StringVar(&fields.SyncInterval, "sync-interval", "", "the domain's own time between syncs, at least 1s, such as 12h or 7d (default: the configured --sync-interval of serve)")
	if err := c.parse(fs, args, 2); err != nil {
		return err
	}
	fields.ID, fields.Name = fs.Arg(0), fs.Arg(1)
	domain, err := checkDomain(fields)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	pool, err := connect(ctx, common)
	if err != nil {
		return err
	}
	defer pool.Close()
	lines := []store.ImportLine{{Number: 1, Domain: domain}}
	result, err := importLines(ctx, store.New(pool), sliceLines(lines), func(_ int64, reason string) {
		fmt.Fprintf(c.stderr, "regsync domain add: %s\n", reason)
	})
	switch {
	case err != nil:
		return err
	case result.Rejected > 0:
		return errReported
	case result.Added > 0:
		fmt.Fprintf(c.stdout, "added domain %s (%s), due for a sync now\n", domain.ID, domain.Name)
	case result.Updated > 0:
		fmt.Fprintf(c.stdout, "updated domain %s (%s)\n", domain.ID, domain.Name)
	default:
		fmt.Fprintf(c.stdout, "domain %s (%s) is unchanged\n", domain.ID, domain.Name)
	}
	if result.StatusKept > 0 {
		fmt.Fprintf(c.stderr, "regsync domain add: the status of the existing domain %s was kept: syncs own it\n", domain.ID)
	}
	return nil
}

// sliceLines returns a function giving lines one by one, then io.EOF.
func sliceLines(lines []store.ImportLine) func() (store.ImportLine, error) {
	return func() (store.ImportLine, error) {
		if len(lines) == 0 {
			return store.ImportLine{}, io.EOF
		}
		line := lines[0]
		lines = lines[1:]
		return line, nil
	}
}

// importLines stages the lines next gives and merges them into the
// domains, then calls rejected with each rejected line's number and
// reason, in line order. Its error says whether the domains were changed.
func importLines(ctx context.Context, st *store.Store, next func() (store.ImportLine, error), rejected func(line int64, reason string)) (store.ImportResult, error) {
	imp, err := st.BeginDomainImport(ctx)
	if err != nil {
		return store.ImportResult{}, fmt.Errorf("%w; nothing was changed", err)
	}
	defer func() { _ = imp.Close(context.WithoutCancel(ctx)) }()
	if _, err := imp.Stage(ctx, next); err != nil {
		return store.ImportResult{}, fmt.Errorf("%w; nothing was changed", err)
	}
	result, err := imp.Merge(ctx)
	if err != nil {
		return store.ImportResult{}, fmt.Errorf("%w; nothing was changed", err)
	}
	err = imp.Rejections(ctx, func(line int64, reason string) error {
		rejected(line, reason)
		return nil
	})
	if err != nil {
		return result, fmt.Errorf("the good lines are imported, but %w", err)
	}
	return result, nil
}

// domainFields are the fields of a domain as written: the arguments of
// "domain add" or a line of an import.
type domainFields struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Registrar    string `json:"registrar"`
	Status       string `json:"status"`
	SyncInterval string `json:"sync_interval"`
}

// minSyncInterval is the shortest sync interval a domain may have.
const minSyncInterval = time.Second

// checkDomain checks the fields of a domain and normalizes its name; the
// error says what is wrong.
func checkDomain(f domainFields) (store.ImportDomain, error) {
	if f.ID == "" {
		return store.ImportDomain{}, errors.New("the id is missing")
	}
	if err := store.ValidateDomainID(f.ID); err != nil {
		return store.ImportDomain{}, err
	}
	if f.Name == "" {
		return store.ImportDomain{}, errors.New("the name is missing")
	}
	name, err := domainname.Normalize(f.Name)
	if err != nil {
		return store.ImportDomain{}, err
	}
	if f.Registrar == "" {
		return store.ImportDomain{}, errors.New("the registrar is missing")
	}
	if !slices.Contains(registrarNames, f.Registrar) {
		return store.ImportDomain{}, fmt.Errorf("unknown registrar %q: want one of %s", f.Registrar, strings.Join(registrarNames, ", "))
	}
	d := store.ImportDomain{ID: f.ID, Name: name, Registrar: f.Registrar}
	if f.Status != "" {
		if d.Status, err = registrar.ParseStatus(f.Status); err != nil {
			return store.ImportDomain{}, err
		}
	}
	if f.SyncInterval != "" {
		d.SyncInterval, err = parseDays(f.SyncInterval)
		if err != nil || d.SyncInterval < minSyncInterval {
			return store.ImportDomain{}, fmt.Errorf("invalid sync interval %q: want a duration of at least %s, such as 12h or 7d", f.SyncInterval, minSyncInterval)
		}
	}
	return d, nil
}

// registrarNames lists the registrar adapters a domain may name.
var registrarNames = factory.Names()

// statusNames lists the statuses, comma-separated.
func statusNames() string {
	names := make([]string, len(registrar.Statuses))
	for i, s := range registrar.Statuses {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

func runDomainList(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("domain list", "", "List domains in id order: status, an unconfirmed change and the status it replaced, next and last sync")
	common := c.commonFlags(fs)
	status := fs.String("status", "", "only domains in this status: "+statusNames())
	registrarName := fs.String("registrar", "", "only domains of this registrar")
	due := fs.Bool("due", false, "only domains whose sync time has come (queued for a sync or waiting for the next sweep)")
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	filter := store.DomainFilter{Registrar: *registrarName, Due: *due}
	if *status != "" {
		s, err := registrar.ParseStatus(*status)
		if err != nil {
			return fmt.Errorf("%w: --status: %v", errUsage, err)
		}
		filter.Status = s
	}
	pool, err := connect(ctx, common)
	if err != nil {
		return err
	}
	defer pool.Close()
	w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tREGISTRAR\tSTATUS\tUNCONFIRMED\tNEXT SYNC\tLAST SYNCED")
	// Columns are aligned within blocks of rows, so that a million
	// domains are written as they are read rather than held.
	const block = 1000
	listed := 0
	err = store.New(pool).ListDomains(ctx, filter, func(d store.DomainDetail) error {
		unconfirmed := "-"
		if d.Unconfirmed != nil {
			unconfirmed = "from " + string(d.Unconfirmed.From)
		}
		next := formatTime(d.NextSyncAt)
		if d.QueuedAt != nil {
			next = "queued"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Name, d.Registrar, d.Status, unconfirmed, next, formatTimePtr(d.LastSyncedAt))
		if listed++; listed%block == 0 {
			return w.Flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return w.Flush()
}

// formatTimePtr is formatTime for a time that may be missing.
func formatTimePtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return formatTime(*t)
}

func runDomainShow(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("domain show", "ID", "Show a domain: its status, an unconfirmed change waiting for its double sync, its sync schedule, and its last sync outcomes as a timeline, oldest first")
	common := c.commonFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON: the domain's fields and its outcomes, each with the 15 keys of the Hostup API's response and its times")
	last := fs.Int("outcomes", 10, "how many of the last outcomes to show, 1 to 1000")
	if err := c.parse(fs, args, 1); err != nil {
		return err
	}
	id := fs.Arg(0)
	if err := store.ValidateDomainID(id); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *last < 1 || *last > 1000 {
		return fmt.Errorf("%w: --outcomes %d: want 1 to 1000", errUsage, *last)
	}
	pool, err := connect(ctx, common)
	if err != nil {
		return err
	}
	defer pool.Close()
	st := store.New(pool)
	d, err := st.DomainDetail(ctx, id)
	if err != nil {
		return err
	}
	outcomes, err := st.LastOutcomes(ctx, id, *last)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(newDomainView(d, outcomes))
	}
	return printDomain(c.stdout, d, outcomes)
}

// printDomain writes a domain and its outcomes for a reader.
func printDomain(out io.Writer, d store.DomainDetail, outcomes []store.Outcome) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	status := string(d.Status)
	if u := d.Unconfirmed; u != nil {
		status += fmt.Sprintf(" (unconfirmed: changed from %s at %s on the registrar's %q; waits for its double sync; %d confirming reads failed)",
			u.From, formatTime(u.At), u.Raw, u.Failures)
	}
	interval := "the configured default (serve's --sync-interval)"
	if d.SyncInterval > 0 {
		interval = formatDays(d.SyncInterval)
	}
	next := formatTime(d.NextSyncAt)
	if d.QueuedAt != nil {
		next += " (queued for a sync since " + formatTime(*d.QueuedAt) + ")"
	}
	for _, field := range [][2]string{
		{"id", d.ID},
		{"name", d.Name},
		{"registrar", d.Registrar},
		{"status", status},
		{"status changed", formatTimePtr(d.StatusChangedAt)},
		{"sync interval", interval},
		{"next sync", next},
		{"last synced", formatTimePtr(d.LastSyncedAt)},
		{"expires", formatTimePtr(d.ExpiresAt)},
		{"transferred away", formatTimePtr(d.TransferredAwayAt)},
		{"version", fmt.Sprint(d.Version)},
		{"created", formatTime(d.CreatedAt)},
	} {
		fmt.Fprintf(w, "%s\t%s\n", field[0], field[1])
	}
	if len(outcomes) == 0 {
		fmt.Fprintln(w, "\nno sync outcomes recorded")
		return w.Flush()
	}
	fmt.Fprintf(w, "\nsync outcomes, the last %d, oldest first:\n", len(outcomes))
	fmt.Fprintln(w, "FINISHED\tJOB\tSTATUS\tSUCCESS\tWHAT HAPPENED")
	for _, o := range outcomes {
		job := "cli"
		if o.JobID != 0 {
			job = fmt.Sprint(o.JobID)
		}
		transition := string(o.NewStatus)
		if o.StatusChanged {
			transition = string(o.PreviousStatus) + " -> " + string(o.NewStatus)
		}
		success := "no"
		if o.SyncSuccess {
			success = "yes"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", formatTime(o.FinishedAt), job, transition, success, whatHappened(o))
	}
	return w.Flush()
}

// whatHappened joins an outcome's messages into one line.
func whatHappened(o store.Outcome) string {
	var parts []string
	for _, s := range []*string{o.Info, o.Error, o.DoubleSyncError, o.RevertError} {
		if s != nil && *s != "" {
			parts = append(parts, strings.Join(strings.Fields(*s), " "))
		}
	}
	return strings.Join(parts, "; ")
}

// domainView is the JSON of "domain show --json".
type domainView struct {
	ID                string            `json:"id"`
	Name              string            `json:"name"`
	Registrar         string            `json:"registrar"`
	Status            registrar.Status  `json:"status"`
	Unconfirmed       *unconfirmedView  `json:"unconfirmed"`
	StatusChangedAt   *time.Time        `json:"statusChangedAt"`
	SyncInterval      *string           `json:"syncInterval"`
	NextSyncAt        time.Time         `json:"nextSyncAt"`
	QueuedAt          *time.Time        `json:"queuedAt"`
	LastSyncedAt      *time.Time        `json:"lastSyncedAt"`
	ExpiresAt         *time.Time        `json:"expiresAt"`
	TransferredAwayAt *time.Time        `json:"transferredAwayAt"`
	Version           int64             `json:"version"`
	CreatedAt         time.Time         `json:"createdAt"`
	Outcomes          []outcomeOverTime `json:"outcomes"`
}

// unconfirmedView is a guarded change waiting for its double sync.
type unconfirmedView struct {
	From                  registrar.Status `json:"from"`
	RawStatus             string           `json:"rawStatus"`
	At                    time.Time        `json:"at"`
	FailedConfirmingReads int              `json:"failedConfirmingReads"`
}

// outcomeOverTime is an outcome's 15 keys with what places it in the
// domain's timeline.
type outcomeOverTime struct {
	store.Outcome
	Registrar       string    `json:"registrar"`
	RawStatusFirst  *string   `json:"rawStatusFirst"`
	RawStatusSecond *string   `json:"rawStatusSecond"`
	JobID           *int64    `json:"jobId"`
	StartedAt       time.Time `json:"startedAt"`
	FinishedAt      time.Time `json:"finishedAt"`
}

func newDomainView(d store.DomainDetail, outcomes []store.Outcome) domainView {
	v := domainView{
		ID: d.ID, Name: d.Name, Registrar: d.Registrar, Status: d.Status, StatusChangedAt: d.StatusChangedAt,
		NextSyncAt: d.NextSyncAt, QueuedAt: d.QueuedAt, LastSyncedAt: d.LastSyncedAt, ExpiresAt: d.ExpiresAt,
		TransferredAwayAt: d.TransferredAwayAt, Version: d.Version, CreatedAt: d.CreatedAt,
		Outcomes: make([]outcomeOverTime, len(outcomes)),
	}
	if u := d.Unconfirmed; u != nil {
		v.Unconfirmed = &unconfirmedView{From: u.From, RawStatus: u.Raw, At: u.At, FailedConfirmingReads: u.Failures}
	}
	if d.SyncInterval > 0 {
		interval := formatDays(d.SyncInterval)
		v.SyncInterval = &interval
	}
	for i, o := range outcomes {
		v.Outcomes[i] = outcomeOverTime{Outcome: o, Registrar: o.Registrar, RawStatusFirst: o.RawStatusFirst,
			RawStatusSecond: o.RawStatusSecond, StartedAt: o.StartedAt, FinishedAt: o.FinishedAt}
		if o.JobID != 0 {
			v.Outcomes[i].JobID = &o.JobID
		}
	}
	return v
}
