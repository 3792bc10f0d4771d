package hostup_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/hostup"
)

// testToken is distinctive so that a test can tell it never leaks.
const testToken = "hk_s3cr3t-t0ken-value"

// testDomain is the domain of the recorded answers in testdata/.
var testDomain = registrar.Domain{ID: "dom_01hxa3b4c5d6e7f8g9h0j1k2m3", Name: "example.com"}

// answer is what a test server sends back.
type answer struct {
	status  int
	file    string // body from testdata/, or
	body    string // body given inline
	headers map[string]string
}

func newClient(t *testing.T, baseURL string, mutate func(*hostup.Config)) *hostup.Client {
	t.Helper()
	cfg := hostup.DefaultConfig()
	cfg.BaseURL = baseURL
	cfg.Token = testToken
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := hostup.New(cfg)
	require.NoError(t, err)
	return c
}

// serve starts a server sending a and returns a client for it.
func serve(t *testing.T, a answer, mutate func(*hostup.Config)) *hostup.Client {
	t.Helper()
	body := []byte(a.body)
	if a.file != "" {
		var err error
		body, err = os.ReadFile(filepath.Join("testdata", a.file))
		require.NoError(t, err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range a.headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(a.status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return newClient(t, srv.URL, mutate)
}

// readErr reads testDomain expecting an error, and checks what every error
// of the adapter must satisfy.
func readErr(ctx context.Context, t *testing.T, c *hostup.Client) error {
	t.Helper()
	_, err := c.ReadStatus(ctx, testDomain)
	require.Error(t, err)
	require.True(t, strings.HasPrefix(err.Error(), "hostup: "), err.Error())
	require.NotContains(t, err.Error(), testToken)
	return err
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()

	valid := hostup.DefaultConfig()
	valid.BaseURL = "https://cloud.hostup.se"
	valid.Token = testToken
	require.NoError(t, valid.Validate())
	require.Equal(t, 10*time.Second, valid.Timeout)
	require.Equal(t, int64(1<<20), valid.MaxResponseBytes)

	for name, mutate := range map[string]func(*hostup.Config){
		"empty base url":    func(c *hostup.Config) { c.BaseURL = "" },
		"relative base url": func(c *hostup.Config) { c.BaseURL = "/api" },
		"ftp base url":      func(c *hostup.Config) { c.BaseURL = "ftp://cloud.hostup.se" },
		"no host":           func(c *hostup.Config) { c.BaseURL = "https://" },
		"empty token":       func(c *hostup.Config) { c.Token = "" },
		"token with space":  func(c *hostup.Config) { c.Token = "a b" },
		"token with \\n":    func(c *hostup.Config) { c.Token = "a\nb" },
		"zero timeout":      func(c *hostup.Config) { c.Timeout = 0 },
		"zero max bytes":    func(c *hostup.Config) { c.MaxResponseBytes = 0 },
	} {
		cfg := valid
		mutate(&cfg)
		err := cfg.Validate()
		require.Error(t, err, name)
		require.NotContains(t, err.Error(), testToken)
		_, err = hostup.New(cfg)
		require.Error(t, err, name)
	}
}

func TestName(t *testing.T) {
	t.Parallel()

	require.Equal(t, "hostup", newClient(t, "https://cloud.hostup.se", nil).Name())
}

func TestReadStatusRequest(t *testing.T) {
	t.Parallel()

	var got *http.Request
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		body, _ = io.ReadAll(r.Body)
		http.Error(w, "", http.StatusTeapot)
	}))
	t.Cleanup(srv.Close)

	c := newClient(t, srv.URL+"/base/", nil)
	_, _ = c.ReadStatus(context.Background(), registrar.Domain{ID: "dom/1 ?x", Name: "example.com"})
	require.Equal(t, http.MethodPost, got.Method)
	require.Equal(t, "/base/api/v2/domains/dom%2F1%20%3Fx/actions/status-sync", got.URL.EscapedPath())
	require.Empty(t, got.URL.RawQuery)
	require.Equal(t, "Bearer "+testToken, got.Header.Get("Authorization"))
	require.Equal(t, "application/json", got.Header.Get("Accept"))
	require.Empty(t, body)
	require.Zero(t, got.ContentLength)

	_, err := c.ReadStatus(context.Background(), registrar.Domain{Name: "example.com"})
	require.ErrorIs(t, err, registrar.ErrInvalidRequest)
}

func TestReadStatusOK(t *testing.T) {
	t.Parallel()

	c := serve(t, answer{
		status:  http.StatusOK,
		file:    "status_sync_200.json",
		headers: map[string]string{"Content-Type": "application/json", "X-Request-Id": "req_ok"},
	}, nil)
	got, err := c.ReadStatus(context.Background(), testDomain)
	require.NoError(t, err)
	require.Equal(t, registrar.StatusReading{Raw: "active", Status: registrar.StatusActive, RequestID: "req_ok"}, got)
}

