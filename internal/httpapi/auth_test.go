package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/store"
)

func testUnauthorized(t *testing.T, cov *coverage) {
	e := newEnv(t, options{coverage: cov})
	ctx := context.Background()
	revoked, revokedToken, err := e.store.CreateAPIKey(ctx, "revoked", store.Scopes)
	require.NoError(t, err)
	require.NoError(t, e.store.RevokeAPIKey(ctx, revoked.ID))
	// The key id of readToken with another secret.
	idPart := strings.Split(e.readToken, "_")[1]
	wrongSecret := "rsk_" + idPart + "_" + strings.Repeat("a", 52)
	unknownKey := "rsk_" + strings.Repeat("b", 26) + "_" + strings.Repeat("a", 52)

	for _, c := range []struct {
		name, authorization, challenge string
	}{
		{"missing", "", `Bearer realm="regsync"`},
		{"another scheme", "Basic " + e.allToken, `Bearer realm="regsync"`},
		{"empty token", "Bearer ", `Bearer realm="regsync"`},
		{"malformed", "Bearer not-a-token", `Bearer realm="regsync", error="invalid_token"`},
		{"truncated", "Bearer " + e.allToken[:len(e.allToken)-1], `Bearer realm="regsync", error="invalid_token"`},
		{"unknown key", "Bearer " + unknownKey, `Bearer realm="regsync", error="invalid_token"`},
		{"wrong secret", "Bearer " + wrongSecret, `Bearer realm="regsync", error="invalid_token"`},
		{"revoked", "Bearer " + revokedToken, `Bearer realm="regsync", error="invalid_token"`},
	} {
		for _, path := range []string{syncPath("dom_x"), transferPath("acct1", "example.com")} {
			method := http.MethodPost
			if strings.HasPrefix(path, "/accounts/") {
				method = http.MethodPut
			}
			req := e.request(method, path, "", "")
			if c.authorization != "" {
				req.Header.Set("Authorization", c.authorization)
			}
			resp, body, err := roundTrip(req)
			require.NoError(t, err)
			r := e.check(req, resp, body)
			require.Equal(t, http.StatusUnauthorized, r.status, c.name)
			require.Equal(t, c.challenge, r.header.Get("WWW-Authenticate"), c.name)
			require.Equal(t, "unauthorized", r.problem(t).Code, c.name)
		}
	}

	// A key that authenticates is marked used; the others are not.
	r := e.do(http.MethodPost, syncPath("dom_x"), e.readToken, "")
	require.Equal(t, http.StatusNotFound, r.status)
	keys, err := e.store.APIKeys(ctx)
	require.NoError(t, err)
	for _, k := range keys {
		require.Equal(t, strings.Contains(e.readToken, strings.TrimPrefix(k.ID, "key_")), !k.LastUsedAt.IsZero(), k.ID)
	}
}

func testInsufficientScope(t *testing.T, cov *coverage) {
	e := newEnv(t, options{coverage: cov})
	r := e.do(http.MethodPost, syncPath("dom_x"), e.writeToken, "")
	require.Equal(t, http.StatusForbidden, r.status)
	require.Equal(t, "insufficient_scope", r.problem(t).Code)
	require.Equal(t, `Bearer realm="regsync", error="insufficient_scope", scope="read:domains"`, r.header.Get("WWW-Authenticate"))

	r = e.do(http.MethodPut, transferPath("acct1", "example.com"), e.readToken, "")
	require.Equal(t, http.StatusForbidden, r.status)
	require.Equal(t, "insufficient_scope", r.problem(t).Code)
	require.Equal(t, `Bearer realm="regsync", error="insufficient_scope", scope="write:transfers"`, r.header.Get("WWW-Authenticate"))
}

