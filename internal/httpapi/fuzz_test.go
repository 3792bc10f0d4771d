package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/regsync/regsync/store"
)

// FuzzRequests sends both operations any path parameters and body and
// checks that the API never fails (5xx) or panics on them and answers
// every error as a problem with a documented code. No domain exists, so no
// status sync waits for a worker; transfers exist in each open state, so a
// reset can succeed.
func FuzzRequests(f *testing.F) {
	e := newEnv(f, options{rateLimit: rate.Inf})
	e.addTransfer("trf_fuzz1", "acct1", "example.com", store.TransferBlocked)
	e.addTransfer("trf_fuzz2", "acct1", "xn--bcher-kva.de", store.TransferWaitingAuthInfo)
	e.addTransfer("trf_fuzz3", "acct1", "running-example.com", store.TransferInProgress)
	base, err := url.Parse(e.url)
	require.NoError(f, err)

	for _, seed := range []struct {
		id, account, domain, body string
	}{
		{"dom_a", "acct1", "example.com", ""},
		{"dom_a", "acct1", "bücher.de", `{"authInfo": "Good-Code-1"}`},
		{"DOM", "acct2", "running-example.com", `{}`},
		{"dom_a/b", "acct/1", "ex/ample.com", `{"authInfo": 1}`},
		{"", "", "", `[`},
		{"..", ".", "..", `{"a":{"b":[1,2,{"c":null}]}}`},
		{"dom_\x00", "a\xffb", "\u3002com", `{"authInfo": "\u0000\u0000\u0000\u0000\u0000\u0000"}`},
		{"dom_a", "acct1", "example.com", `{"authInfo": "Good-Code-1", "authInfo": 5}`},
	} {
		f.Add(seed.id, seed.account, seed.domain, []byte(seed.body))
	}

	codes := []string{"invalid_request", "unauthorized", "insufficient_scope", "transfer_forbidden", "not_found",
		"domain_not_found", "transfer_not_found", "method_not_allowed", "transfer_not_resettable", "rate_limited"}
	f.Fuzz(func(t *testing.T, id, account, domain string, body []byte) {
		for _, c := range []struct {
			method, path, rawPath string
		}{
			{http.MethodPost, "/api/v2/domains/" + id + "/actions/status-sync", "/api/v2/domains/" + url.PathEscape(id) + "/actions/status-sync"},
			{http.MethodPut, "/accounts/" + account + "/domains/transfers/" + domain,
				"/accounts/" + url.PathEscape(account) + "/domains/transfers/" + url.PathEscape(domain)},
		} {
			target := *base
			target.Path, target.RawPath = c.path, c.rawPath
			req, err := http.NewRequest(c.method, target.String(), bytes.NewReader(body))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+e.allToken)
			resp, respBody, err := roundTrip(req)
			require.NoError(t, err)
			require.Less(t, resp.StatusCode, 500, "%s %s: %s", c.method, target.String(), respBody)
			if resp.StatusCode >= 400 {
				var p struct {
					Code   string `json:"code"`
					Status int    `json:"status"`
				}
				require.NoError(t, json.Unmarshal(respBody, &p), "%s", respBody)
				require.Equal(t, resp.StatusCode, p.Status)
				require.True(t, slices.Contains(codes, p.Code), p.Code)
			}
		}
	})
}