func TestReadStatusMapsRawStatus(t *testing.T) {
	t.Parallel()

	for raw, want := range map[string]registrar.Status{
		"suspended": registrar.StatusSuspended,
		"fraud":     registrar.StatusUnknown,
		"weird":     registrar.StatusUnknown,
		"":          registrar.StatusUnknown,
	} {
		c := serve(t, answer{
			status: http.StatusOK,
			body:   `{"id":"dom_01hxa3b4c5d6e7f8g9h0j1k2m3","newStatus":"` + raw + `","syncSuccess":true,"error":null}`,
		}, nil)
		got, err := c.ReadStatus(context.Background(), testDomain)
		require.NoError(t, err)
		require.Equal(t, registrar.StatusReading{Raw: raw, Status: want}, got)
	}
}

func TestReadStatusSyncFailed(t *testing.T) {
	t.Parallel()

	c := serve(t, answer{status: http.StatusOK, file: "status_sync_failed.json", headers: map[string]string{"X-Request-Id": "req_f"}}, nil)
	err := readErr(context.Background(), t, c)
	require.ErrorIs(t, err, registrar.ErrUnavailable)
	require.False(t, registrar.IsPermanent(err))
	require.ErrorContains(t, err, `"Could not reach the registrar."`)
	require.ErrorContains(t, err, "req_f")
}

func TestReadStatusProblems(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		answer   answer
		sentinel error
		want     registrar.APIError
	}{
		{
			name:     "400 invalid_request",
			answer:   answer{status: 400, file: "problem_400_invalid_request.json", headers: map[string]string{"Content-Type": "application/problem+json"}},
			sentinel: registrar.ErrInvalidRequest,
			want: registrar.APIError{
				Status: 400, Code: "invalid_request", Detail: "The request body failed validation.", RequestID: "req_01hxa3b4c5d6e7f8g9h0j1k2m3",
				FieldErrors: []registrar.FieldError{{Pointer: "/force", Detail: "`force` is not accepted.", Code: "unknown_field"}},
			},
		},
		{
			name:     "401 unauthorized",
			answer:   answer{status: 401, file: "problem_401.json", headers: map[string]string{"Content-Type": "application/problem+json"}},
			sentinel: registrar.ErrUnauthorized,
			want:     registrar.APIError{Status: 401, Code: "unauthorized", Detail: "Missing or invalid API key.", RequestID: "req_01hxa3b4c5d6e7f8g9h0j1k2m4"},
		},
		{
			name:     "404 not_found",
			answer:   answer{status: 404, file: "problem_404.json", headers: map[string]string{"Content-Type": "application/problem+json", "X-Request-Id": "req_header"}},
			sentinel: registrar.ErrNotFound,
			want:     registrar.APIError{Status: 404, Code: "not_found", Detail: "Domain not found.", RequestID: "req_01hxa3b4c5d6e7f8g9h0j1k2m5"},
		},
		{
			name:     "429 rate_limited",
			answer:   answer{status: 429, file: "problem_429.json", headers: map[string]string{"Content-Type": "application/problem+json", "Retry-After": "30"}},
			sentinel: registrar.ErrRateLimited,
			want:     registrar.APIError{Status: 429, Code: "rate_limited", Detail: "Too many requests.", RequestID: "req_01hxa3b4c5d6e7f8g9h0j1k2m6", RetryAfter: 30 * time.Second},
		},
		{
			name:     "500 internal_error as plain JSON",
			answer:   answer{status: 500, file: "problem_500.json", headers: map[string]string{"Content-Type": "application/json"}},
			sentinel: registrar.ErrUnavailable,
			want:     registrar.APIError{Status: 500, Code: "internal_error", Detail: "Internal server error.", RequestID: "req_01hxa3b4c5d6e7f8g9h0j1k2m7"},
		},
		{
			name:     "502 not JSON",
			answer:   answer{status: 502, file: "error_502.html", headers: map[string]string{"Content-Type": "text/html", "X-Request-Id": "req_proxy"}},
			sentinel: registrar.ErrUnavailable,
			want:     registrar.APIError{Status: 502, RequestID: "req_proxy"},
		},
		{
			name:     "problem without detail or requestId",
			answer:   answer{status: 403, body: `{"title":"Forbidden","code":"forbidden"}`, headers: map[string]string{"X-Request-Id": "req_h"}},
			sentinel: registrar.ErrForbidden,
			want:     registrar.APIError{Status: 403, Code: "forbidden", Detail: "Forbidden", RequestID: "req_h"},
		},
		{
			name:     "oversize problem",
			answer:   answer{status: 503, body: `{"code":"service_unavailable","detail":"` + strings.Repeat("x", 2<<20) + `"}`, headers: map[string]string{"X-Request-Id": "req_big"}},
			sentinel: registrar.ErrUnavailable,
			want:     registrar.APIError{Status: 503, RequestID: "req_big"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			c := serve(t, tt.answer, nil)
			err := readErr(context.Background(), t, c)
			require.ErrorIs(t, err, tt.sentinel)
			var apiErr *registrar.APIError
			require.ErrorAs(t, err, &apiErr)
			tt.want.Registrar = "hostup"
			require.Equal(t, &tt.want, apiErr)
		})
	}
}

