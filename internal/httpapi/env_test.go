package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/time/rate"

	"github.com/regsync/regsync/internal/httpapi"
	"github.com/regsync/regsync/internal/pgtest"
	"github.com/regsync/regsync/internal/secret"
	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/sim"
	"github.com/regsync/regsync/store"
	"github.com/regsync/regsync/worker"
)

// testClient has a transport of its own: httptest.Server.Close closes the
// idle connections of http.DefaultTransport, which can break a request of a
// parallel test that has just picked one.
var testClient = registrar.NewHTTPClient()

func TestMain(m *testing.M) { pgtest.RunMain(m) }

// options change what newEnv builds.
type options struct {
	syncTimeout time.Duration
	// noKeyring leaves the API without a secret key.
	noKeyring bool
	// rateLimit is unlimited when zero.
	rateLimit rate.Limit
	rateBurst int
	now       func() time.Time
	// logs, when set, receives the API's and the workers' logs at debug
	// level.
	logs *lockedBuffer
	// coverage, when set, records the documented answers seen.
	coverage *coverage
}

// env is a migrated database, a simulated registrar, workers that can run
// regsync's jobs against them, and the API served over HTTP.
type env struct {
	t        testing.TB
	pool     *pgxpool.Pool
	store    *store.Store
	sim      *sim.Sim
	keyring  *secret.Keyring
	registry *prometheus.Registry
	client   *river.Client[pgx.Tx]
	url      string
	coverage *coverage

	// Tokens of API keys with read:domains, write:transfers, and both.
	readToken, writeToken, allToken string
}

func newEnv(t testing.TB, opts options) *env {
	t.Helper()
	pool := pgtest.NewPool(t)
	st := store.New(pool)
	simulator, err := sim.New(sim.DefaultConfig())
	require.NoError(t, err)
	keySpec, err := secret.GenerateKey("k1")
	require.NoError(t, err)
	keyring, err := secret.ParseKeyring(keySpec)
	require.NoError(t, err)
	logger := zap.NewNop()
	if opts.logs != nil {
		enc := zap.NewProductionEncoderConfig()
		logger = zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(opts.logs), zapcore.DebugLevel))
	}

	registry := prometheus.NewRegistry()
	metrics := worker.NewMetrics(registry)
	cfg := worker.DefaultConfig()
	cfg.StatusSyncWorkers = 4
	cfg.TransferRetryWorkers = 2
	cfg.Sync.DoubleSyncDelay = 0
	cfg.Transfer.ConfirmDelay = 0
	cfg.Sweep.Interval = time.Hour // the sweep runs once, on start
	adapters := worker.NewAdapters([]registrar.Named{simulator}, nil, metrics)
	syncer, err := worker.NewSyncer(st, adapters, cfg.Sync, metrics)
	require.NoError(t, err)
	retrier, err := worker.NewRetrier(st, adapters, keyring, cfg.Transfer, metrics)
	require.NoError(t, err)
	client, err := worker.NewClient(st, cfg, syncer, retrier, keyring, metrics, logger)
	require.NoError(t, err)

	if opts.rateLimit == 0 {
		opts.rateLimit = rate.Inf // tests make requests faster than clients should
	}
	apiCfg := httpapi.Config{
		Store: st, Jobs: client, Keyring: keyring, Logger: logger, Registerer: registry,
		SyncTimeout: opts.syncTimeout, RateLimit: opts.rateLimit, RateBurst: opts.rateBurst, Now: opts.now,
	}
	if opts.noKeyring {
		apiCfg.Keyring = nil
	}
	handler, err := httpapi.New(apiCfg)
	require.NoError(t, err)
	server := httptest.NewServer(handler)
	t.Cleanup(server.Close)

	e := &env{t: t, pool: pool, store: st, sim: simulator, keyring: keyring, registry: registry, client: client, url: server.URL, coverage: opts.coverage}
	ctx := context.Background()
	for _, k := range []struct {
		token  *string
		scopes []string
	}{
		{&e.readToken, []string{store.ScopeReadDomains}},
		{&e.writeToken, []string{store.ScopeWriteTransfers}},
		{&e.allToken, store.Scopes},
	} {
		_, *k.token, err = st.CreateAPIKey(ctx, "test", k.scopes)
		require.NoError(t, err)
	}
	return e
}

// startWorkers starts the River client; they stop when the test ends.
func (e *env) startWorkers() {
	e.t.Helper()
	require.NoError(e.t, e.client.Start(context.Background()))
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(e.t, e.client.StopAndCancel(ctx))
	})
}

// addDomain adds a sim domain, not due for the sweep, and scripts its
// registrar reads.
func (e *env) addDomain(id, name string, status registrar.Status, reads ...string) {
	e.t.Helper()
	ctx := context.Background()
	require.NoError(e.t, e.store.AddDomains(ctx, []store.NewDomain{{ID: id, Name: name, Registrar: "sim", Status: status}}))
	_, err := e.pool.Exec(ctx, `UPDATE regsync.domains SET next_sync_at = now() + interval '1 day' WHERE id = $1`, id)
	require.NoError(e.t, err)
	require.NoError(e.t, e.sim.Script(id, name, reads, false))
}

