package sim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/sim"
)

// testClient has a transport of its own: httptest.Server.Close closes the
// idle connections of http.DefaultTransport, which can break a request of a
// parallel test that has just picked one.
var testClient = registrar.NewHTTPClient()

const testToken = "test-token"

// syncKeys are the documented keys of a status-sync answer, in order.
var syncKeys = []string{
	"id", "name", "previousStatus", "newStatus", "statusChanged", "statusChangedToActive",
	"syncSuccess", "info", "error", "revertAttempted", "revertSucceeded", "revertError",
	"doubleSyncAttempted", "doubleSyncSucceeded", "doubleSyncError",
}

func newServer(t *testing.T) (*sim.Sim, *httptest.Server) {
	t.Helper()
	s := newSim(t, sim.DefaultConfig())
	srv := httptest.NewServer(sim.Handler(s, testToken))
	t.Cleanup(srv.Close)
	return s, srv
}

// do sends a request with the test token and returns the answer and its body.
func do(t *testing.T, method, url, token, body string) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := testClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

func syncURL(srv *httptest.Server, id string) string {
	return srv.URL + "/api/v2/domains/" + id + "/actions/status-sync"
}

// objectKeys returns the keys of a JSON object in the order they appear.
func objectKeys(t *testing.T, body []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	require.NoError(t, err)
	require.Equal(t, json.Delim('{'), tok)
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		require.NoError(t, err)
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		require.NoError(t, dec.Decode(&skip))
	}
	return keys
}

func TestHandlerStatusSyncWireFormat(t *testing.T) {
	t.Parallel()

	s, srv := newServer(t)
	require.NoError(t, s.Script("dom_1", "example.com", []string{"pending", "active", "active"}, false))

	want := []map[string]any{
		{"previousStatus": "unknown", "newStatus": "pending", "statusChanged": true, "statusChangedToActive": false, "info": "Domain status was updated."},
		{"previousStatus": "pending", "newStatus": "active", "statusChanged": true, "statusChangedToActive": true, "info": "Domain status was updated."},
		{"previousStatus": "active", "newStatus": "active", "statusChanged": false, "statusChangedToActive": false, "info": "Domain status unchanged."},
	}
	for i, w := range want {
		resp, body := do(t, http.MethodPost, syncURL(srv, "dom_1"), testToken, "")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		require.Equal(t, fmt.Sprintf("sim_%d", i+1), resp.Header.Get("X-Request-Id"))
		require.Equal(t, syncKeys, objectKeys(t, body))

		var got map[string]any
		require.NoError(t, json.Unmarshal(body, &got))
		require.Equal(t, map[string]any{
			"id":                    "dom_1",
			"name":                  "example.com",
			"previousStatus":        w["previousStatus"],
			"newStatus":             w["newStatus"],
			"statusChanged":         w["statusChanged"],
			"statusChangedToActive": w["statusChangedToActive"],
			"syncSuccess":           true,
			"info":                  w["info"],
			"error":                 nil,
			"revertAttempted":       false,
			"revertSucceeded":       false,
			"revertError":           nil,
			"doubleSyncAttempted":   false,
			"doubleSyncSucceeded":   false,
			"doubleSyncError":       nil,
		}, got)
	}
}

func TestHandlerRequestBody(t *testing.T) {
	t.Parallel()

	s, srv := newServer(t)
	require.NoError(t, s.Script("dom_1", "example.com", []string{"active"}, false))

	for _, body := range []string{"", "{}", " { } \n"} {
		resp, _ := do(t, http.MethodPost, syncURL(srv, "dom_1"), testToken, body)
		require.Equal(t, http.StatusOK, resp.StatusCode, "body %q", body)
	}
	for _, body := range []string{"[]", "null", "{", `"x"`, `{"force":true}`, "{}" + strings.Repeat(" ", 2<<10)} {
		resp, b := do(t, http.MethodPost, syncURL(srv, "dom_1"), testToken, body)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "body %q", body)
		require.Equal(t, "invalid_request", decodeProblem(t, resp, b)["code"])
	}

	resp, b := do(t, http.MethodPost, syncURL(srv, "dom_1"), testToken, `{"force":true,"a/b":1}`)
	require.Equal(t, []any{
		map[string]any{"pointer": "/a~1b", "detail": "`a/b` is not accepted.", "code": "unknown_field"},
		map[string]any{"pointer": "/force", "detail": "`force` is not accepted.", "code": "unknown_field"},
	}, decodeProblem(t, resp, b)["errors"])
	require.Equal(t, 3, s.Reads("dom_1"), "rejected requests read nothing")
}

