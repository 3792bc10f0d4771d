// Command regsync keeps a hosting provider's view of its customers' domain
// statuses true to what the registrars say. Run "regsync help" for its
// subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/regsync/regsync/internal/envconfig"
	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/worker"
)

// cli is what every subcommand gets from the process.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// envErrs are invalid environment values met while setting flag
	// defaults; parse reports them.
	envErrs []error
}

type command struct {
	name, args, summary string
	run                 func(ctx context.Context, c *cli, args []string) error
}

// runSubcommand runs the subcommand of group that args name, or prints
// the group's usage: about and its subcommands.
func (c *cli) runSubcommand(ctx context.Context, group, about string, subs []command, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(c.stderr, "Usage: regsync %s SUBCOMMAND [flags]\n\n%s\n\nSubcommands:\n", group, about)
		w := tabwriter.NewWriter(c.stderr, 0, 0, 2, ' ', 0)
		for _, sub := range subs {
			fmt.Fprintf(w, "  %s\t%s\t%s\n", sub.name, sub.args, sub.summary)
		}
		_ = w.Flush()
		if len(args) == 0 {
			return fmt.Errorf("%w: missing subcommand", errUsage)
		}
		return flag.ErrHelp
	}
	i := slices.IndexFunc(subs, func(sub command) bool { return sub.name == args[0] })
	if i < 0 {
		return fmt.Errorf("%w: unknown %s subcommand %q", errUsage, group, args[0])
	}
	return subs[i].run(ctx, c, args[1:])
}

var commands = []command{
	{"migrate", "", "apply regsync's and River's database migrations (safe to run on every deploy)", runMigrate},
	{"serve", "", "run the workers, the sweep and the /metrics, /healthz and /readyz endpoints", runServe},
	{"sync", "DOMAIN_ID", "sync one domain now and print the outcome as JSON", runSync},
	{"enqueue", "status-sync DOMAIN_ID", "enqueue a status sync of a domain for the workers", runEnqueue},
	{"domain", "SUBCOMMAND", "add, import, list, show, sync domains", runDomain},
	{"transfer", "SUBCOMMAND", "add, list, show, retry blocked transfers; set-auth-info", runTransfer},
	{"apikey", "SUBCOMMAND", "create, list, revoke API keys of the HTTP API", runAPIKey},
	{"webhook", "SUBCOMMAND", "add, list, remove, enable, test webhook subscriptions to status changes", runWebhook},
	{"simulate", "", "serve the registrar simulator over HTTP in Hostup's and Hostway's wire formats", runSimulate},
	{"demo", "", "run the worker on a throwaway database and a simulated registrar, then summarize", runDemo},
}

// errUsage marks errors in how the command was called; they exit with 2.
var errUsage = errors.New("usage error")

// errReported means the command already printed its failure; it exits
// with 1 and prints nothing more.
var errReported = errors.New("failure reported")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, c *cli, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		c.usage()
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	i := slices.IndexFunc(commands, func(cmd command) bool { return cmd.name == args[0] })
	if i < 0 {
		fmt.Fprintf(c.stderr, "regsync: unknown command %q\n\n", args[0])
		c.usage()
		return 2
	}
	err := commands[i].run(ctx, c, args[1:])
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errReported):
		return 1
	case errors.Is(err, errUsage):
		fmt.Fprintf(c.stderr, "regsync %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(c.stderr, "regsync %s: %v\n", args[0], err)
		return 1
	}
}

func (c *cli) usage() {
	fmt.Fprintln(c.stderr, "Usage: regsync COMMAND [flags]\n\nCommands:")
	for _, cmd := range commands {
		fmt.Fprintf(c.stderr, "  %-9s %-22s %s\n", cmd.name, cmd.args, cmd.summary)
	}
	fmt.Fprintln(c.stderr, "\nRun \"regsync COMMAND --help\" for a command's flags. Every flag also reads the environment variable named in its help.")
}