func testRateLimited(t *testing.T, cov *coverage) {
	var now atomic.Int64
	now.Store(time.Date(2026, 4, 27, 12, 34, 56, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	// One request every 2 s, 2 at once.
	e := newEnv(t, options{coverage: cov, rateLimit: 0.5, rateBurst: 2, now: clock})

	for range 2 {
		require.Equal(t, http.StatusNotFound, e.do(http.MethodPost, syncPath("dom_x"), e.allToken, "").status)
	}
	for _, path := range []string{syncPath("dom_x"), transferPath("acct1", "example.com")} {
		method := http.MethodPost
		if strings.HasPrefix(path, "/accounts/") {
			method = http.MethodPut
		}
		r := e.do(method, path, e.allToken, "")
		require.Equal(t, http.StatusTooManyRequests, r.status)
		require.Equal(t, "2", r.header.Get("Retry-After"))
		p := r.problem(t)
		require.Equal(t, "rate_limited", p.Code)
		require.Equal(t, "2026-04-27T12:34:56.000Z", p.Timestamp)
	}
	// Each key has its own limit.
	require.Equal(t, http.StatusNotFound, e.do(http.MethodPost, syncPath("dom_x"), e.readToken, "").status)

	now.Add(int64(1500 * time.Millisecond))
	r := e.do(http.MethodPost, syncPath("dom_x"), e.allToken, "")
	require.Equal(t, http.StatusTooManyRequests, r.status)
	require.Equal(t, "1", r.header.Get("Retry-After"), "rounded up to whole seconds")
	now.Add(int64(500 * time.Millisecond))
	require.Equal(t, http.StatusNotFound, e.do(http.MethodPost, syncPath("dom_x"), e.allToken, "").status)
}

func testUnmatched(t *testing.T, cov *coverage) {
	e := newEnv(t, options{coverage: cov})
	r := e.do(http.MethodGet, "/nope", e.allToken, "")
	require.Equal(t, http.StatusNotFound, r.status)
	p := r.problem(t)
	require.Equal(t, "not_found", p.Code)
	require.Equal(t, "/nope", p.Instance)

	r = e.do(http.MethodGet, syncPath("dom_x"), e.allToken, "")
	require.Equal(t, http.StatusMethodNotAllowed, r.status)
	require.Equal(t, "method_not_allowed", r.problem(t).Code)
	require.Equal(t, "POST", r.header.Get("Allow"))

	require.Equal(t, http.StatusNotFound, e.do(http.MethodPost, syncPath("dom_x"), e.allToken, "").status)
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/api/openapi.json", "", "").status)

	// Routes are patterns, never paths.
	require.NoError(t, testutil.GatherAndCompare(e.registry, strings.NewReader(`
# HELP regsync_http_requests_total Requests to the HTTP API by route (the pattern matched, or unmatched) and status code.
# TYPE regsync_http_requests_total counter
regsync_http_requests_total{code="200",route="GET /api/openapi.json"} 1
regsync_http_requests_total{code="404",route="POST /api/v2/domains/{id}/actions/status-sync"} 1
regsync_http_requests_total{code="404",route="unmatched"} 1
regsync_http_requests_total{code="405",route="unmatched"} 1
`), "regsync_http_requests_total"))
	count, err := testutil.GatherAndCount(e.registry, "regsync_http_request_duration_seconds")
	require.NoError(t, err)
	require.Equal(t, 3, count, "one histogram per route")
	problems, err := testutil.GatherAndLint(e.registry, "regsync_http_requests_total", "regsync_http_request_duration_seconds")
	require.NoError(t, err)
	require.Empty(t, problems)
}

func testInternalError(t *testing.T, cov *coverage) {
	logs := &lockedBuffer{}
	e := newEnv(t, options{coverage: cov, logs: logs})
	// The database fails every request: the API keys are gone.
	_, err := e.pool.Exec(context.Background(), `ALTER TABLE regsync.api_keys RENAME TO api_keys_gone`)
	require.NoError(t, err)
	for _, c := range []struct{ method, path string }{
		{http.MethodPost, syncPath("dom_x")},
		{http.MethodPut, transferPath("acct1", "example.com")},
	} {
		r := e.do(c.method, c.path, e.allToken, "")
		require.Equal(t, http.StatusInternalServerError, r.status)
		p := r.problem(t)
		require.Equal(t, "internal_error", p.Code)
		require.NotContains(t, p.Detail, "api_keys", "the cause is logged, not answered")
		require.Contains(t, logs.String(), `"request_id":"`+p.RequestID+`"`)
	}
	require.Contains(t, logs.String(), "api_keys")
}
