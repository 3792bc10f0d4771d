package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/registrar"
)

// TestAPI answers every documented status of every operation over real
// HTTP, with the workers running jobs on PostgreSQL against the simulated
// registrar; when it ends it checks that no documented answer went unseen.
// Every answer of every test is checked against the OpenAPI document.
func TestAPI(t *testing.T) {
	t.Parallel()
	scenarios := map[string]func(*testing.T, *coverage){
		"StatusSyncAnswersTheSeedsShape":        testStatusSyncSeedShape,
		"StatusSyncJoinsAPendingSync":           testStatusSyncJoinsPending,
		"StatusSyncAnswersAFailedAttempt":       testStatusSyncFailedAttempt,
		"StatusSyncTimesOut":                    testStatusSyncTimeout,
		"StatusSyncRejectsBodies":               testStatusSyncBodies,
		"StatusSyncUnknownDomain":               testStatusSyncUnknownDomain,
		"TransferResetSendsNewAuthInfo":         testTransferResetAuthInfo,
		"TransferResetWithoutAuthInfo":          testTransferResetPlain,
		"TransferResetRejectsInvalidRequests":   testTransferResetInvalid,
		"TransferResetRefusals":                 testTransferResetRefusals,
		"TransferResetWithoutKeyring":           testTransferResetNoKeyring,
		"Unauthorized":                          testUnauthorized,
		"InsufficientScope":                     testInsufficientScope,
		"RateLimited":                           testRateLimited,
		"UnmatchedPathsAndMethodsAndTheMetrics": testUnmatched,
		"InternalError":                         testInternalError,
	}
	cov := newCoverage(t, len(scenarios))
	for name, test := range scenarios {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cov.started()
			test(t, cov)
		})
	}
}

const statusSyncPath = "/api/v2/domains/%s/actions/status-sync"

func syncPath(id string) string { return strings.Replace(statusSyncPath, "%s", id, 1) }

func testStatusSyncSeedShape(t *testing.T, cov *coverage) {
	e := newEnv(t, options{coverage: cov})
	e.addDomain("dom_01hxa3b4c5d6e7f8g9h0j1k2m3", "example.com", registrar.StatusPending, "active")
	e.startWorkers()

	r := e.do(http.MethodPost, syncPath("dom_01hxa3b4c5d6e7f8g9h0j1k2m3"), e.readToken, "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, "application/json", r.header.Get("Content-Type"))

	// The seed's example, byte for byte once compacted: the same 15 keys in
	// the same order, with the same values and JSON types, nulls included.
	seed, err := os.ReadFile("testdata/status_sync_200.json")
	require.NoError(t, err)
	var compact bytes.Buffer
	require.NoError(t, json.Compact(&compact, seed))
	require.Equal(t, compact.String(), string(r.body))
	require.Equal(t, jsonTypes(t, seed), jsonTypes(t, r.body))
}

// jsonTypes returns the JSON type of each key of the object doc.
func jsonTypes(t *testing.T, doc []byte) map[string]string {
	t.Helper()
	var fields map[string]any
	require.NoError(t, json.Unmarshal(doc, &fields))
	types := map[string]string{}
	for k, v := range fields {
		switch v.(type) {
		case nil:
			types[k] = "null"
		case string:
			types[k] = "string"
		case bool:
			types[k] = "boolean"
		default:
			types[k] = "other"
		}
	}
	return types
}

func testStatusSyncJoinsPending(t *testing.T, cov *coverage) {
	logs := &lockedBuffer{}
	e := newEnv(t, options{coverage: cov, logs: logs})
	e.addDomain("dom_joined", "joined.example.com", registrar.StatusPending, "active")
	ctx := context.Background()
	jobID, inserted, err := e.store.EnqueueStatusSync(ctx, "dom_joined")
	require.NoError(t, err)
	require.True(t, inserted)

	// Two callers ask while a sync is already pending and no worker runs:
	// both join it.
	type answer struct {
		req  *http.Request
		resp *http.Response
		body []byte
		err  error
	}
	answers := make(chan answer, 2)
	for _, body := range []string{"", "{}"} {
		req := e.request(http.MethodPost, syncPath("dom_joined"), e.readToken, body)
		go func() {
			resp, respBody, err := roundTrip(req)
			answers <- answer{req, resp, respBody, err}
		}()
	}
	require.Eventually(t, func() bool {
		waiting := 0
		for _, line := range logLines(t, logs) {
			if line["msg"] == "waiting for status sync" && line["job_id"] == float64(jobID) {
				waiting++
			}
		}
		return waiting == 2
	}, 10*time.Second, 10*time.Millisecond)
	e.startWorkers()

	var bodies []string
	for range 2 {
		a := <-answers
		require.NoError(t, a.err)
		r := e.check(a.req, a.resp, a.body)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		bodies = append(bodies, string(r.body))
	}
	require.Equal(t, bodies[0], bodies[1], "both callers get the one sync's result")
	require.Contains(t, bodies[0], `"previousStatus":"pending","newStatus":"active","statusChanged":true`)

	var jobs, outcomes int
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM regsync.river_job WHERE kind = 'status_sync'),
		(SELECT count(*) FROM regsync.status_sync_outcomes WHERE job_id = $1)`, jobID).Scan(&jobs, &outcomes))
	require.Equal(t, 1, jobs)
	require.Equal(t, 1, outcomes)
	require.Equal(t, 1, e.sim.Reads("dom_joined"), "one registrar read for both callers")
}

// logLines decodes the JSON log lines written to logs.
func logLines(t *testing.T, logs *lockedBuffer) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for line := range strings.Lines(logs.String()) {
		var fields map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &fields), line)
		lines = append(lines, fields)
	}
	return lines
}

func testStatusSyncFailedAttempt(t *testing.T, cov *coverage) {
	e := newEnv(t, options{coverage: cov})
	e.addDomain("dom_failing", "failing.example.com", registrar.StatusActive, "!503")
	e.startWorkers()

	// The attempt failed and River will retry it; its outcome is answered.
	r := e.do(http.MethodPost, syncPath("dom_failing"), e.readToken, "{}")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var outcome map[string]any
	require.NoError(t, json.Unmarshal(r.body, &outcome))
	require.Equal(t, false, outcome["syncSuccess"])
	require.Equal(t, "active", outcome["previousStatus"])
	require.Equal(t, "active", outcome["newStatus"])
	require.Contains(t, outcome["error"], "503")
	var state string
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT state FROM regsync.river_job WHERE kind = 'status_sync'`).Scan(&state))
	require.Contains(t, []string{"retryable", "available", "running"}, state, "the job is retried")
}