// flagSet returns a flag set for a subcommand that prints its usage to
// stderr and returns errors instead of exiting.
func (c *cli) flagSet(name, args, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintf(c.stderr, "Usage: regsync %s [flags] %s\n\n%s.\n\nFlags:\n", name, args, summary)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args and checks the environment values read for defaults
// and the number of positional arguments. Flags may come before, between
// or after the positional arguments, as in "domain add ID NAME --registrar
// R"; "--" ends the flags. fs.Args then holds the positional arguments.
func (c *cli) parse(fs *flag.FlagSet, args []string, positional int) error {
	if err := errors.Join(c.envErrs...); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	var found []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if stoppedAt := len(args) - len(rest) - 1; stoppedAt >= 0 && args[stoppedAt] == "--" {
			found = append(found, rest...)
			break
		}
		found = append(found, rest[0])
		args = rest[1:]
	}
	// Parsing "--" and the positional arguments again sets no flag and
	// leaves them in fs.Args.
	_ = fs.Parse(append([]string{"--"}, found...))
	if fs.NArg() != positional {
		fs.Usage()
		return fmt.Errorf("%w: want %d arguments, got %d", errUsage, positional, fs.NArg())
	}
	return nil
}

// commonFlags are the database and logging flags of every database command.
type commonFlags struct {
	databaseURL string
	logLevel    zapcore.Level
	maxConns    int
}

func (c *cli) commonFlags(fs *flag.FlagSet) *commonFlags {
	f := &commonFlags{}
	fs.StringVar(&f.databaseURL, "database-url", c.getenv("DATABASE_URL"), "PostgreSQL connection string (env DATABASE_URL)")
	f.logLevel = zapcore.InfoLevel
	if v := c.getenv("REGSYNC_LOG_LEVEL"); v != "" {
		c.envErr("REGSYNC_LOG_LEVEL", f.logLevel.Set(v))
	}
	fs.Var(&f.logLevel, "log-level", "log level: debug, info, warn or error (env REGSYNC_LOG_LEVEL)")
	fs.IntVar(&f.maxConns, "db-max-conns", c.envInt("REGSYNC_DB_MAX_CONNS", 20), "largest number of database connections (env REGSYNC_DB_MAX_CONNS)")
	return f
}

// logger returns a JSON logger on stderr at the flags' level.
func (c *cli) logger(f *commonFlags) *zap.Logger {
	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey = "time"
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	return zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.Lock(zapcore.AddSync(c.stderr)), f.logLevel)).Named("regsync")
}

// connect opens a pool on the flags' database and checks it answers.
func connect(ctx context.Context, f *commonFlags) (*pgxpool.Pool, error) {
	if f.databaseURL == "" {
		return nil, fmt.Errorf("%w: no database: set DATABASE_URL or --database-url", errUsage)
	}
	cfg, err := pgxpool.ParseConfig(f.databaseURL)
	if err != nil {
		// pgx's parse error can quote the connection string, password
		// included: say only what is wrong with it.
		return nil, fmt.Errorf("%w: the database URL cannot be parsed", errUsage)
	}
	if f.maxConns < 1 || f.maxConns > 10000 {
		return nil, fmt.Errorf("%w: --db-max-conns %d: want 1 to 10000", errUsage, f.maxConns)
	}
	cfg.MaxConns = int32(f.maxConns)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return pool, nil
}

