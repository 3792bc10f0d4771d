package rdap_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/rdap"
	"github.com/regsync/regsync/registrar/rdap/rdaptest"
	"github.com/regsync/regsync/registrar/sim"
)

// readErr reads d expecting an error, and checks what every error of the
// adapter must satisfy.
func readErr(ctx context.Context, t *testing.T, c *rdap.Client, d registrar.Domain) error {
	t.Helper()
	_, err := c.ReadStatus(ctx, d)
	require.Error(t, err)
	require.True(t, strings.HasPrefix(err.Error(), c.Name()+": "), err.Error())
	return err
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()

	valid := rdap.DefaultConfig()
	require.NoError(t, valid.Validate())
	require.Equal(t, "rdap", valid.Name)
	require.Equal(t, 24*time.Hour, valid.BootstrapRefresh)
	require.Equal(t, time.Hour, valid.BootstrapRetry)
	require.Equal(t, 10*time.Second, valid.Timeout)
	require.Equal(t, int64(1<<20), valid.MaxResponseBytes)
	require.Equal(t, int64(4<<20), valid.MaxBootstrapBytes)

	for name, mutate := range map[string]func(*rdap.Config){
		"empty name":            func(c *rdap.Config) { c.Name = "" },
		"name with space":       func(c *rdap.Config) { c.Name = "rd ap" },
		"name with colon":       func(c *rdap.Config) { c.Name = "rdap:" },
		"zero refresh":          func(c *rdap.Config) { c.BootstrapRefresh = 0 },
		"negative retry":        func(c *rdap.Config) { c.BootstrapRetry = -time.Second },
		"zero timeout":          func(c *rdap.Config) { c.Timeout = 0 },
		"zero max bytes":        func(c *rdap.Config) { c.MaxResponseBytes = 0 },
		"zero bootstrap bytes":  func(c *rdap.Config) { c.MaxBootstrapBytes = 0 },
		"http bootstrap url":    func(c *rdap.Config) { c.Bootstrap = "http://data.iana.org/rdap/dns.json" },
		"hostless bootstrap":    func(c *rdap.Config) { c.Bootstrap = "https:///dns.json" },
		"user agent with \\n":   func(c *rdap.Config) { c.UserAgent = "a\nb" },
		"http override":         func(c *rdap.Config) { c.Overrides = map[string]string{"se": "http://rdap.example.se/"} },
		"relative override":     func(c *rdap.Config) { c.Overrides = map[string]string{"se": "rdap.example.se"} },
		"empty override key":    func(c *rdap.Config) { c.Overrides = map[string]string{".": "https://rdap.example.se/"} },
		"override key with /":   func(c *rdap.Config) { c.Overrides = map[string]string{"se/x": "https://rdap.example.se/"} },
		"same key twice":        func(c *rdap.Config) { c.Overrides = map[string]string{"se": "", "SE.": ""} },
		"override with a query": func(c *rdap.Config) { c.Overrides = map[string]string{"se": "https://rdap.example.se/?a=b"} },
	} {
		cfg := valid
		mutate(&cfg)
		require.Error(t, cfg.Validate(), name)
		_, err := rdap.New(cfg)
		require.Error(t, err, name)
	}
}

func TestName(t *testing.T) {
	t.Parallel()

	require.Equal(t, "rdap", newClient(t, nil, nil).Name())
	c := newClient(t, nil, func(c *rdap.Config) { c.Name = "rdap-registry" })
	require.Equal(t, "rdap-registry", c.Name())

	// Errors and API errors carry the configured name.
	err := readErr(t.Context(), t, c, registrar.Domain{ID: "dom_1", Name: "x.example"})
	require.ErrorIs(t, err, rdap.ErrNoServer)
	require.ErrorIs(t, err, registrar.ErrNotCovered, "a caller with another source falls back")
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	c = newClient(t, srv.Client(), func(c *rdap.Config) {
		c.Name = "rdap-registry"
		c.Overrides = map[string]string{"example": srv.URL}
	})
	var apiErr *registrar.APIError
	require.ErrorAs(t, readErr(t.Context(), t, c, testDomain), &apiErr)
	require.Equal(t, "rdap-registry", apiErr.Registrar)
}

