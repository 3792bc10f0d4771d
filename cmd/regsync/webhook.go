package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/regsync/regsync/internal/secret"
	"github.com/regsync/regsync/store"
	"github.com/regsync/regsync/worker"
)

var webhookCommands = []command{
	{"add", "URL", "subscribe URL to status changes and print its signing secret, once", runWebhookAdd},
	{"list", "", "list webhook subscriptions and their latest delivery; never their secrets", runWebhookList},
	{"remove", "WEBHOOK_ID", "remove a subscription; its pending deliveries are cancelled", runWebhookRemove},
	{"enable", "WEBHOOK_ID", "deliver to a subscription disabled by a 410 Gone again, from the next change on", runWebhookEnable},
	{"test", "WEBHOOK_ID", "post a signed test event now and print the answer", runWebhookTest},
}

func runWebhook(ctx context.Context, c *cli, args []string) error {
	return c.runSubcommand(ctx, "webhook", "Webhook subscriptions to status changes.", webhookCommands, args)
}

// eventList is the comma-separated --events flag.
type eventList []string

func (l *eventList) String() string { return strings.Join(*l, ",") }

func (l *eventList) Set(v string) error {
	var events []string
	for e := range strings.SplitSeq(v, ",") {
		if e = strings.TrimSpace(e); e != "" {
			events = append(events, e)
		}
	}
	if err := store.ValidateWebhookEvents(events); err != nil {
		return err
	}
	*l = events
	return nil
}

// urlLast moves a first argument that is not a flag to the end, so that
// the URL of "webhook add URL --events ..." may come before the flags,
// where the flag package would stop.
func urlLast(args []string) []string {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return append(slices.Clone(args[1:]), args[0])
	}
	return args
}

func runWebhookAdd(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("webhook add", "URL", "Subscribe URL to status changes. regsync posts each change of the chosen events to it as JSON, signed with HMAC-SHA256 in the Regsync-Signature header. The signing secret is generated and printed alone on stdout, once (regsync keeps it sealed with REGSYNC_SECRET_KEY), or read from the first line of stdin with --secret-from-stdin")
	common := c.commonFlags(fs)
	var events eventList
	fs.Var(&events, "events", "comma-separated events to deliver: "+strings.Join(store.WebhookEvents, ", "))
	allowHTTP := fs.Bool("allow-http", false, "accept an http URL, for a receiver on this machine or in tests; otherwise only https")
	secretFromStdin := fs.Bool("secret-from-stdin", false, "read the signing secret (24 to 256 printable ASCII characters) from stdin instead of generating one")
	if err := c.parse(fs, urlLast(args), 1); err != nil {
		return err
	}
	n := store.NewWebhookSubscription{URL: fs.Arg(0), Events: events, AllowHTTP: *allowHTTP}
	if err := store.ValidateWebhookURL(n.URL, n.AllowHTTP); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if err := store.ValidateWebhookEvents(n.Events); err != nil {
		return fmt.Errorf("%w: --events: %v", errUsage, err)
	}
	keyring, err := c.requireKeyring("seal the signing secret")
	if err != nil {
		return err
	}
	if *secretFromStdin {
		if n.Secret, err = readSecretLine(c.stdin, "signing secret"); err != nil {
			return err
		}
		if err := store.ValidateWebhookSecret(n.Secret); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
	}
	pool, err := connect(ctx, common)
	if err != nil {
		return err
	}
	defer pool.Close()
	sub, signingSecret, err := store.New(pool).AddWebhookSubscription(ctx, keyring, n)
	if err != nil {
		return err
	}
	if *secretFromStdin {
		fmt.Fprintf(c.stderr, "added webhook %s for %s, signed with the secret read from stdin\n", sub.ID, strings.Join(sub.Events, ", "))
		return nil
	}
	fmt.Fprintf(c.stderr, "added webhook %s for %s; its signing secret follows on stdout and is not shown again\n", sub.ID, strings.Join(sub.Events, ", "))
	fmt.Fprintln(c.stdout, signingSecret)
	return nil
}

// requireKeyring returns the keyring of REGSYNC_SECRET_KEY, or a usage
// error saying it is needed to do what.
func (c *cli) requireKeyring(what string) (*secret.Keyring, error) {
	keyring, err := c.keyring()
	if err == nil && keyring == nil {
		err = fmt.Errorf("%w: REGSYNC_SECRET_KEY or REGSYNC_SECRET_KEY_FILE must be set to %s", errUsage, what)
	}
	return keyring, err
}

