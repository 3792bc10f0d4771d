package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/store"
)

func transferPath(account, domain string) string {
	return "/accounts/" + account + "/domains/transfers/" + domain
}

func testTransferResetAuthInfo(t *testing.T, cov *coverage) {
	e := newEnv(t, options{coverage: cov})
	e.addTransfer("trf_auth", "acct12345", "xn--bcher-kva.de", store.TransferWaitingAuthInfo)
	order := registrar.Transfer{Account: "acct12345", DomainName: "xn--bcher-kva.de"}
	require.NoError(t, e.sim.ScriptTransfer(order, "", []string{"202"}, []string{"blocked:resettable", "pending"}))
	e.startWorkers()

	// The Unicode name, percent-encoded in the path, names the A-label
	// transfer.
	r := e.do(http.MethodPut, transferPath("acct12345", "b%C3%BCcher.de"), e.writeToken, `{"authInfo": "New-Code-42"}`)
	require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
	require.Empty(t, r.body)

	// The retry runs and sends the new authInfo to the registrar.
	require.Eventually(t, func() bool {
		authInfo, ok := e.sim.TransferAuthInfo(order)
		return ok && authInfo == "New-Code-42"
	}, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		tr, err := e.store.Transfer(context.Background(), "trf_auth")
		require.NoError(t, err)
		return tr.State == store.TransferInProgress && !tr.AuthInfoUnsent
	}, 10*time.Second, 10*time.Millisecond)
}

func testTransferResetPlain(t *testing.T, cov *coverage) {
	e := newEnv(t, options{coverage: cov})
	e.addTransfer("trf_plain", "acct12345", "plain-example.com", store.TransferBlocked)

	// Without workers the retry stays pending: a second reset keeps it.
	for _, body := range []string{"", "{}"} {
		r := e.do(http.MethodPut, transferPath("acct12345", "Plain-Example.COM."), e.allToken, body)
		require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
		require.Empty(t, r.body)
	}
	var jobs int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM regsync.river_job
		WHERE kind = 'transfer_retry' AND args = '{"transfer_id": "trf_plain"}' AND state = 'available'`).Scan(&jobs))
	require.Equal(t, 1, jobs)
	tr, err := e.store.Transfer(context.Background(), "trf_plain")
	require.NoError(t, err)
	require.Nil(t, tr.AuthInfo, "no authInfo supplied, none stored")
}

func testTransferResetInvalid(t *testing.T, cov *coverage) {
	e := newEnv(t, options{coverage: cov})
	e.addTransfer("trf_valid", "acct1", "valid-example.com", store.TransferBlocked)
	for _, c := range []struct {
		account, domain, body string
		want                  []string
	}{
		{"-acct", "valid-example.com", "", []string{"/accountNumber invalid_value"}},
		{strings.Repeat("a", 65), "valid-example.com", "", []string{"/accountNumber invalid_value"}},
		{"acct%2F1", "valid-example.com", "", []string{"/accountNumber invalid_value"}},
		{"acct1", "www.valid.example.com", "", []string{"/domainName invalid_value"}},
		{"acct1", "com", "", []string{"/domainName invalid_value"}},
		{"acct1", "exa_mple.com", "", []string{"/domainName invalid_value"}},
		{"acct1", "valid-example.com", `{"authInfo": "tiny"}`, []string{"/authInfo invalid_value"}},
		{"acct1", "valid-example.com", `{"authInfo": "has space 1"}`, []string{"/authInfo invalid_value"}},
		{"acct1", "valid-example.com", `{"authInfo": "Seventeen-chars-1"}`, []string{"/authInfo invalid_value"}},
		{"acct1", "valid-example.com", `{"authInfo": 123456}`, []string{"/authInfo invalid_type"}},
		{"acct1", "valid-example.com", `{"authInfo": null}`, []string{"/authInfo invalid_type"}},
		{"acct1", "valid-example.com", `{"authInfo": "Good-Code-1", "x": 1}`, []string{"/x unknown_field"}},
		{"acct1", "valid-example.com", `["Good-Code-1"]`, []string{" invalid_type"}},
		{"acct1", "valid-example.com", `{"authInfo": Good-Code-1}`, []string{" invalid_json"}},
		{"acct1", "valid-example.com", `{"authInfo": "` + strings.Repeat("x", 1100) + `"}`, []string{" too_large"}},
		{"-", "-", `{"authInfo": "tiny"}`, []string{"/authInfo invalid_value", "/accountNumber invalid_value", "/domainName invalid_value"}},
	} {
		r := e.do(http.MethodPut, transferPath(c.account, c.domain), e.writeToken, c.body)
		require.Equal(t, http.StatusBadRequest, r.status, "%+v: %s", c, r.body)
		p := r.problem(t)
		require.Equal(t, "invalid_request", p.Code)
		require.Equal(t, c.want, p.pointers(), "%+v", c)
		for _, secret := range []string{"tiny", "has space", "Seventeen", "Good-Code"} {
			require.NotContains(t, string(r.body), secret, "an authInfo is never answered")
		}
	}
	var jobs int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM regsync.river_job WHERE kind = 'transfer_retry'`).Scan(&jobs))
	require.Zero(t, jobs, "an invalid request enqueues nothing")
}