// workerFlags binds the worker's settings to flags with env fallbacks.
func (c *cli) workerFlags(fs *flag.FlagSet, cfg *worker.Config) {
	fs.IntVar(&cfg.StatusSyncWorkers, "workers", c.envInt("REGSYNC_WORKERS", cfg.StatusSyncWorkers), "status syncs this process runs at once for each registrar, each in its own queue (env REGSYNC_WORKERS)")
	c.durationFlag(fs, &cfg.Sync.Interval, "sync-interval", "REGSYNC_SYNC_INTERVAL", "default time between two syncs of a domain, jittered by a tenth")
	c.durationFlag(fs, &cfg.Sync.DoubleSyncDelay, "double-sync-delay", "REGSYNC_DOUBLE_SYNC_DELAY", "wait before the confirming read of a guarded change")
	c.durationFlag(fs, &cfg.Sync.RetryAfterRevert, "resync-after-revert", "REGSYNC_RESYNC_AFTER_REVERT", "when a reverted (flapping) domain is synced again")
	c.durationFlag(fs, &cfg.Sweep.Interval, "sweep-interval", "REGSYNC_SWEEP_INTERVAL", "how often the leader enqueues due domains")
	c.durationFlag(fs, &cfg.JobTimeout, "job-timeout", "REGSYNC_JOB_TIMEOUT", "longest one run of a job may take")
	c.durationFlag(fs, &cfg.RescueAfter, "rescue-after", "REGSYNC_RESCUE_AFTER", "when a job still running is taken as lost with its process and run again (longer than --job-timeout)")
	c.durationFlag(fs, &cfg.MaxRetryDelay, "max-retry-delay", "REGSYNC_MAX_RETRY_DELAY", "cap on the exponential backoff between attempts of a failed job")
	c.statusListFlag(fs, &cfg.Sync.GuardedFrom, "guarded-from", "REGSYNC_GUARDED_FROM", "statuses whose loss is double-checked")
	c.statusListFlag(fs, &cfg.Sync.GuardedTo, "guarded-to", "REGSYNC_GUARDED_TO", "statuses whose arrival is double-checked")
	c.statusListFlag(fs, &cfg.Sync.Sticky, "sticky", "REGSYNC_STICKY", "local-only statuses a sync never overwrites")
	c.mapFlag(fs, (*confirmVia)(&cfg.Sync.ConfirmVia), "confirm-via", "REGSYNC_CONFIRM_VIA",
		"REGISTRAR:ADAPTER,...: the adapter whose read confirms a registrar's guarded changes, e.g. hostup:rdap")
	c.durationFlag(fs, &cfg.Sync.SecondOpinionLag, "second-opinion-lag", "REGSYNC_SECOND_OPINION_LAG",
		"how long a second opinion that has not seen a change yet is asked again before the change counts as contradicted")
	c.mapFlag(fs, (*ownSponsors)(&cfg.Sync.OwnSponsors), "own-sponsors", "REGSYNC_OWN_SPONSORS",
		"REGISTRAR=SPONSOR,...: the provider's own sponsor ids (EPP clID, RDAP registrar IANA id) per adapter; a read naming another finds the domain transferred away")
	c.durationFlag(fs, &cfg.Sync.TransferredAwayAfter, "transferred-away-after", "REGSYNC_TRANSFERRED_AWAY_AFTER",
		"how long after a domain is first found transferred away a later sync must find the same before it is set to cancelled")
	c.mapFlag(fs, (*dryRunList)(&cfg.Sync.DryRun), "dry-run", "REGSYNC_DRY_RUN",
		"record what syncs would change and change no domain: alone for every registrar, or =REGISTRAR,... for those")
	c.mapFlag(fs, (*retention)(&cfg.History.Retention), "outcome-retention", "REGSYNC_OUTCOME_RETENTION",
		"how long sync outcomes and transfer attempts are kept, e.g. 400d; older monthly partitions are dropped whole (0: keep everything)")
}

// dryRunList is the value of --dry-run: "all" (the flag alone, or true)
// or registrar names.
type dryRunList []string

func (l *dryRunList) String() string { return strings.Join(*l, ",") }

// IsBoolFlag lets --dry-run stand alone, for every registrar.
func (l *dryRunList) IsBoolFlag() bool { return true }

func (l *dryRunList) Set(v string) error {
	switch v {
	case "true", "all":
		*l = dryRunList{"all"}
		return nil
	case "false", "":
		*l = nil
		return nil
	}
	var names dryRunList
	for name := range strings.SplitSeq(v, ",") {
		if name = strings.TrimSpace(name); name != "" {
			names = append(names, name)
		}
	}
	*l = names
	return nil
}

// retention is a duration that also takes whole days, "400d", as
// retention periods are usually said.
type retention time.Duration

func (r *retention) String() string { return formatDays(time.Duration(*r)) }

func (r *retention) Set(v string) error {
	d, err := parseDays(v)
	if err != nil || d < 0 {
		return fmt.Errorf("%q is not a duration such as 400d or 9600h", v)
	}
	*r = retention(d)
	return nil
}

// day is the unit of parseDays and formatDays.
const day = 24 * time.Hour

