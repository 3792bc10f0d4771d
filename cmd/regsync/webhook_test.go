package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/internal/pgtest"
	"github.com/regsync/regsync/internal/secret"
	"github.com/regsync/regsync/store"
	"github.com/regsync/regsync/worker"
)

// testReceiver is a webhook endpoint answering status with "thanks" and
// keeping the requests it got.
type testReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*http.Request
	bodies   [][]byte
}

func newTestReceiver(t *testing.T, status int) *testReceiver {
	t.Helper()
	r := &testReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.requests = append(r.requests, req)
		r.bodies = append(r.bodies, body)
		r.mu.Unlock()
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "thanks")
	}))
	t.Cleanup(r.Close)
	return r
}

// last returns the last request's header and body.
func (r *testReceiver) last(t *testing.T) (http.Header, []byte) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	require.NotEmpty(t, r.requests)
	return r.requests[len(r.requests)-1].Header, r.bodies[len(r.bodies)-1]
}

// requireSignedWith checks a request's Regsync-Signature against secret.
func requireSignedWith(t *testing.T, header http.Header, body []byte, signingSecret string) {
	t.Helper()
	signature := header.Get(worker.SignatureHeader)
	seconds, err := strconv.ParseInt(strings.TrimPrefix(strings.Split(signature, ",")[0], "t="), 10, 64)
	require.NoError(t, err, signature)
	require.Equal(t, worker.SignWebhook([]byte(signingSecret), body, time.Unix(seconds, 0)), signature)
}