func TestHandlerAuthorization(t *testing.T) {
	t.Parallel()

	s, srv := newServer(t)
	require.NoError(t, s.Script("dom_1", "example.com", []string{"active"}, false))

	for _, token := range []string{"", "wrong", testToken + "x"} {
		for _, url := range []string{syncURL(srv, "dom_1"), srv.URL + "/sim/domains/dom_1"} {
			resp, b := do(t, http.MethodPost, url, token, "")
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			require.Equal(t, "unauthorized", decodeProblem(t, resp, b)["code"])
		}
	}
	require.Equal(t, 0, s.Reads("dom_1"))
}

// decodeProblem checks the shape of a problem answer and returns its fields.
func decodeProblem(t *testing.T, resp *http.Response, body []byte) map[string]any {
	t.Helper()
	require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	var p map[string]any
	require.NoError(t, json.Unmarshal(body, &p))
	code, _ := p["code"].(string)
	require.NotEmpty(t, code)
	require.Equal(t, "https://developer.hostup.se/errors/"+code, p["type"])
	require.Equal(t, http.StatusText(resp.StatusCode), p["title"])
	require.Equal(t, float64(resp.StatusCode), p["status"])
	require.NotEmpty(t, p["detail"])
	require.Equal(t, resp.Request.URL.Path, p["instance"])
	require.Equal(t, resp.Header.Get("X-Request-Id"), p["requestId"])
	require.Regexp(t, `^sim_\d+$`, p["requestId"])
	_, err := time.Parse(time.RFC3339, p["timestamp"].(string))
	require.NoError(t, err)
	return p
}

func TestHandlerProblems(t *testing.T) {
	t.Parallel()

	tests := []struct {
		token      string
		status     int
		code       string
		retryAfter string
	}{
		{"!400", 400, "invalid_request", ""},
		{"!401", 401, "unauthorized", ""},
		{"!403", 403, "forbidden", ""},
		{"!404", 404, "not_found", ""},
		{"!429", 429, "rate_limited", "1"},
		{"!429:5s", 429, "rate_limited", "5"},
		{"!429:1500ms", 429, "rate_limited", "2"},
		{"!500", 500, "internal_error", ""},
		{"!502", 502, "bad_gateway", ""},
		{"!503", 503, "service_unavailable", ""},
	}
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			t.Parallel()

			s, srv := newServer(t)
			require.NoError(t, s.Script("dom_1", "example.com", []string{tt.token}, false))
			resp, b := do(t, http.MethodPost, syncURL(srv, "dom_1"), testToken, "")
			require.Equal(t, tt.status, resp.StatusCode)
			require.Equal(t, tt.code, decodeProblem(t, resp, b)["code"])
			require.Equal(t, tt.retryAfter, resp.Header.Get("Retry-After"))
		})
	}

	t.Run("unscripted", func(t *testing.T) {
		t.Parallel()

		_, srv := newServer(t)
		resp, b := do(t, http.MethodPost, syncURL(srv, "dom_nope"), testToken, "")
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
		require.Equal(t, "not_found", decodeProblem(t, resp, b)["code"])
	})
}

func TestHandlerBadAnswers(t *testing.T) {
	t.Parallel()

	s, srv := newServer(t)
	require.NoError(t, s.Script("dom_1", "example.com", []string{"!garbage", "!huge"}, false))

	resp, b := do(t, http.MethodPost, syncURL(srv, "dom_1"), testToken, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.False(t, json.Valid(b))

	resp, b = do(t, http.MethodPost, syncURL(srv, "dom_1"), testToken, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Greater(t, len(b), 2<<20)
	require.Equal(t, syncKeys, objectKeys(t, b))
}

func TestHandlerTimeout(t *testing.T) {
	t.Parallel()

	s, srv := newServer(t)
	require.NoError(t, s.Script("dom_1", "example.com", []string{"!timeout"}, false))

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, syncURL(srv, "dom_1"), nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	start := time.Now()
	_, err = testClient.Do(req)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 5*time.Second)
}

func TestHandlerControl(t *testing.T) {
	t.Parallel()

	s, srv := newServer(t)
	url := srv.URL + "/sim/domains/dom_1"

	resp, _ := do(t, http.MethodPut, url, testToken, `{"name":"example.com","statuses":["expired","active"],"cycle":true}`)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)

	resp, b := do(t, http.MethodGet, url, testToken, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.JSONEq(t, `{"reads":0}`, string(b))

	for _, want := range []string{"expired", "active", "expired"} {
		_, b := do(t, http.MethodPost, syncURL(srv, "dom_1"), testToken, "")
		var got map[string]any
		require.NoError(t, json.Unmarshal(b, &got))
		require.Equal(t, want, got["newStatus"])
		require.Equal(t, "example.com", got["name"])
	}
	_, b = do(t, http.MethodGet, url, testToken, "")
	require.JSONEq(t, `{"reads":3}`, string(b))
	require.Equal(t, 3, s.Reads("dom_1"))

	for _, body := range []string{"", "{", `{"statuses":["active"],"extra":1}`, `{"statuses":[]}`, `{"statuses":["!teapot"]}`} {
		resp, b := do(t, http.MethodPut, url, testToken, body)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "body %q", body)
		require.Equal(t, "invalid_request", decodeProblem(t, resp, b)["code"])
	}
	resp, b = do(t, http.MethodPut, url, testToken, `{"statuses":["!teapot"]}`)
	require.Contains(t, decodeProblem(t, resp, b)["detail"], `unknown fault token "!teapot"`)
}