// parseDays reads a Go duration, or whole days as "400d".
func parseDays(v string) (time.Duration, error) {
	days, ok := strings.CutSuffix(v, "d")
	if !ok {
		return time.ParseDuration(v)
	}
	n, err := strconv.Atoi(days)
	if err != nil || n < 0 || n > int(math.MaxInt64/day) {
		return 0, fmt.Errorf("%q is not a number of days", v)
	}
	return time.Duration(n) * day, nil
}

// formatDays writes d as parseDays reads it, in whole days when it is.
func formatDays(d time.Duration) string {
	if d != 0 && d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	return d.String()
}

// mapFlag binds a flag.Value holding pairs, with an env fallback.
func (c *cli) mapFlag(fs *flag.FlagSet, v flag.Value, name, env, usage string) {
	if s := c.getenv(env); s != "" {
		c.envErr(env, v.Set(s))
	}
	fs.Var(v, name, fmt.Sprintf("%s (env %s)", usage, env))
}

// pairs splits a comma-separated list of KEY<sep>VALUE pairs, both parts
// non-empty.
func pairs(v string, sep string) ([][2]string, error) {
	var out [][2]string
	for part := range strings.SplitSeq(v, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		key, value, ok := strings.Cut(part, sep)
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !ok || key == "" || value == "" {
			return nil, fmt.Errorf("%q is not KEY%sVALUE", part, sep)
		}
		out = append(out, [2]string{key, value})
	}
	return out, nil
}

// confirmVia is the value of --confirm-via: REGISTRAR:ADAPTER pairs.
type confirmVia map[string]string

func (m *confirmVia) String() string {
	var parts []string
	for k, v := range *m {
		parts = append(parts, k+":"+v)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func (m *confirmVia) Set(v string) error {
	list, err := pairs(v, ":")
	if err != nil {
		return err
	}
	out := confirmVia{}
	for _, p := range list {
		if _, dup := out[p[0]]; dup {
			return fmt.Errorf("registrar %q is named twice", p[0])
		}
		out[p[0]] = p[1]
	}
	*m = out
	return nil
}

// ownSponsors is the value of --own-sponsors: REGISTRAR=SPONSOR pairs, a
// registrar named once per sponsor id.
type ownSponsors map[string][]string

func (m *ownSponsors) String() string {
	var parts []string
	for k, ids := range *m {
		for _, id := range ids {
			parts = append(parts, k+"="+id)
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func (m *ownSponsors) Set(v string) error {
	list, err := pairs(v, "=")
	if err != nil {
		return err
	}
	out := ownSponsors{}
	for _, p := range list {
		out[p[0]] = append(out[p[0]], p[1])
	}
	*m = out
	return nil
}

func (c *cli) durationFlag(fs *flag.FlagSet, d *time.Duration, name, env, usage string) {
	parsed, err := envconfig.Duration(c.getenv, env, *d)
	if err != nil {
		c.envErrs = append(c.envErrs, err)
	}
	*d = parsed
	fs.DurationVar(d, name, *d, fmt.Sprintf("%s (env %s)", usage, env))
}

func (c *cli) statusListFlag(fs *flag.FlagSet, list *[]registrar.Status, name, env, usage string) {
	v := (*statusList)(list)
	if s := c.getenv(env); s != "" {
		c.envErr(env, v.Set(s))
	}
	fs.Var(v, name, fmt.Sprintf("comma-separated %s (env %s)", usage, env))
}

// statusList is a comma-separated list of normalized statuses.
type statusList []registrar.Status

func (l *statusList) String() string {
	parts := make([]string, len(*l))
	for i, s := range *l {
		parts[i] = string(s)
	}
	return strings.Join(parts, ",")
}

func (l *statusList) Set(v string) error {
	var list statusList
	for part := range strings.SplitSeq(v, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		s, err := registrar.ParseStatus(part)
		if err != nil {
			return err
		}
		list = append(list, s)
	}
	*l = list
	return nil
}

// envInt returns the integer in the variable key, or fallback when it is
// not set.
func (c *cli) envInt(key string, fallback int) int {
	n, err := envconfig.Int(c.getenv, key, fallback)
	if err != nil {
		c.envErrs = append(c.envErrs, err)
	}
	return n
}

// envErr records an invalid environment value.
func (c *cli) envErr(key string, err error) {
	if err != nil {
		c.envErrs = append(c.envErrs, fmt.Errorf("%s: %w", key, err))
	}
}