func TestReadStatusRequest(t *testing.T) {
	t.Parallel()

	var got atomic.Pointer[http.Request]
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r)
		_, _ = w.Write([]byte(`{"objectClassName":"domain","ldhName":"regsync-example.example","status":["active"]}`))
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.Client(), func(c *rdap.Config) {
		c.Overrides = map[string]string{"example": srv.URL + "/rdap/v1"}
	})

	// The name is sent in lower case without a trailing dot.
	r, err := c.ReadStatus(t.Context(), registrar.Domain{ID: "dom_1", Name: "Regsync-Example.EXAMPLE."})
	require.NoError(t, err)
	require.Equal(t, registrar.StatusActive, r.Status)
	require.Empty(t, r.RequestID, "the server sent no request id")

	req := got.Load()
	require.Equal(t, http.MethodGet, req.Method)
	require.Equal(t, "/rdap/v1/domain/regsync-example.example", req.URL.Path)
	require.Empty(t, req.URL.RawQuery)
	require.Equal(t, "application/rdap+json, application/json;q=0.9", req.Header.Get("Accept"))
	require.Equal(t, rdap.DefaultConfig().UserAgent, req.Header.Get("User-Agent"))
	require.Empty(t, req.Header.Get("Authorization"))
}

func TestReadStatusInvalidName(t *testing.T) {
	t.Parallel()

	var requests atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.Client(), func(c *rdap.Config) {
		c.Overrides = map[string]string{"example": srv.URL}
	})
	for _, name := range []string{
		"", ".", "a..example", "bücher.example", "a_b.example", "a/b.example", "a b.example",
		"a?.example", strings.Repeat("a", 64) + ".example", strings.Repeat("a.", 127) + "example",
	} {
		err := readErr(t.Context(), t, c, registrar.Domain{ID: "dom_1", Name: name})
		require.ErrorIs(t, err, registrar.ErrInvalidRequest, name)
		require.True(t, registrar.IsPermanent(err), name)
	}
	require.Zero(t, requests.Load(), "no request for an invalid name")
}

func TestReadStatusNoServer(t *testing.T) {
	t.Parallel()

	c := newClient(t, nil, nil)
	for _, name := range []string{"regsync-example.example", "regsync-example.kg"} {
		err := readErr(t.Context(), t, c, registrar.Domain{ID: "dom_1", Name: name})
		require.ErrorIs(t, err, rdap.ErrNoServer, name)
		require.ErrorIs(t, err, registrar.ErrInvalidRequest, name)
		require.Contains(t, err.Error(), name)
	}
}

func TestErrorAnswers(t *testing.T) {
	t.Parallel()

	rdapErr := `{"errorCode": %d, "title": "Title", "description": ["First line.", "Second line."]}`
	for _, tt := range []struct {
		status    int
		body      string
		headers   map[string]string
		sentinel  error
		permanent bool
		code      string
		detail    string
		wait      time.Duration
	}{
		{status: 404, body: `{"errorCode": 404, "title": "Not Found", "description": ["Domain not found."]}`, sentinel: registrar.ErrNotFound, permanent: true, code: "404", detail: "Not Found: Domain not found."},
		{status: 404, body: ``, sentinel: registrar.ErrNotFound, permanent: true},
		{status: 404, body: `<html><body>404 Not Found</body></html>`, sentinel: registrar.ErrNotFound, permanent: true},
		{status: 400, body: rdapErr, sentinel: registrar.ErrInvalidRequest, permanent: true, code: "400", detail: "Title: First line. Second line."},
		{status: 401, body: rdapErr, sentinel: registrar.ErrUnauthorized, code: "401"},
		{status: 403, body: rdapErr, sentinel: registrar.ErrForbidden, permanent: true, code: "403"},
		{status: 418, body: "", sentinel: registrar.ErrInvalidRequest, permanent: true},
		{status: 422, body: rdapErr, sentinel: registrar.ErrInvalidRequest, permanent: true, code: "422"},
		{status: 429, body: rdapErr, headers: map[string]string{"Retry-After": "30"}, sentinel: registrar.ErrRateLimited, code: "429", wait: 30 * time.Second},
		{status: 429, body: ``, sentinel: registrar.ErrRateLimited},
		{status: 500, body: rdapErr, sentinel: registrar.ErrUnavailable, code: "500"},
		{status: 502, body: `<html>Bad Gateway</html>`, sentinel: registrar.ErrUnavailable},
		{status: 503, body: rdapErr, headers: map[string]string{"Retry-After": "120"}, sentinel: registrar.ErrUnavailable, code: "503"},
		{status: 504, body: ``, sentinel: registrar.ErrUnavailable},
		// A redirect without a Location cannot be followed.
		{status: 302, body: ``, sentinel: registrar.ErrBadResponse},
		{status: 304, body: ``, sentinel: registrar.ErrBadResponse},
	} {
		body := tt.body
		if strings.Contains(body, "%d") {
			body = fmt.Sprintf(body, tt.status)
		}
		headers := map[string]string{"X-Request-Id": "req-42"}
		for k, v := range tt.headers {
			headers[k] = v
		}
		c := serveBody(t, testDomain.Name, tt.status, []byte(body), headers, nil)
		err := readErr(t.Context(), t, c, testDomain)
		require.ErrorIs(t, err, tt.sentinel, "%d %s", tt.status, tt.body)
		require.Equal(t, tt.permanent, registrar.IsPermanent(err), "%d", tt.status)
		var apiErr *registrar.APIError
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, tt.status, apiErr.Status)
		require.Equal(t, "rdap", apiErr.Registrar)
		require.Equal(t, "req-42", apiErr.RequestID)
		require.Equal(t, tt.code, apiErr.Code, "%d %s", tt.status, tt.body)
		if tt.detail != "" {
			require.Equal(t, tt.detail, apiErr.Detail)
		}
		wait, ok := registrar.RetryAfter(err)
		require.Equal(t, tt.wait, wait, "%d", tt.status)
		require.Equal(t, tt.wait > 0, ok)
	}
}

