package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/store"
)

// addTransfer adds a blocked transfer on the simulator and scripts its
// registrar answers.
func (e *dbEnv) addTransfer(t *testing.T, nt store.NewTransfer, resets, statuses []string) {
	t.Helper()
	if nt.AccountNumber == "" {
		nt.AccountNumber = "acct1"
	}
	nt.Registrar = "sim"
	if nt.BlockReason == "" {
		nt.BlockReason = "no_response"
	}
	require.NoError(t, e.store.AddTransfer(context.Background(), nt))
	require.NoError(t, e.sim.ScriptTransfer(registrar.Transfer{Account: nt.AccountNumber, DomainName: nt.DomainName}, "", resets, statuses))
}

func TestTransferRetriesOnPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := newDBEnv(t, nil)
	resettable := []string{"blocked:resettable", "pending"}
	env.addTransfer(t, store.NewTransfer{ID: "trf_accepted", DomainName: "accepted.example"}, []string{"202"}, resettable)
	env.addTransfer(t, store.NewTransfer{ID: "trf_seed204", DomainName: "seed204.example"}, []string{"204"}, resettable)
	env.addTransfer(t, store.NewTransfer{ID: "trf_invalid", DomainName: "invalid.example"}, []string{"404bad"}, resettable)
	env.addTransfer(t, store.NewTransfer{ID: "trf_gone", DomainName: "gone.example"}, []string{"404"}, resettable)
	env.addTransfer(t, store.NewTransfer{ID: "trf_other", DomainName: "other.example"}, []string{"403"}, resettable)
	env.addTransfer(t, store.NewTransfer{ID: "trf_busy", DomainName: "busy.example"}, []string{"409"}, resettable)
	env.addTransfer(t, store.NewTransfer{ID: "trf_flaky", DomainName: "flaky.example"}, []string{"500", "202"}, []string{"blocked:resettable", "blocked:resettable", "pending"})
	env.addTransfer(t, store.NewTransfer{ID: "trf_done", DomainName: "done.example"}, nil, []string{"completed"})
	env.addTransfer(t, store.NewTransfer{ID: "trf_locked", DomainName: "locked.example"}, nil, []string{"blocked"})
	env.addTransfer(t, store.NewTransfer{
		ID: "trf_young", DomainName: "young.example", BlockReason: "registered_recently", RegisteredAt: time.Now().Add(-10 * 24 * time.Hour),
	}, nil, resettable)
	env.addTransfer(t, store.NewTransfer{
		ID: "trf_old", DomainName: "old.example", BlockedSince: time.Now().Add(-61 * 24 * time.Hour),
	}, nil, resettable)
	env.startClient(t, testConfig())
	env.waitForJobs(t)

	want := map[string]struct {
		state  store.TransferState
		result string
	}{
		"trf_accepted": {store.TransferInProgress, "accepted"},
		"trf_seed204":  {store.TransferInProgress, "accepted"},
		"trf_invalid":  {store.TransferWaitingAuthInfo, "invalid"},
		"trf_gone":     {store.TransferClosed, "closed"},
		"trf_other":    {store.TransferForbidden, "forbidden"},
		"trf_busy":     {store.TransferBlocked, "conflict"},
		"trf_flaky":    {store.TransferInProgress, "accepted"},
		"trf_done":     {store.TransferCompleted, "completed"},
		"trf_locked":   {store.TransferBlocked, "not_resettable"},
		"trf_young":    {store.TransferBlocked, "waiting"},
		"trf_old":      {store.TransferExpired, "expired"},
	}
	for id, w := range want {
		tr, err := env.store.Transfer(ctx, id)
		require.NoError(t, err)
		require.Equal(t, w.state, tr.State, id)
		require.Equal(t, w.result, tr.LastResult, id)
	}
	young, err := env.store.Transfer(ctx, "trf_young")
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(50*24*time.Hour), young.NextRetryAt, time.Minute, "waits for the 60-day mark")
	busy, err := env.store.Transfer(ctx, "trf_busy")
	require.NoError(t, err)
	require.Zero(t, busy.Attempts, "a 409 does not burn attempts")
	require.Equal(t, 1, busy.Conflicts)

	// The flaky one failed once with a 500 and went through on the job's
	// retry: two attempt rows, one per run.
	attempts, err := env.store.TransferAttempts(ctx, "trf_flaky")
	require.NoError(t, err)
	require.Len(t, attempts, 2)
	require.Equal(t, "unavailable", attempts[0].Result)
	require.Equal(t, 500, attempts[0].HTTPStatus)
	require.Equal(t, "accepted", attempts[1].Result)
	require.True(t, attempts[1].DoubleSyncSucceeded)

	// The job's output is the attempt.
	var output []byte
	require.NoError(t, env.pool.QueryRow(ctx, `
		SELECT metadata->'output' FROM regsync.river_job WHERE kind = 'transfer_retry' AND args->>'transfer_id' = 'trf_accepted'`).Scan(&output))
	var out map[string]any
	require.NoError(t, json.Unmarshal(output, &out))
	require.Equal(t, "accepted", out["result"])
	require.Equal(t, "in_progress", out["stateAfter"])
	require.Equal(t, float64(202), out["httpStatus"])

	require.Equal(t, 1.0, testutil.ToFloat64(env.metrics.transferResets.WithLabelValues("sim", "forbidden")))

	// The collector reports the transfers.
	require.NoError(t, env.store.RefreshGauges(ctx))
	problems, err := testutil.CollectAndLint(NewDatabaseCollector(env.store, 5*time.Second))
	require.NoError(t, err)
	require.Empty(t, problems)
	require.NoError(t, testutil.CollectAndCompare(NewDatabaseCollector(env.store, 5*time.Second), strings.NewReader(`
# HELP regsync_transfers Blocked transfers by state, read at scrape time.
# TYPE regsync_transfers gauge
regsync_transfers{state="blocked"} 3
regsync_transfers{state="closed"} 1
regsync_transfers{state="completed"} 1
regsync_transfers{state="expired"} 1
regsync_transfers{state="failed"} 0
regsync_transfers{state="forbidden"} 1
regsync_transfers{state="in_progress"} 3
regsync_transfers{state="waiting_auth_info"} 1
`), "regsync_transfers"))
}