func testTransferResetRefusals(t *testing.T, cov *coverage) {
	e := newEnv(t, options{coverage: cov})
	e.addTransfer("trf_mine", "acct1", "mine-example.com", store.TransferBlocked)
	e.addTransfer("trf_running", "acct1", "running-example.com", store.TransferInProgress)
	e.addTransfer("trf_waiting", "acct1", "waiting-example.com", store.TransferWaitingAuthInfo)
	e.addTransfer("trf_done", "acct1", "done-example.com", store.TransferCompleted)

	for _, c := range []struct {
		account, domain, body string
		status                int
		code                  string
	}{
		{"acct2", "mine-example.com", "", http.StatusForbidden, "transfer_forbidden"},
		{"ACCT1", "mine-example.com", "", http.StatusForbidden, "transfer_forbidden"},
		{"acct1", "nosuch-example.com", "", http.StatusNotFound, "transfer_not_found"},
		{"acct1", "done-example.com", "", http.StatusNotFound, "transfer_not_found"},
		{"acct1", "running-example.com", "", http.StatusConflict, "transfer_not_resettable"},
		{"acct1", "running-example.com", `{"authInfo": "Good-Code-1"}`, http.StatusConflict, "transfer_not_resettable"},
		{"acct1", "waiting-example.com", "{}", http.StatusConflict, "transfer_not_resettable"},
	} {
		r := e.do(http.MethodPut, transferPath(c.account, c.domain), e.writeToken, c.body)
		require.Equal(t, c.status, r.status, "%+v: %s", c, r.body)
		require.Equal(t, c.code, r.problem(t).Code, "%+v", c)
	}
	var jobs int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM regsync.river_job WHERE kind = 'transfer_retry'`).Scan(&jobs))
	require.Zero(t, jobs, "a refused reset enqueues nothing")

	// With a new authInfo, a transfer waiting for one is reset.
	r := e.do(http.MethodPut, transferPath("acct1", "waiting-example.com"), e.writeToken, `{"authInfo": "Good-Code-1"}`)
	require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
	tr, err := e.store.Transfer(context.Background(), "trf_waiting")
	require.NoError(t, err)
	require.Equal(t, store.TransferBlocked, tr.State)
	require.True(t, tr.AuthInfoUnsent)
	authInfo, err := store.OpenAuthInfo(e.keyring, tr)
	require.NoError(t, err)
	require.Equal(t, "Good-Code-1", authInfo)
}

func testTransferResetNoKeyring(t *testing.T, cov *coverage) {
	e := newEnv(t, options{coverage: cov, noKeyring: true})
	e.addTransfer("trf_nokey", "acct1", "nokey-example.com", store.TransferBlocked)

	r := e.do(http.MethodPut, transferPath("acct1", "nokey-example.com"), e.writeToken, `{"authInfo": "Good-Code-1"}`)
	require.Equal(t, http.StatusServiceUnavailable, r.status, "%s", r.body)
	require.Equal(t, "auth_info_unavailable", r.problem(t).Code)
	tr, err := e.store.Transfer(context.Background(), "trf_nokey")
	require.NoError(t, err)
	require.Nil(t, tr.AuthInfo)

	// A reset without an authInfo needs no key.
	r = e.do(http.MethodPut, transferPath("acct1", "nokey-example.com"), e.writeToken, "")
	require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
}