func runWebhookList(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("webhook list", "", "List webhook subscriptions, oldest first, with their latest delivery attempt; never their secrets")
	common := c.commonFlags(fs)
	if err := c.parse(fs, args, 0); err != nil {
		return err
	}
	pool, err := connect(ctx, common)
	if err != nil {
		return err
	}
	defer pool.Close()
	subs, err := store.New(pool).WebhookSubscriptions(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tURL\tEVENTS\tCREATED\tDISABLED\tLAST ATTEMPT\tLAST RESULT")
	for _, s := range subs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.URL, strings.Join(s.Events, ","), formatTime(s.CreatedAt),
			formatTime(s.DisabledAt), formatTime(s.LastAttemptAt), cmp.Or(string(s.LastResult), "-"))
	}
	return w.Flush()
}

// webhookIDArg parses the subcommand's flags and its one argument, a
// subscription id.
func (c *cli) webhookIDArg(fs *flag.FlagSet, args []string) (string, error) {
	if err := c.parse(fs, args, 1); err != nil {
		return "", err
	}
	id := fs.Arg(0)
	if err := store.ValidateWebhookID(id); err != nil {
		return "", fmt.Errorf("%w: %v", errUsage, err)
	}
	return id, nil
}

func runWebhookRemove(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("webhook remove", "WEBHOOK_ID", "Remove a webhook subscription and its sealed secret. Its deliveries and their log stay; those still pending are cancelled")
	common := c.commonFlags(fs)
	id, err := c.webhookIDArg(fs, args)
	if err != nil {
		return err
	}
	pool, err := connect(ctx, common)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := store.New(pool).RemoveWebhookSubscription(ctx, id); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "removed webhook %s\n", id)
	return nil
}

func runWebhookEnable(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("webhook enable", "WEBHOOK_ID", "Deliver to a webhook subscription again after its endpoint answered 410 Gone, from the next change on; the deliveries cancelled meanwhile are not sent")
	common := c.commonFlags(fs)
	id, err := c.webhookIDArg(fs, args)
	if err != nil {
		return err
	}
	pool, err := connect(ctx, common)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := store.New(pool).EnableWebhookSubscription(ctx, id); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "enabled webhook %s\n", id)
	return nil
}

func runWebhookTest(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("webhook test", "WEBHOOK_ID", `Post a test event ({"delivery_id": 0, "event": "test", ...}) to a subscription's URL now, signed as deliveries are, and print the answer; it exits 0 on a 2xx answer. Nothing is recorded`)
	common := c.commonFlags(fs)
	id, err := c.webhookIDArg(fs, args)
	if err != nil {
		return err
	}
	keyring, err := c.requireKeyring("open the signing secret")
	if err != nil {
		return err
	}
	pool, err := connect(ctx, common)
	if err != nil {
		return err
	}
	defer pool.Close()
	sub, err := store.New(pool).WebhookSubscription(ctx, id)
	if err != nil {
		return err
	}
	signingSecret, err := keyring.Open(*sub.Secret, store.WebhookSecretContext(sub.ID))
	if err != nil {
		return fmt.Errorf("open the signing secret of webhook %s: %w", sub.ID, err)
	}
	event := worker.WebhookEvent{Event: worker.WebhookTestEvent, OccurredAt: time.Now().UTC()}
	answer := worker.NewWebhookSender(worker.DefaultWebhookConfig().Timeout).Send(ctx, sub.URL, signingSecret, event)
	if answer.Err != nil {
		fmt.Fprintf(c.stderr, "regsync webhook test: POST %s: no answer after %s: %v\n", sub.URL, answer.Duration.Round(time.Millisecond), answer.Err)
		return errReported
	}
	fmt.Fprintf(c.stdout, "POST %s: %d %s in %s\n", sub.URL, answer.StatusCode, http.StatusText(answer.StatusCode), answer.Duration.Round(time.Millisecond))
	if answer.Body != "" {
		fmt.Fprintln(c.stdout, answer.Body)
	}
	if answer.StatusCode/100 != 2 {
		return errReported
	}
	return nil
}