// TestRFC9083Error reads the error example of RFC 9083 §6.
func TestRFC9083Error(t *testing.T) {
	t.Parallel()

	c := serveFile(t, testDomain.Name, http.StatusTeapot, "rfc9083_error.json", nil)
	var apiErr *registrar.APIError
	require.ErrorAs(t, readErr(t.Context(), t, c, testDomain), &apiErr)
	require.Equal(t, "418", apiErr.Code)
	require.Equal(t, "Your Beverage Choice is Not Available: I know coffee has more ummppphhh. Sorry, dude!", apiErr.Detail)
	require.Equal(t, `rdap: HTTP 418 418: Your Beverage Choice is Not Available: I know coffee has more ummppphhh. Sorry, dude!`, apiErr.Error())
}

func TestRateLimitedRetryAfterDate(t *testing.T) {
	t.Parallel()

	// An HTTP-date Retry-After is a wait relative to now: only its order
	// of magnitude is checked.
	at := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	c := serveBody(t, testDomain.Name, http.StatusTooManyRequests, nil, map[string]string{"Retry-After": at}, nil)
	err := readErr(t.Context(), t, c, testDomain)
	wait, ok := registrar.RetryAfter(err)
	require.True(t, ok)
	require.Greater(t, wait, 30*time.Minute)
	require.LessOrEqual(t, wait, time.Hour)
}

func TestSizeLimits(t *testing.T) {
	t.Parallel()

	small := func(c *rdap.Config) { c.MaxResponseBytes = 100 }
	ok := `{"objectClassName":"domain","ldhName":"regsync-example.example","status":["active"]}`
	exact := ok + strings.Repeat(" ", 100-len(ok))

	// An answer of exactly the limit is read.
	r, err := serveBody(t, testDomain.Name, http.StatusOK, []byte(exact), nil, small).ReadStatus(t.Context(), testDomain)
	require.NoError(t, err)
	require.Equal(t, "active", r.Raw)

	// One byte more is refused, on success and error answers alike.
	err = readErr(t.Context(), t, serveBody(t, testDomain.Name, http.StatusOK, []byte(exact+" "), nil, small), testDomain)
	require.ErrorIs(t, err, registrar.ErrBadResponse)
	require.ErrorContains(t, err, "exceeds 100 bytes")

	big := `{"errorCode": 404, "title": "` + strings.Repeat("x", 200) + `"}`
	err = readErr(t.Context(), t, serveBody(t, testDomain.Name, http.StatusNotFound, []byte(big), nil, small), testDomain)
	require.ErrorIs(t, err, registrar.ErrNotFound)
	var apiErr *registrar.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Empty(t, apiErr.Code, "an oversized error body is not read")

	// A long error description is cut in the error, on a rune boundary.
	long := `{"errorCode": 500, "title": "T", "description": ["` + strings.Repeat("é", 1000) + `"]}`
	err = readErr(t.Context(), t, serveBody(t, testDomain.Name, http.StatusInternalServerError, []byte(long), nil, nil), testDomain)
	require.ErrorAs(t, err, &apiErr)
	require.LessOrEqual(t, len(apiErr.Detail), 512+len("…"))
	require.True(t, strings.HasSuffix(apiErr.Detail, "é…"))
}