// addTransfer adds a sim transfer in state, not due for the sweep.
func (e *env) addTransfer(id, account, domain string, state store.TransferState) {
	e.t.Helper()
	ctx := context.Background()
	require.NoError(e.t, e.store.AddTransfer(ctx, store.NewTransfer{
		ID: id, AccountNumber: account, DomainName: domain, Registrar: "sim", BlockReason: "wrong_auth_info",
	}))
	_, err := e.pool.Exec(ctx, `UPDATE regsync.transfers SET state = $2, next_retry_at = now() + interval '1 day' WHERE id = $1`, id, state)
	require.NoError(e.t, err)
}

// response is an answer of the API.
type response struct {
	status int
	header http.Header
	body   []byte
}

// problem decodes the answer as a problem.
func (r response) problem(t testing.TB) problemBody {
	t.Helper()
	require.Equal(t, "application/problem+json", r.header.Get("Content-Type"), "%d %s", r.status, r.body)
	var p problemBody
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&p))
	require.Equal(t, r.status, p.Status)
	require.Equal(t, "https://regsync.invalid/problems/"+p.Code, p.Type)
	require.Equal(t, r.header.Get("X-Request-Id"), p.RequestID)
	require.Regexp(t, `^req_[a-z2-7]{26}$`, p.RequestID)
	require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`, p.Timestamp)
	require.NotEmpty(t, p.Title)
	require.NotEmpty(t, p.Detail)
	return p
}

// problemBody is a problem as the API answers it.
type problemBody struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Code      string `json:"code"`
	Instance  string `json:"instance"`
	RequestID string `json:"requestId"`
	Timestamp string `json:"timestamp"`
	Errors    []struct {
		Pointer string `json:"pointer"`
		Detail  string `json:"detail"`
		Code    string `json:"code"`
	} `json:"errors"`
}

// pointers returns the pointers and codes of the problem's errors.
func (p problemBody) pointers() []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Pointer+" "+e.Code)
	}
	return out
}

// do sends a request with the token (none when empty) and body (none when
// empty) and checks the answer against the OpenAPI document.
func (e *env) do(method, path, token, body string) response {
	e.t.Helper()
	req := e.request(method, path, token, body)
	resp, respBody, err := roundTrip(req)
	require.NoError(e.t, err)
	return e.check(req, resp, respBody)
}

// request returns a request to the API with the token (none when empty)
// and body (none when empty).
func (e *env) request(method, path, token, body string) *http.Request {
	e.t.Helper()
	var reqBody io.Reader
	if body != "" {
		reqBody = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, reqBody)
	require.NoError(e.t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

// roundTrip sends req and reads the whole answer.
func roundTrip(req *http.Request) (*http.Response, []byte, error) {
	resp, err := testClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// check checks an answer of the API against the OpenAPI document and
// returns it.
func (e *env) check(req *http.Request, resp *http.Response, body []byte) response {
	e.t.Helper()
	require.Regexp(e.t, `^req_[a-z2-7]{26}$`, resp.Header.Get("X-Request-Id"))
	resp.Body = io.NopCloser(bytes.NewReader(body))
	checkAgainstDocument(e.t, req, resp, e.coverage)
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

var (
	documentOnce      sync.Once
	documentValidator validator.Validator
	// documentMu serializes the validator, which is not documented as safe
	// for concurrent use.
	documentMu sync.Mutex
)

// openAPIValidator returns a validator of the embedded OpenAPI document,
// served at /api/openapi.json.
func openAPIValidator(t testing.TB) validator.Validator {
	t.Helper()
	documentOnce.Do(func() {
		doc, err := libopenapi.NewDocument(readDocument(t))
		require.NoError(t, err)
		v, errs := validator.NewValidator(doc)
		require.Empty(t, errs)
		documentValidator = v
	})
	require.NotNil(t, documentValidator, "the document did not load")
	return documentValidator
}

// checkAgainstDocument fails the test unless the answer to req is one the
// OpenAPI document describes: a documented status, headers and body
// schema. Answers to paths the API does not have are problems; the
// document does not list them. coverage, when not nil, records the answer.
func checkAgainstDocument(t testing.TB, req *http.Request, resp *http.Response, cov *coverage) {
	t.Helper()
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
		var p problemBody
		body, _ := io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if json.Unmarshal(body, &p) == nil && (p.Code == "not_found" || p.Code == "method_not_allowed") {
			return
		}
	}
	v := openAPIValidator(t)
	documentMu.Lock()
	ok, errs := v.ValidateHttpResponse(req, resp)
	documentMu.Unlock()
	var messages []string
	for _, e := range errs {
		messages = append(messages, e.Error())
		for _, se := range e.SchemaValidationErrors {
			messages = append(messages, "  "+se.Reason+" at "+se.FieldPath)
		}
	}
	require.True(t, ok, "%s %s answered %d, not as documented:\n%s", req.Method, req.URL.Path, resp.StatusCode, strings.Join(messages, "\n"))
	cov.record(req, resp.StatusCode)
}

// lockedBuffer collects log output written from many goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Sync() error { return nil }

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