// TestHandlerOutage checks that an outage answers every registrar request
// with its status while it lasts, and not the simulator's own routes.
func TestHandlerOutage(t *testing.T) {
	t.Parallel()
	s, srv := newServer(t)
	require.NoError(t, s.Script("dom_1", "one.example", []string{"active"}, false))
	sync := srv.URL + "/api/v2/domains/dom_1/actions/status-sync"

	resp, _ := do(t, http.MethodPut, srv.URL+"/sim/outage", testToken, `{"status":401,"for":"1h"}`)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	resp, body := do(t, http.MethodPost, sync, testToken, "")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Contains(t, string(body), `"code":"unauthorized"`)
	resp, _ = do(t, http.MethodGet, srv.URL+"/accounts/a1/domains/transfers/one.example", testToken, "")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp, _ = do(t, http.MethodGet, srv.URL+"/sim/domains/dom_1", testToken, "")
	require.Equal(t, http.StatusOK, resp.StatusCode, "the simulator's own routes still answer")
	require.Zero(t, s.Reads("dom_1"), "the outage reads nothing")

	resp, _ = do(t, http.MethodPut, srv.URL+"/sim/outage", testToken, `{"status":401,"for":"1ns"}`)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Eventually(t, func() bool {
		resp, _ := do(t, http.MethodPost, sync, testToken, "")
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, time.Millisecond, "the outage ends")

	for _, bad := range []string{`{"status":418,"for":"1s"}`, `{"status":401,"for":"soon"}`, `{"status":401,"for":"-1s"}`, `nope`} {
		resp, _ = do(t, http.MethodPut, srv.URL+"/sim/outage", testToken, bad)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, bad)
	}
}

// TestHostileTokens checks what the hostile and slow tokens answer, in
// process and over HTTP.
func TestHostileTokens(t *testing.T) {
	t.Parallel()
	s, srv := newServer(t)
	require.NoError(t, s.Script("dom_h", "h.example", []string{"!nul", "!hugefield", "!hugeerror", "!slow:30ms:expired"}, false))
	d := registrar.Domain{ID: "dom_h", Name: "h.example"}

	r, err := s.ReadStatus(context.Background(), d)
	require.NoError(t, err)
	require.Equal(t, "act\x00ive", r.Raw)
	require.Equal(t, registrar.StatusUnknown, r.Status)
	require.Equal(t, "req\xff\xfe", r.RequestID)
	r, err = s.ReadStatus(context.Background(), d)
	require.NoError(t, err)
	require.Len(t, r.Raw, 300<<10)
	_, err = s.ReadStatus(context.Background(), d)
	require.ErrorIs(t, err, registrar.ErrUnavailable)
	require.Contains(t, err.Error(), "\x00")
	short, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	_, err = s.ReadStatus(short, d)
	require.ErrorIs(t, err, context.DeadlineExceeded, "a slow answer is cut short by ctx")
	r, err = s.ReadStatus(context.Background(), d)
	require.NoError(t, err)
	require.Equal(t, "expired", r.Raw)

	require.NoError(t, s.Script("dom_h", "h.example", []string{"!nul"}, false))
	resp, body := do(t, http.MethodPost, srv.URL+"/api/v2/domains/dom_h/actions/status-sync", testToken, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(body), `"newStatus":"act\u0000ive"`)
	require.Equal(t, "req\xff\xfe", resp.Header.Get("X-Request-Id"))

	for _, bad := range []string{"!slow:1s", "!slow:x:active", "!slow:-1s:active"} {
		require.Error(t, s.Script("dom_bad", "bad.example", []string{bad}, false), bad)
	}
}
