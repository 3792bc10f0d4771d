package store

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/internal/pgtest"
	"github.com/regsync/regsync/internal/secret"
	"github.com/regsync/regsync/registrar"
)

// TestARolledBackChangeDeliversNothing makes a sync's last write in a
// transaction and rolls it back: its delivery and job, visible inside the
// transaction, are gone with it, and so is its notification; the same
// write committed has exactly one delivery.
func TestARolledBackChangeDeliversNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	st := New(pool)
	spec, err := secret.GenerateKey("k1")
	require.NoError(t, err)
	keyring, err := secret.ParseKeyring(spec)
	require.NoError(t, err)
	require.NoError(t, st.AddDomains(ctx, []NewDomain{
		{ID: "dom_a", Name: "a.example", Registrar: "sim", Status: registrar.StatusPending},
		{ID: "dom_b", Name: "b.example", Registrar: "sim", Status: registrar.StatusPending},
	}))
	_, _, err = st.AddWebhookSubscription(ctx, keyring, NewWebhookSubscription{URL: "https://billing.example/hook", Events: []string{WebhookChanged}})
	require.NoError(t, err)
	listener, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer listener.Release()
	_, err = listener.Exec(ctx, `LISTEN "regsync.status_changes"`)
	require.NoError(t, err)

	change := func(id string) syncWrite {
		now := time.Now()
		return syncWrite{
			domainID: id,
			update:   SyncUpdate{IfVersion: 1, Required: true, SetStatus: registrar.StatusActive, Synced: true, NextSyncAt: now.Add(time.Hour)},
			ifMatched: &Outcome{
				ID: id, Name: id[len("dom_"):] + ".example", Registrar: "sim", PreviousStatus: registrar.StatusPending,
				NewStatus: registrar.StatusActive, StatusChanged: true, SyncSuccess: true, Attempt: 1, StartedAt: now, FinishedAt: now,
			},
		}
	}
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	written, err := st.execSyncWritesTx(ctx, tx, []syncWrite{change("dom_a")}, finishSyncsWaitSQL)
	require.NoError(t, err)
	require.True(t, written[0].matched)
	var deliveries, jobs int
	require.NoError(t, tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM regsync.webhook_deliveries),
		(SELECT count(*) FROM regsync.river_job WHERE kind = 'webhook_delivery')`).Scan(&deliveries, &jobs))
	require.Equal(t, []int{1, 1}, []int{deliveries, jobs}, "inside the transaction")
	require.NoError(t, tx.Rollback(ctx))

	require.NoError(t, pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM regsync.webhook_deliveries),
		(SELECT count(*) FROM regsync.river_job WHERE kind = 'webhook_delivery')`).Scan(&deliveries, &jobs))
	require.Equal(t, []int{0, 0}, []int{deliveries, jobs}, "rolled back")

	// Notifications arrive in commit order: the first is dom_b's, so the
	// rolled-back change sent none.
	_, err = st.write(ctx, change("dom_b"))
	require.NoError(t, err)
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	note, err := listener.Conn().WaitForNotification(waitCtx)
	require.NoError(t, err)
	var payload map[string]any
	require.NoError(t, json.Unmarshal([]byte(note.Payload), &payload))
	require.Equal(t, "dom_b", payload["domain_id"])
	var domains []string
	require.NoError(t, pool.QueryRow(ctx, `SELECT array_agg(d.domain_id) FROM regsync.webhook_deliveries d
		JOIN regsync.river_job j ON j.args = jsonb_build_object('delivery_id', d.id)`).Scan(&domains))
	require.Equal(t, []string{"dom_b"}, domains)
}
