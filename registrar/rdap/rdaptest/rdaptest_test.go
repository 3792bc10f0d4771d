package rdaptest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/registrar/rdap/rdaptest"
	"github.com/regsync/regsync/registrar/sim"
)

func TestStatuses(t *testing.T) {
	t.Parallel()

	for scripted, want := range map[string]string{
		"active":    "active",
		"suspended": "client hold",
		"expired":   "pending delete, redemption period",
		"pending":   "pending create",
		"fraud":     "fraud",
		"unknown":   "unknown",
		"weird":     "weird",
	} {
		raw, ok := rdaptest.Raw(scripted)
		require.True(t, ok, scripted)
		require.Equal(t, want, raw, scripted)
	}
	for _, scripted := range []string{"terminated", "cancelled"} {
		_, ok := rdaptest.Statuses(scripted)
		require.False(t, ok, scripted)
	}
}

// get fetches path from srv and returns the answer with its body decoded
// as JSON when it is JSON.
func get(t *testing.T, srv *rdaptest.Server, path string) (*http.Response, map[string]any, []byte) {
	t.Helper()
	hc := srv.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Get(srv.URL + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var v map[string]any
	_ = json.Unmarshal(body, &v)
	return resp, v, body
}

func newServer(t *testing.T, entries ...string) (*rdaptest.Server, *sim.Sim) {
	t.Helper()
	backend, err := sim.New(sim.DefaultConfig())
	require.NoError(t, err)
	require.NoError(t, backend.Script("dom_1", "regsync-example.example", entries, false))
	return rdaptest.NewServer(t, backend), backend
}

func TestDomainAnswer(t *testing.T) {
	t.Parallel()

	srv, backend := newServer(t, "expired")
	backend.SetInfo("dom_1", sim.DomainInfo{ExpiresAt: time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC), Sponsor: "REG-CC"})

	resp, v, _ := get(t, srv, "/domain/REGSYNC-EXAMPLE.example")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/rdap+json", resp.Header.Get("Content-Type"))
	require.Equal(t, "sim_1", resp.Header.Get("X-Request-Id"))
	require.Equal(t, "domain", v["objectClassName"])
	require.Equal(t, "regsync-example.example", v["ldhName"])
	require.Equal(t, []any{"pending delete", "redemption period"}, v["status"])
	require.Contains(t, v, "rdapConformance")
	require.Contains(t, v, "notices")
	require.Contains(t, v, "nameservers")
	require.Contains(t, v, "secureDNS")

	var actions []any
	for _, e := range v["events"].([]any) {
		actions = append(actions, e.(map[string]any)["eventAction"])
		if e.(map[string]any)["eventAction"] == "expiration" {
			require.Equal(t, "2027-01-02T03:04:05Z", e.(map[string]any)["eventDate"])
		}
	}
	require.Equal(t, []any{"registration", "expiration", "last changed", "last update of RDAP database"}, actions)

	// A sponsor that is not a number is a handle without an IANA id.
	entities := v["entities"].([]any)
	require.Len(t, entities, 2)
	reg := entities[1].(map[string]any)
	require.Equal(t, []any{"registrar"}, reg["roles"])
	require.Equal(t, "REG-CC", reg["handle"])
	require.NotContains(t, reg, "publicIds")
	require.Len(t, reg["entities"], 1, "the abuse contact")
}

func TestDomainAnswerWithoutInfo(t *testing.T) {
	t.Parallel()

	srv, _ := newServer(t, "active")
	_, v, _ := get(t, srv, "/domain/regsync-example.example")
	for _, e := range v["events"].([]any) {
		require.NotEqual(t, "expiration", e.(map[string]any)["eventAction"])
	}
	require.Len(t, v["entities"], 1, "only the registrant")
}

func TestErrorAnswers(t *testing.T) {
	t.Parallel()

	srv, _ := newServer(t, "!429:2500ms", "!503", "terminated")

	resp, v, _ := get(t, srv, "/domain/regsync-example.example")
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Equal(t, "3", resp.Header.Get("Retry-After"), "whole seconds, rounded up")
	require.Equal(t, "sim_1", resp.Header.Get("X-Request-Id"))
	require.EqualValues(t, 429, v["errorCode"])
	require.Equal(t, "Too Many Requests", v["title"])
	require.Equal(t, []any{"Too many requests."}, v["description"])

	resp, v, _ = get(t, srv, "/domain/regsync-example.example")
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.EqualValues(t, 503, v["errorCode"])
	require.Empty(t, resp.Header.Get("Retry-After"))

	// A terminated domain is gone from the registry.
	resp, v, _ = get(t, srv, "/domain/regsync-example.example")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.EqualValues(t, 404, v["errorCode"])
	require.Equal(t, "sim_3", resp.Header.Get("X-Request-Id"))

	resp, v, _ = get(t, srv, "/domain/nowhere.example")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.EqualValues(t, 404, v["errorCode"])
	require.NotEmpty(t, resp.Header.Get("X-Request-Id"))

	resp, v, _ = get(t, srv, "/nameserver/ns1.example")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.EqualValues(t, 400, v["errorCode"])
}

// TestGarbageAndHuge pins the answers to !garbage and !huge, which the
// server tells apart by the simulator's error text.
func TestGarbageAndHuge(t *testing.T) {
	t.Parallel()

	srv, _ := newServer(t, "!garbage", "!huge")

	resp, v, body := get(t, srv, "/domain/regsync-example.example")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Nil(t, v)
	require.False(t, json.Valid(body))

	resp, v, body = get(t, srv, "/domain/regsync-example.example")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Greater(t, len(body), 4<<20)
	require.Equal(t, "domain", v["objectClassName"])
}

func TestRedirectRoutes(t *testing.T) {
	t.Parallel()

	srv, _ := newServer(t, "active")
	for path, want := range map[string]string{
		"/hops/3/domain/a.example": "/hops/2/domain/a.example",
		"/hops/1/domain/a.example": "/domain/a.example",
		"/loop/domain/a.example":   "/loop/domain/a.example",
	} {
		resp, _, _ := get(t, srv, path)
		require.Equal(t, http.StatusFound, resp.StatusCode, path)
		require.Equal(t, want, resp.Header.Get("Location"), path)
	}
	resp, _, _ := get(t, srv, "/insecure/domain/a.example")
	require.Equal(t, http.StatusMovedPermanently, resp.StatusCode)
	require.Regexp(t, `^http://127\.0\.0\.1:[0-9]+/domain/a\.example$`, resp.Header.Get("Location"))

	// The plain-http twin answers like the server.
	plain, err := http.Get(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.NoError(t, plain.Body.Close())
	require.Equal(t, http.StatusNotFound, plain.StatusCode, "a.example is not scripted")
}

func TestBootstrapRoute(t *testing.T) {
	t.Parallel()

	srv, _ := newServer(t, "active")
	resp, _, _ := get(t, srv, "/bootstrap/dns.json")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	published := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	srv.SetBootstrap(http.StatusOK, srv.Bootstrap(published, "example", "test"))
	resp, v, _ := get(t, srv, "/bootstrap/dns.json")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "2026-05-01T00:00:00Z", v["publication"])
	require.Equal(t, "1.0", v["version"])
	require.Equal(t, []any{[]any{[]any{"example", "test"}, []any{srv.BaseURL()}}}, v["services"])
	require.Equal(t, 2, srv.BootstrapFetches())
}
