package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/internal/pgtest"
	"github.com/regsync/regsync/internal/secret"
	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/store"
)

func newKeyring(t *testing.T) *secret.Keyring {
	t.Helper()
	spec, err := secret.GenerateKey("k1")
	require.NoError(t, err)
	keyring, err := secret.ParseKeyring(spec)
	require.NoError(t, err)
	return keyring
}

// addWebhook adds a subscription to events at an http URL named for it.
func addWebhook(t *testing.T, st *store.Store, keyring *secret.Keyring, name string, events ...string) store.WebhookSubscription {
	t.Helper()
	sub, _, err := st.AddWebhookSubscription(context.Background(), keyring, store.NewWebhookSubscription{
		URL: "http://127.0.0.1:9/" + name, Events: events, AllowHTTP: true,
	})
	require.NoError(t, err)
	return sub
}

// delivery is what a test checks of a delivery row.
type delivery struct {
	Subscription, Event, Domain, From, To string
	HasOutcome                            bool
}

// readDeliveries returns every delivery in id order, and checks that each
// has exactly one job, built as regsync's Go client would insert
// WebhookDeliveryArgs (kind, queue, args, attempts, available), and that
// no delivery job is without its delivery.
func readDeliveries(t *testing.T, pool *pgxpool.Pool) []delivery {
	t.Helper()
	ctx := context.Background()
	rows, err := pool.Query(ctx, `
		SELECT d.subscription_id, d.event, d.domain_id, d.from_status, d.to_status, d.outcome_id IS NOT NULL,
			(SELECT count(*) FROM regsync.river_job j WHERE j.args = jsonb_build_object('delivery_id', d.id)
				AND j.kind = 'webhook_delivery' AND j.queue = 'webhook' AND j.max_attempts = 25 AND j.state = 'available')
		FROM regsync.webhook_deliveries d ORDER BY d.id`)
	require.NoError(t, err)
	var out []delivery
	var d delivery
	var jobs int
	_, err = pgx.ForEachRow(rows, []any{&d.Subscription, &d.Event, &d.Domain, &d.From, &d.To, &d.HasOutcome, &jobs}, func() error {
		if jobs != 1 {
			return fmt.Errorf("delivery %+v has %d jobs", d, jobs)
		}
		out = append(out, d)
		return nil
	})
	require.NoError(t, err)
	var allJobs int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM regsync.river_job WHERE kind = 'webhook_delivery'`).Scan(&allJobs))
	require.Equal(t, len(out), allJobs, "no delivery job without its delivery")
	return out
}

// TestWebhookDeliveriesAreEnqueuedWithTheirChange subscribes to different
// events and checks that each committed change gets exactly one delivery,
// with its job, per subscription that takes its event and is not
// disabled, and that a write changing nothing gets none; the webhook
// workers are woken with the change.
func TestWebhookDeliveriesAreEnqueuedWithTheirChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	st := store.New(pool)
	keyring := newKeyring(t)
	require.NoError(t, st.AddDomains(ctx, []store.NewDomain{
		{ID: "dom_a", Name: "a.example", Registrar: "sim", Status: registrar.StatusPending},
		{ID: "dom_b", Name: "b.example", Registrar: "sim", Status: registrar.StatusActive},
	}))
	changed := addWebhook(t, st, keyring, "changed", store.WebhookChanged)
	all := addWebhook(t, st, keyring, "all", store.WebhookEvents...)
	guarded := addWebhook(t, st, keyring, "guarded", store.WebhookConfirmed, store.WebhookReverted)
	disabled := addWebhook(t, st, keyring, "disabled", store.WebhookEvents...)
	_, err := pool.Exec(ctx, `UPDATE regsync.webhook_subscriptions SET disabled_at = now() WHERE id = $1`, disabled.ID)
	require.NoError(t, err)

	listener, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer listener.Release()
	_, err = listener.Exec(ctx, `LISTEN "regsync.river_insert"`)
	require.NoError(t, err)
	later := time.Now().Add(time.Hour)

	_, err = st.FinishSync(ctx, store.SyncUpdate{IfVersion: 1, Required: true, Synced: true, NextSyncAt: later},
		outcome("dom_a", registrar.StatusPending, registrar.StatusPending))
	require.NoError(t, err)
	require.Empty(t, readDeliveries(t, pool), "an unchanged status is delivered nowhere")

	_, err = st.FinishSync(ctx, store.SyncUpdate{IfVersion: 1, Required: true, SetStatus: registrar.StatusActive, Synced: true, NextSyncAt: later},
		outcome("dom_a", registrar.StatusPending, registrar.StatusActive))
	require.NoError(t, err)
	require.NoError(t, st.MarkUnconfirmed(ctx, "dom_b", 1, registrar.StatusSuspended, store.Unconfirmed{From: registrar.StatusActive, Raw: "suspended"}))
	_, err = st.FinishSync(ctx, store.SyncUpdate{IfVersion: 2, Required: true, Settle: true, Synced: true, NextSyncAt: later},
		outcome("dom_b", registrar.StatusActive, registrar.StatusSuspended))
	require.NoError(t, err)

	require.Equal(t, []delivery{
		{changed.ID, "changed", "dom_a", "pending", "active", true},
		{all.ID, "changed", "dom_a", "pending", "active", true},
		{all.ID, "unconfirmed", "dom_b", "active", "suspended", false},
		{all.ID, "confirmed", "dom_b", "active", "suspended", true},
		{guarded.ID, "confirmed", "dom_b", "active", "suspended", true},
	}, sortedBySubscription(readDeliveries(t, pool), changed.ID, all.ID, guarded.ID))

	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	note, err := listener.Conn().WaitForNotification(waitCtx)
	require.NoError(t, err)
	var woken map[string]string
	require.NoError(t, json.Unmarshal([]byte(note.Payload), &woken))
	require.Equal(t, map[string]string{"queue": "webhook"}, woken)
}

// sortedBySubscription orders deliveries by the position of their
// subscription in ids, keeping the order of each one's own.
func sortedBySubscription(deliveries []delivery, ids ...string) []delivery {
	var out []delivery
	for _, id := range ids {
		for _, d := range deliveries {
			if d.Subscription == id {
				out = append(out, d)
			}
		}
	}
	return out
}

// TestConcurrentWritesEnqueueEachDeliveryOnce runs many changes at once,
// as a worker's concurrent syncs do, so that they share statements, with
// a write that fails among them: a shared statement that fails rolls back
// whatever deliveries it enqueued and is run again split, so that each
// change ends with exactly one delivery per subscription.
func TestConcurrentWritesEnqueueEachDeliveryOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	st := store.New(pool)
	keyring := newKeyring(t)
	const changes = 100
	var domains []store.NewDomain
	for i := range changes + 1 {
		domains = append(domains, store.NewDomain{ID: fmt.Sprintf("dom_c%d", i), Name: fmt.Sprintf("c%d.example", i), Registrar: "sim", Status: registrar.StatusActive})
	}
	require.NoError(t, st.AddDomains(ctx, domains))
	first := addWebhook(t, st, keyring, "first", store.WebhookChanged)
	second := addWebhook(t, st, keyring, "second", store.WebhookChanged, store.WebhookReverted)

	next := time.Now().Add(time.Hour)
	var wg sync.WaitGroup
	for i := range changes + 1 {
		wg.Go(func() {
			id := fmt.Sprintf("dom_c%d", i)
			to := registrar.StatusExpired
			if i == changes {
				to = "bogus" // fails the status CHECK, and the statement it shares
			}
			_, err := st.FinishSync(ctx, store.SyncUpdate{IfVersion: 1, Required: true, SetStatus: to, Synced: true, NextSyncAt: next},
				outcome(id, registrar.StatusActive, to))
			if (err != nil) != (i == changes) {
				t.Errorf("%s: %v", id, err)
			}
		})
	}
	wg.Wait()

	perDomain := map[string][]string{}
	for _, d := range readDeliveries(t, pool) {
		perDomain[d.Domain] = append(perDomain[d.Domain], d.Subscription)
	}
	require.Len(t, perDomain, changes, "the failed write delivered nothing")
	for domain, subs := range perDomain {
		require.ElementsMatch(t, []string{first.ID, second.ID}, subs, domain)
	}
}

// TestWebhookSubscriptions adds, lists, disables by a gone attempt,
// enables and removes subscriptions, and checks that bad input stores
// nothing and that no error quotes a secret.
func TestWebhookSubscriptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	st := store.New(pool)
	keyring := newKeyring(t)

	sub, generated, err := st.AddWebhookSubscription(ctx, keyring, store.NewWebhookSubscription{
		URL: "https://billing.example/hooks/regsync?source=regsync", Events: []string{"confirmed", "changed", "changed"},
	})
	require.NoError(t, err)
	require.Regexp(t, `^whk_[a-z2-7]{26}$`, sub.ID)
	require.Regexp(t, `^whsec_[a-z2-7]{52}$`, generated)
	require.Equal(t, []string{"changed", "confirmed"}, sub.Events)
	stored, err := st.WebhookSubscription(ctx, sub.ID)
	require.NoError(t, err)
	opened, err := keyring.Open(*stored.Secret, store.WebhookSecretContext(sub.ID))
	require.NoError(t, err)
	require.Equal(t, generated, string(opened))
	_, err = keyring.Open(*stored.Secret, store.WebhookSecretContext("whk_"+strings.Repeat("a", 26)))
	require.ErrorIs(t, err, secret.ErrDecrypt, "bound to its subscription")

	given := "a-secret-the-receiver-has-already-0123"
	local, got, err := st.AddWebhookSubscription(ctx, keyring, store.NewWebhookSubscription{
		URL: "http://localhost:8080/hook", Events: []string{"reverted"}, AllowHTTP: true, Secret: given,
	})
	require.NoError(t, err)
	require.Equal(t, given, got)

	for _, bad := range []struct {
		n    store.NewWebhookSubscription
		want string
	}{
		{store.NewWebhookSubscription{URL: "http://billing.example/hook", Events: []string{"changed"}}, "--allow-http"},
		{store.NewWebhookSubscription{URL: "ftp://billing.example/hook", Events: []string{"changed"}}, "want https://"},
		{store.NewWebhookSubscription{URL: "HTTPS://billing.example/hook", Events: []string{"changed"}}, "want https://"},
		{store.NewWebhookSubscription{URL: "https:///hook", Events: []string{"changed"}}, "no host"},
		{store.NewWebhookSubscription{URL: "https://user:pw@billing.example/hook", Events: []string{"changed"}}, "credentials"},
		{store.NewWebhookSubscription{URL: "http://bill:hunter2@billing.example/hook", Events: []string{"changed"}}, "credentials"},
		{store.NewWebhookSubscription{URL: "https://bill:hunter2%zz@billing.example/hook", Events: []string{"changed"}}, "does not parse"},
		{store.NewWebhookSubscription{URL: "https://billing.example/hook#x", Events: []string{"changed"}}, "fragment"},
		{store.NewWebhookSubscription{URL: "https://billing.example/ hook", Events: []string{"changed"}}, "without spaces"},
		{store.NewWebhookSubscription{URL: "https://billing.example/" + strings.Repeat("a", 2048), Events: []string{"changed"}}, "at most 2048"},
		{store.NewWebhookSubscription{URL: "https://billing.example/hook"}, "no webhook event"},
		{store.NewWebhookSubscription{URL: "https://billing.example/hook", Events: []string{"deleted"}}, `unknown webhook event "deleted"`},
		{store.NewWebhookSubscription{URL: "https://billing.example/hook", Events: []string{"changed"}, Secret: "short-secret"}, "24 to 256"},
		{store.NewWebhookSubscription{URL: "https://billing.example/hook", Events: []string{"changed"}, Secret: "with a space in the secret 0123"}, "without spaces"},
	} {
		_, _, err := st.AddWebhookSubscription(ctx, keyring, bad.n)
		require.ErrorContains(t, err, bad.want, "%+v", bad.n)
		require.NotContains(t, err.Error(), "hunter2", "no error quotes a URL's password")
		if bad.n.Secret != "" {
			require.NotContains(t, err.Error(), bad.n.Secret)
		}
	}
	_, _, err = st.AddWebhookSubscription(ctx, nil, store.NewWebhookSubscription{URL: "https://billing.example/hook", Events: []string{"changed"}})
	require.ErrorContains(t, err, "REGSYNC_SECRET_KEY")

	subs, err := st.WebhookSubscriptions(ctx)
	require.NoError(t, err)
	require.Len(t, subs, 2, "nothing bad was stored")
	require.Equal(t, []string{sub.ID, local.ID}, []string{subs[0].ID, subs[1].ID})
	require.Nil(t, subs[0].Secret, "a listing holds no secret")
	require.Empty(t, subs[0].LastResult)

	// An endpoint gone disables its subscription, with the reason; enabling
	// it lets deliveries through again.
	require.NoError(t, st.AddDomains(ctx, []store.NewDomain{{ID: "dom_a", Name: "a.example", Registrar: "sim", Status: registrar.StatusPending}}))
	_, err = st.FinishSync(ctx, store.SyncUpdate{IfVersion: 1, Required: true, SetStatus: registrar.StatusActive, Synced: true, NextSyncAt: time.Now()},
		outcome("dom_a", registrar.StatusPending, registrar.StatusActive))
	require.NoError(t, err)
	var deliveryID int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT id FROM regsync.webhook_deliveries`).Scan(&deliveryID))
	d, withSub, err := st.WebhookDelivery(ctx, deliveryID)
	require.NoError(t, err)
	require.Equal(t, sub.ID, withSub.ID)
	require.Equal(t, []any{"changed", "dom_a", "pending", "active"}, []any{d.Event, d.DomainID, d.From, d.To})
	require.NoError(t, st.RecordWebhookAttempt(ctx, store.WebhookAttempt{
		DeliveryID: deliveryID, SubscriptionID: sub.ID, JobID: 1, Attempt: 1, AttemptedAt: time.Now(),
		Result: store.WebhookGone, StatusCode: 410, Error: "answered 410: gone",
	}))
	subs, err = st.WebhookSubscriptions(ctx)
	require.NoError(t, err)
	require.False(t, subs[0].DisabledAt.IsZero())
	require.Equal(t, "answered 410: gone", subs[0].DisabledReason)
	require.Equal(t, store.WebhookGone, subs[0].LastResult)
	require.True(t, subs[1].DisabledAt.IsZero())
	require.NoError(t, st.EnableWebhookSubscription(ctx, sub.ID))
	subs, err = st.WebhookSubscriptions(ctx)
	require.NoError(t, err)
	require.True(t, subs[0].DisabledAt.IsZero())
	require.Empty(t, subs[0].DisabledReason)

	// Removing it takes its secret; its delivery and log stay.
	require.NoError(t, st.RemoveWebhookSubscription(ctx, sub.ID))
	require.ErrorIs(t, st.RemoveWebhookSubscription(ctx, sub.ID), store.ErrWebhookNotFound)
	require.ErrorIs(t, st.EnableWebhookSubscription(ctx, sub.ID), store.ErrWebhookNotFound)
	_, err = st.WebhookSubscription(ctx, sub.ID)
	require.ErrorIs(t, err, store.ErrWebhookNotFound)
	d, withSub, err = st.WebhookDelivery(ctx, deliveryID)
	require.NoError(t, err)
	require.Nil(t, withSub, "removed")
	require.Equal(t, sub.ID, d.SubscriptionID)
	_, _, err = st.WebhookDelivery(ctx, deliveryID+1000)
	require.ErrorIs(t, err, store.ErrWebhookDeliveryNotFound)
	var attempts int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM regsync.webhook_delivery_attempts`).Scan(&attempts))
	require.Equal(t, 1, attempts)
	_, err = pool.Exec(ctx, `UPDATE regsync.webhook_delivery_attempts SET result = 'delivered'`)
	require.ErrorContains(t, err, "append-only")
	_, err = pool.Exec(ctx, `DELETE FROM regsync.webhook_deliveries`)
	require.ErrorContains(t, err, "append-only")
}