func TestReadStatusRetryAfter(t *testing.T) {
	t.Parallel()

	readRetryAfter := func(header string) time.Duration {
		c := serve(t, answer{status: 429, file: "problem_429.json", headers: map[string]string{"Retry-After": header}}, nil)
		err := readErr(context.Background(), t, c)
		require.ErrorIs(t, err, registrar.ErrRateLimited)
		var apiErr *registrar.APIError
		require.ErrorAs(t, err, &apiErr)
		return apiErr.RetryAfter
	}

	require.Equal(t, 120*time.Second, readRetryAfter("120"))
	require.Equal(t, time.Duration(0), readRetryAfter("0"))
	require.Equal(t, time.Duration(0), readRetryAfter("-5"))
	require.Equal(t, time.Duration(0), readRetryAfter("soon"))
	require.Equal(t, time.Duration(0), readRetryAfter(time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)))
	got := readRetryAfter(time.Now().Add(2 * time.Minute).UTC().Format(http.TimeFormat))
	require.InDelta(t, 2*time.Minute, got, float64(5*time.Second))
}

func TestReadStatusBadAnswers(t *testing.T) {
	t.Parallel()

	seed, err := os.ReadFile(filepath.Join("testdata", "status_sync_200.json"))
	require.NoError(t, err)

	for name, body := range map[string]string{
		"empty":              "",
		"html":               "<html>ok</html>",
		"truncated":          string(seed[:len(seed)/2]),
		"trailing data":      string(seed) + "{}",
		"array":              "[]",
		"newStatus number":   strings.Replace(string(seed), `"newStatus": "active"`, `"newStatus": 1`, 1),
		"newStatus null":     strings.Replace(string(seed), `"newStatus": "active"`, `"newStatus": null`, 1),
		"newStatus missing":  strings.Replace(string(seed), `"newStatus": "active",`, ``, 1),
		"syncSuccess string": strings.Replace(string(seed), `"syncSuccess": true`, `"syncSuccess": "true"`, 1),
		"syncSuccess null":   strings.Replace(string(seed), `"syncSuccess": true`, `"syncSuccess": null`, 1),
		"other domain":       strings.Replace(string(seed), `"id": "dom_01hxa3b4c5d6e7f8g9h0j1k2m3"`, `"id": "dom_other"`, 1),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()

			c := serve(t, answer{status: http.StatusOK, body: body}, nil)
			err := readErr(context.Background(), t, c)
			require.ErrorIs(t, err, registrar.ErrBadResponse)
			require.False(t, registrar.IsPermanent(err))
		})
	}

	t.Run("oversize", func(t *testing.T) {
		t.Parallel()

		limit := func(n int64) func(*hostup.Config) {
			return func(c *hostup.Config) { c.MaxResponseBytes = n }
		}
		c := serve(t, answer{status: http.StatusOK, file: "status_sync_200.json"}, limit(int64(len(seed))-1))
		err := readErr(context.Background(), t, c)
		require.ErrorIs(t, err, registrar.ErrBadResponse)
		require.ErrorContains(t, err, "exceeds")

		c = serve(t, answer{status: http.StatusOK, file: "status_sync_200.json"}, limit(int64(len(seed))))
		_, err = c.ReadStatus(context.Background(), testDomain)
		require.NoError(t, err, "a body exactly at the limit is read")
	})
}

func TestReadStatusTimeout(t *testing.T) {
	t.Parallel()

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)

	t.Run("config timeout", func(t *testing.T) {
		t.Parallel()

		c := newClient(t, srv.URL, func(c *hostup.Config) { c.Timeout = 50 * time.Millisecond })
		start := time.Now()
		err := readErr(context.Background(), t, c)
		require.Less(t, time.Since(start), 5*time.Second)
		require.ErrorIs(t, err, registrar.ErrUnavailable)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.False(t, registrar.IsPermanent(err))
	})

	t.Run("context deadline", func(t *testing.T) {
		t.Parallel()

		c := newClient(t, srv.URL, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := readErr(ctx, t, c)
		require.Less(t, time.Since(start), 5*time.Second)
		require.ErrorIs(t, err, registrar.ErrUnavailable)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})

	t.Run("context canceled", func(t *testing.T) {
		t.Parallel()

		c := newClient(t, srv.URL, nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := readErr(ctx, t, c)
		require.ErrorIs(t, err, registrar.ErrUnavailable)
		require.ErrorIs(t, err, context.Canceled)
	})

	t.Run("slow body", func(t *testing.T) {
		t.Parallel()

		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, `{"id":`)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}))
		t.Cleanup(slow.Close)

		c := newClient(t, slow.URL, func(c *hostup.Config) { c.Timeout = 50 * time.Millisecond })
		err := readErr(context.Background(), t, c)
		require.ErrorIs(t, err, registrar.ErrUnavailable)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

func TestReadStatusConnectionRefused(t *testing.T) {
	t.Parallel()

	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	err := readErr(context.Background(), t, newClient(t, srv.URL, nil))
	require.ErrorIs(t, err, registrar.ErrUnavailable)
	require.False(t, registrar.IsPermanent(err))
}