func testStatusSyncTimeout(t *testing.T, cov *coverage) {
	e := newEnv(t, options{coverage: cov, syncTimeout: 300 * time.Millisecond})
	e.addDomain("dom_slow", "slow.example.com", registrar.StatusActive, "!timeout")
	e.startWorkers()

	for range 2 { // the second request joins the sync still running
		start := time.Now()
		r := e.do(http.MethodPost, syncPath("dom_slow"), e.readToken, "")
		require.Equal(t, http.StatusGatewayTimeout, r.status, "%s", r.body)
		p := r.problem(t)
		require.Equal(t, "sync_timeout", p.Code)
		require.Equal(t, syncPath("dom_slow"), p.Instance)
		require.Less(t, time.Since(start), 5*time.Second)
	}
	var jobs int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM regsync.river_job WHERE kind = 'status_sync'`).Scan(&jobs))
	require.Equal(t, 1, jobs)
}

func testStatusSyncBodies(t *testing.T, cov *coverage) {
	e := newEnv(t, options{coverage: cov})
	e.addDomain("dom_body", "body.example.com", registrar.StatusActive, "active")
	for body, want := range map[string][]string{
		`{"a":1}`:          {"/a unknown_field"},
		`{"a/b~":1,"b":2}`: {"/a~1b~0 unknown_field", "/b unknown_field"},
		`[]`:               {" invalid_type"},
		`null`:             {" invalid_type"},
		`"{}"`:             {" invalid_type"},
		`{`:                {" invalid_json"},
		`{}{}`:             {" invalid_json"},
		`{} x`:             {" invalid_json"},
		`{"a":"` + strings.Repeat("x", 2000) + `"}`: {" too_large"},
		strings.Repeat(" ", 1025) + "{}":            {" too_large"},
	} {
		r := e.do(http.MethodPost, syncPath("dom_body"), e.readToken, body)
		require.Equal(t, http.StatusBadRequest, r.status, "%.40s: %s", body, r.body)
		p := r.problem(t)
		require.Equal(t, "invalid_request", p.Code)
		require.Equal(t, want, p.pointers(), "%.40s", body)
	}
	require.Zero(t, e.sim.Reads("dom_body"), "an invalid request syncs nothing")
}

func testStatusSyncUnknownDomain(t *testing.T, cov *coverage) {
	e := newEnv(t, options{coverage: cov})
	for _, id := range []string{"dom_nosuch", "DOM-1", "dom_" + strings.Repeat("a", 61), "dom_a%2Fb", "%F0%9F%92%A9"} {
		r := e.do(http.MethodPost, syncPath(id), e.readToken, "")
		require.Equal(t, http.StatusNotFound, r.status, id)
		require.Equal(t, "domain_not_found", r.problem(t).Code, id)
	}
}
