package main

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/internal/pgtest"
	"github.com/regsync/regsync/store"
)

func TestAPIKeyCommands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	databaseURL := pgtest.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": databaseURL}
	pool, err := pgxpool.New(ctx, databaseURL)
	require.NoError(t, err)
	defer pool.Close()
	st := store.New(pool)

	// The token is printed alone on stdout, once; the rest goes to stderr.
	r := regsync(ctx, env, "apikey", "create", "--name", "billing service", "--scope", "read:domains", "--scope", "write:transfers", "--scope", "read:domains")
	require.Equal(t, 0, r.code, r.stderr)
	require.Regexp(t, `^rsk_[a-z2-7]{26}_[a-z2-7]{52}\n$`, r.stdout)
	token := strings.TrimSuffix(r.stdout, "\n")
	key, err := st.AuthenticateAPIKey(ctx, token)
	require.NoError(t, err)
	require.Equal(t, "billing service", key.Name)
	require.Equal(t, []string{"read:domains", "write:transfers"}, key.Scopes)
	require.Equal(t, "created API key "+key.ID+" (billing service) with scopes read:domains, write:transfers; its token follows on stdout and is not shown again\n", r.stderr)
	secret := token[strings.LastIndexByte(token, '_')+1:]

	r = regsync(ctx, env, "apikey", "create", "--name", "reader", "--scope", "read:domains")
	require.Equal(t, 0, r.code, r.stderr)
	otherToken := strings.TrimSuffix(r.stdout, "\n")

	r = regsync(ctx, env, "apikey", "list")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 3)
	require.Regexp(t, `^ID +NAME +SCOPES +CREATED +LAST USED +REVOKED$`, lines[0])
	require.Regexp(t, `^`+key.ID+` +billing service +read:domains,write:transfers +\S+Z +\S+Z +-$`, lines[1], "used once, not revoked")
	require.Regexp(t, `^key_[a-z2-7]{26} +reader +read:domains +\S+Z +- +-$`, lines[2])
	for _, s := range []string{token, secret, otherToken, otherToken[strings.LastIndexByte(otherToken, '_')+1:]} {
		require.NotContains(t, r.stdout+r.stderr, s, "a token is never listed")
	}

	r = regsync(ctx, env, "apikey", "revoke", key.ID)
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "revoked API key "+key.ID+"\n", r.stdout)
	_, err = st.AuthenticateAPIKey(ctx, token)
	require.ErrorIs(t, err, store.ErrInvalidToken)
	_, err = st.AuthenticateAPIKey(ctx, otherToken)
	require.NoError(t, err, "other keys still work")
	r = regsync(ctx, env, "apikey", "list")
	require.Equal(t, 0, r.code, r.stderr)
	require.Regexp(t, `(?m)^`+key.ID+` .* \S+Z$`, r.stdout, "shown as revoked")
	r = regsync(ctx, env, "apikey", "revoke", key.ID)
	require.Equal(t, 0, r.code, "revoking twice is harmless: %s", r.stderr)

	r = regsync(ctx, env, "apikey", "revoke", "key_"+strings.Repeat("a", 26))
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "API key not found")

	for _, bad := range [][]string{
		{"create", "--scope", "read:domains"},
		{"create", "--name", "x"},
		{"create", "--name", "x", "--scope", "write:domains"},
		{"create", "--name", strings.Repeat("x", 101), "--scope", "read:domains"},
		{"revoke"},
		{"revoke", "KEY-1"},
		{"list", "extra"},
		{"frob"},
		{},
	} {
		r := regsync(ctx, env, append([]string{"apikey"}, bad...)...)
		require.Equal(t, 2, r.code, "%v: %s", bad, r.stderr)
		require.Empty(t, r.stdout, "%v", bad)
	}
	for _, help := range [][]string{{"--help"}, {"create", "--help"}, {"list", "--help"}, {"revoke", "--help"}} {
		r := regsync(ctx, env, append([]string{"apikey"}, help...)...)
		require.Equal(t, 0, r.code, "%v", help)
		require.Contains(t, r.stderr, "Usage: regsync apikey", "%v", help)
	}
}