func TestWebhookCommands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	databaseURL := pgtest.NewDatabase(t)
	keySpec, err := secret.GenerateKey("k1")
	require.NoError(t, err)
	env := map[string]string{"DATABASE_URL": databaseURL, "REGSYNC_SECRET_KEY": keySpec}
	pool, err := pgxpool.New(ctx, databaseURL)
	require.NoError(t, err)
	defer pool.Close()
	st := store.New(pool)
	billing := newTestReceiver(t, http.StatusAccepted)
	failing := newTestReceiver(t, http.StatusInternalServerError)

	// The URL may come before the flags; the secret is alone on stdout.
	r := regsync(ctx, env, "webhook", "add", billing.URL+"/hook", "--events", "changed,confirmed", "--allow-http")
	require.Equal(t, 0, r.code, r.stderr)
	require.Regexp(t, `^whsec_[a-z2-7]{52}\n$`, r.stdout)
	generated := strings.TrimSpace(r.stdout)
	require.Regexp(t, `^added webhook whk_[a-z2-7]{26} for changed, confirmed; its signing secret follows on stdout and is not shown again\n$`, r.stderr)
	billingID := strings.Fields(r.stderr)[2]

	given := "the-receivers-own-secret-0123456789"
	r = regsyncWithInput(ctx, given+"\n", env, "webhook", "add", "--events", "reverted", "--allow-http", "--secret-from-stdin", failing.URL)
	require.Equal(t, 0, r.code, r.stderr)
	require.Empty(t, r.stdout)
	require.Contains(t, r.stderr, "signed with the secret read from stdin")
	failingID := strings.Fields(r.stderr)[2]

	// Bad input is refused with a usage error and stores nothing.
	for _, bad := range []struct {
		stdin string
		env   map[string]string
		args  []string
		want  string
	}{
		{"", env, []string{"https://billing.example/hook"}, "no webhook event given"},
		{"", env, []string{"http://billing.example/hook", "--events", "changed"}, "--allow-http"},
		{"", env, []string{"https://billing.example/hook", "--events", "changed,deleted"}, `unknown webhook event "deleted"`},
		{"", env, []string{"--events", "changed"}, "want 1 arguments"},
		{"", env, []string{"https://user:pw@billing.example/hook", "--events", "changed"}, "credentials"},
		{"too-short\n", env, []string{"https://billing.example/hook", "--events", "changed", "--secret-from-stdin"}, "24 to 256"},
		{"", env, []string{"https://billing.example/hook", "--events", "changed", "--secret-from-stdin"}, "no signing secret on stdin"},
		{"", map[string]string{"DATABASE_URL": databaseURL}, []string{"https://billing.example/hook", "--events", "changed"}, "REGSYNC_SECRET_KEY"},
	} {
		r := regsyncWithInput(ctx, bad.stdin, bad.env, append([]string{"webhook", "add"}, bad.args...)...)
		require.Equal(t, 2, r.code, "%v: %s", bad.args, r.stderr)
		require.Contains(t, r.stderr, bad.want, "%v", bad.args)
		require.Empty(t, r.stdout, "%v", bad.args)
		require.NotContains(t, r.stderr, "too-short", "a secret is never echoed")
	}

	r = regsync(ctx, env, "webhook", "list")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 3, "only the two added")
	require.Regexp(t, `^ID +URL +EVENTS +CREATED +DISABLED +LAST ATTEMPT +LAST RESULT$`, lines[0])
	require.Regexp(t, `^`+billingID+` +`+billing.URL+`/hook +changed,confirmed +\S+Z +- +- +-$`, lines[1])
	require.Regexp(t, `^`+failingID+` +`+failing.URL+` +reverted `, lines[2])

	// A test event, signed with the subscription's secret, and the answer.
	r = regsync(ctx, env, "webhook", "test", billingID)
	require.Equal(t, 0, r.code, r.stderr)
	require.Regexp(t, `^POST `+billing.URL+`/hook: 202 Accepted in \d+ms\nthanks\n$`, r.stdout)
	header, body := billing.last(t)
	requireSignedWith(t, header, body, generated)
	require.Equal(t, "test", header.Get(worker.EventHeader))
	var event map[string]any
	require.NoError(t, json.Unmarshal(body, &event))
	require.Equal(t, "test", event["event"])
	require.Equal(t, 0.0, event["delivery_id"])
	r = regsync(ctx, env, "webhook", "test", failingID)
	require.Equal(t, 1, r.code, "not a 2xx")
	require.Regexp(t, `^POST `+failing.URL+`: 500 Internal Server Error in \d+ms\nthanks\n$`, r.stdout)
	header, body = failing.last(t)
	requireSignedWith(t, header, body, given)
	r = regsync(ctx, map[string]string{"DATABASE_URL": databaseURL}, "webhook", "test", billingID)
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, "REGSYNC_SECRET_KEY")

	// The secrets are only ever sealed in the database.
	for _, s := range []string{generated, given} {
		found, err := st.TablesContaining(ctx, s)
		require.NoError(t, err)
		require.Empty(t, found)
	}

	r = regsync(ctx, env, "webhook", "enable", failingID)
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "enabled webhook "+failingID+"\n", r.stdout)
	r = regsync(ctx, env, "webhook", "remove", failingID)
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "removed webhook "+failingID+"\n", r.stdout)
	for _, sub := range []string{"remove", "enable", "test"} {
		r = regsync(ctx, env, "webhook", sub, failingID)
		require.Equal(t, 1, r.code, sub)
		require.Contains(t, r.stderr, "webhook subscription not found", sub)
	}
	for _, bad := range [][]string{{"remove"}, {"remove", "WHK-1"}, {"test", "whk_x"}, {"list", "extra"}, {"frob"}, {}} {
		r := regsync(ctx, env, append([]string{"webhook"}, bad...)...)
		require.Equal(t, 2, r.code, "%v: %s", bad, r.stderr)
		require.Empty(t, r.stdout, "%v", bad)
	}
	for _, help := range [][]string{{"--help"}, {"add", "--help"}, {"list", "--help"}, {"remove", "--help"}, {"enable", "--help"}, {"test", "--help"}} {
		r := regsync(ctx, env, append([]string{"webhook"}, help...)...)
		require.Equal(t, 0, r.code, "%v", help)
		require.Contains(t, r.stderr, "Usage: regsync webhook", "%v", help)
	}
}