func TestTimeout(t *testing.T) {
	t.Parallel()

	release := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() {
		close(release)
		srv.Close()
	})

	// The configured timeout ends the read.
	c := newClient(t, srv.Client(), func(c *rdap.Config) {
		c.Timeout = 50 * time.Millisecond
		c.Overrides = map[string]string{"example": srv.URL}
	})
	err := readErr(t.Context(), t, c, testDomain)
	require.ErrorIs(t, err, registrar.ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.False(t, registrar.IsPermanent(err))

	// So does the caller's context.
	c = newClient(t, srv.Client(), func(c *rdap.Config) {
		c.Overrides = map[string]string{"example": srv.URL}
	})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err = readErr(ctx, t, c, testDomain)
	require.ErrorIs(t, err, registrar.ErrUnavailable)
	require.ErrorIs(t, err, context.Canceled)
}

func TestUnreachable(t *testing.T) {
	t.Parallel()

	srv := httptest.NewTLSServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c := newClient(t, nil, func(c *rdap.Config) { c.Overrides = map[string]string{"example": url} })
	err := readErr(t.Context(), t, c, testDomain)
	require.ErrorIs(t, err, registrar.ErrUnavailable)
	require.False(t, registrar.IsPermanent(err))
}

func TestRedirects(t *testing.T) {
	t.Parallel()

	srv := rdaptest.NewServer(t, backendWith(t, testDomain))
	for _, tt := range []struct {
		base     string
		err      string // "" for success
		requests int    // the server sees
	}{
		{base: "hops/1/", requests: 2},
		{base: "hops/3/", requests: 4},
		{base: "hops/4/", err: "more than 3 redirects", requests: 4},
		{base: "loop/", err: "more than 3 redirects", requests: 4},
		{base: "insecure/", err: "which is not https", requests: 1},
	} {
		t.Run(tt.base, func(t *testing.T) {
			before := srv.Requests()
			c := newClient(t, srv.Client(), func(c *rdap.Config) {
				c.Overrides = map[string]string{"example": srv.BaseURL() + tt.base}
			})
			r, err := c.ReadStatus(t.Context(), testDomain)
			require.Equal(t, tt.requests, srv.Requests()-before)
			if tt.err == "" {
				require.NoError(t, err)
				require.Equal(t, "active", r.Raw)
				require.NotEmpty(t, r.RequestID)
				return
			}
			require.ErrorIs(t, err, registrar.ErrBadResponse)
			require.ErrorContains(t, err, tt.err)
			require.False(t, registrar.IsPermanent(err))
			require.True(t, strings.HasPrefix(err.Error(), "rdap: "))
		})
	}
}

// TestRedirectsWithCallersClient checks that the caller's HTTP client keeps
// its own redirect policy: the adapter uses a copy.
func TestRedirectsWithCallersClient(t *testing.T) {
	t.Parallel()

	srv := rdaptest.NewServer(t, backendWith(t, testDomain))
	hc := srv.Client()
	called := false
	hc.CheckRedirect = func(*http.Request, []*http.Request) error {
		called = true
		return nil
	}
	c := newClient(t, hc, func(c *rdap.Config) {
		c.Overrides = map[string]string{"example": srv.BaseURL() + "insecure/"}
	})
	err := readErr(t.Context(), t, c, testDomain)
	require.ErrorContains(t, err, "which is not https")
	require.False(t, called)
}

func TestLockedDomain(t *testing.T) {
	t.Parallel()

	backend, err := sim.New(sim.DefaultConfig())
	require.NoError(t, err)
	require.NoError(t, backend.Script(testDomain.ID, testDomain.Name, []string{"active", "suspended"}, false))
	srv := rdaptest.NewServer(t, backend)
	srv.Lock(testDomain.Name)
	c := newClient(t, srv.Client(), func(c *rdap.Config) { c.Overrides = map[string]string{"example": srv.URL} })

	r, err := c.ReadStatus(t.Context(), testDomain)
	require.NoError(t, err)
	require.Equal(t, "client delete prohibited, client transfer prohibited, client update prohibited", r.Raw)
	require.Equal(t, registrar.StatusActive, r.Status)

	r, err = c.ReadStatus(t.Context(), testDomain)
	require.NoError(t, err)
	require.Equal(t, "client hold, client delete prohibited, client transfer prohibited, client update prohibited", r.Raw)
	require.Equal(t, registrar.StatusSuspended, r.Status)
}