func TestTransferEnqueueDeduplicatesAcrossGoAndSQL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := newDBEnv(t, nil)
	env.addTransfer(t, store.NewTransfer{ID: "trf_a", DomainName: "a.example"}, nil, nil)
	env.addTransfer(t, store.NewTransfer{ID: "trf_b", DomainName: "b.example"}, nil, nil)
	requireDeduplicatedBothOrders(t, env, env.store.EnqueueTransferRetry,
		func(id string) river.JobArgs { return TransferRetryArgs{TransferID: id} }, "trf_a", "trf_b")

	_, _, err := env.store.EnqueueTransferRetry(ctx, "trf_missing")
	require.ErrorIs(t, err, store.ErrTransferNotFound)
	_, _, err = env.store.EnqueueTransferRetry(ctx, "dom_a")
	require.ErrorContains(t, err, "invalid transfer id")
}

// TestAuthInfoNeverStoredOrLoggedInPlaintext sends a new authInfo that the
// registry rejects (reverted), then one it accepts, with every log line
// captured, and then looks for the plaintext in every column of every
// table of the database, River's job rows included, in the logs and in the
// metrics.
func TestAuthInfoNeverStoredOrLoggedInPlaintext(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var logs bytes.Buffer
	env := newDBEnv(t, nil)
	env.logger = zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.Lock(zapcore.AddSync(&logs)), zap.DebugLevel))
	const rejected, accepted = "Wr0ng-Code!", "R1ght-Code#"
	order := registrar.Transfer{Account: "acct1", DomainName: "secret.example"}
	env.addTransfer(t, store.NewTransfer{ID: "trf_secret", DomainName: "secret.example", BlockReason: "wrong_auth_info"},
		// The start-up retry (no authInfo yet), then the rejected value, then
		// the accepted one and its confirming status read.
		[]string{"404bad", "404bad", "202"}, []string{"blocked:resettable", "blocked:resettable", "blocked:resettable", "pending"})

	// Invalid values are refused and store nothing.
	for _, bad := range []string{"short", "much-too-long-authinfo", "has space", "ünïcode1"} {
		_, err := env.store.RequestReset(ctx, env.keyring, store.ResetRequest{TransferID: "trf_secret", AuthInfo: bad})
		require.Error(t, err)
		require.NotContains(t, err.Error(), bad)
	}
	tr, err := env.store.Transfer(ctx, "trf_secret")
	require.NoError(t, err)
	require.Nil(t, tr.AuthInfo)
	require.Zero(t, tr.AuthInfoVersion)

	client := env.startClient(t, testConfig())
	env.waitForJobs(t)
	_, err = env.store.RequestReset(ctx, env.keyring, store.ResetRequest{TransferID: "trf_secret", AuthInfo: rejected})
	require.NoError(t, err)
	env.waitForJobs(t)

	tr, err = env.store.Transfer(ctx, "trf_secret")
	require.NoError(t, err)
	require.Equal(t, store.TransferWaitingAuthInfo, tr.State)
	require.Nil(t, tr.AuthInfo, "the rejected value was reverted to the previous one, which was none")
	attempts, err := env.store.TransferAttempts(ctx, "trf_secret")
	require.NoError(t, err)
	last := attempts[len(attempts)-1]
	require.True(t, last.SentNewAuthInfo)
	require.True(t, last.RevertAttempted)
	require.True(t, last.RevertSucceeded)
	_, remembered := env.sim.TransferAuthInfo(order)
	require.False(t, remembered, "the registrar accepted nothing")

	_, err = env.store.RequestReset(ctx, env.keyring, store.ResetRequest{TransferID: "trf_secret", AuthInfo: accepted})
	require.NoError(t, err)
	env.waitForJobs(t)
	tr, err = env.store.Transfer(ctx, "trf_secret")
	require.NoError(t, err)
	require.Equal(t, store.TransferInProgress, tr.State)
	require.False(t, tr.AuthInfoUnsent)
	got, remembered := env.sim.TransferAuthInfo(order)
	require.True(t, remembered)
	require.Equal(t, accepted, got, "the registrar received the value")
	opened, err := store.OpenAuthInfo(env.keyring, tr)
	require.NoError(t, err)
	require.Equal(t, accepted, opened, "it is stored, encrypted")
	require.NoError(t, client.Stop(ctx))

	for _, secretValue := range []string{rejected, accepted} {
		require.NotContains(t, logs.String(), secretValue)
		requireNowhereInDatabase(t, env, secretValue)
	}
	require.NotEmpty(t, logs.String(), "the logs were captured")
	families, err := env.registry.Gather()
	require.NoError(t, err)
	for _, f := range families {
		require.NotContains(t, f.String(), accepted)
	}
}

// requireNowhereInDatabase fails when value appears in any column of any
// row of any table in the database, River's job rows included.
func requireNowhereInDatabase(t *testing.T, env *dbEnv, value string) {
	t.Helper()
	var jobs int
	require.NoError(t, env.pool.QueryRow(context.Background(), `SELECT count(*) FROM regsync.river_job WHERE kind = 'transfer_retry'`).Scan(&jobs))
	require.Positive(t, jobs, "River's job rows are among those searched")
	found, err := env.store.TablesContaining(context.Background(), value)
	require.NoError(t, err)
	require.Empty(t, found, "tables holding the plaintext")
	// The search itself works: the domain name is stored in plaintext.
	found, err = env.store.TablesContaining(context.Background(), "secret.example")
	require.NoError(t, err)
	require.Contains(t, found, `"regsync"."transfers"`)
}
