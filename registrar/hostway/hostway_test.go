package hostway_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/hostway"
)

// testToken and testAuthInfo are distinctive so that a test can tell they
// never leak.
const (
	testToken    = "hw_s3cr3t-t0ken-value"
	testAuthInfo = "Xq7#authSecret"
)

// testTransfer is the transfer of the recorded answers in testdata/.
var testTransfer = registrar.Transfer{Account: "acct12345", DomainName: "example.com"}

func newClient(t *testing.T, baseURL string, mutate func(*hostway.Config)) *hostway.Client {
	t.Helper()
	cfg := hostway.DefaultConfig()
	cfg.BaseURL = baseURL
	cfg.Token = testToken
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := hostway.New(cfg)
	require.NoError(t, err)
	return c
}

// serve starts a server answering every request with handler and returns a
// client for it.
func serve(t *testing.T, handler http.HandlerFunc, mutate func(*hostway.Config)) *hostway.Client {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return newClient(t, srv.URL, mutate)
}

// answerWith returns a handler answering status with the given headers and
// body.
func answerWith(status int, headers map[string]string, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for k, v := range headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// serveRecorded starts a server that answers every request with the
// recorded HTTP response in testdata/file, status line included, so that a
// reason phrase such as "404 Bad Request" reaches the client as recorded. It
// returns a client for it.
func serveRecorded(t *testing.T, file string) *hostway.Client {
	t.Helper()
	recorded, err := os.ReadFile(filepath.Join("testdata", file))
	require.NoError(t, err)
	head, body, _ := bytes.Cut(recorded, []byte("\n\n"))
	response := append(bytes.ReplaceAll(head, []byte("\n"), []byte("\r\n")), "\r\n\r\n"...)
	return serveRaw(t, string(append(response, body...)))
}

// serveRaw starts a server that writes response, a raw HTTP response, for
// every request on a connection, and returns a client for it.
func serveRaw(t *testing.T, response string) *hostway.Client {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				br := bufio.NewReader(conn)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					if _, err := io.WriteString(conn, response); err != nil {
						return
					}
				}
			}()
		}
	}()
	return newClient(t, "http://"+ln.Addr().String(), nil)
}

// hang never answers. It reads the body first: the server notices that the
// client went away only once the body is read.
func hang(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	<-r.Context().Done()
}

// checkErr checks what every error of the adapter must satisfy: the prefix,
// and neither the token nor the authInfo anywhere in it.
func checkErr(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	require.True(t, strings.HasPrefix(err.Error(), "hostway: "), err.Error())
	require.NotContains(t, err.Error(), testToken)
	require.NotContains(t, err.Error(), testAuthInfo)
	var apiErr *registrar.APIError
	if errors.As(err, &apiErr) {
		require.NotContains(t, apiErr.Detail+apiErr.Code+apiErr.RequestID, testAuthInfo)
	}
}

// resetErr resets testTransfer with testAuthInfo expecting an error.
func resetErr(ctx context.Context, t *testing.T, c *hostway.Client) error {
	t.Helper()
	_, err := c.ResetTransfer(ctx, testTransfer, testAuthInfo)
	checkErr(t, err)
	return err
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()

	valid := hostway.DefaultConfig()
	valid.BaseURL = "https://api.hostway.example"
	valid.Token = testToken
	require.NoError(t, valid.Validate())
	require.Equal(t, 10*time.Second, valid.Timeout)
	require.Equal(t, int64(64<<10), valid.MaxResponseBytes)

	tests := []struct {
		name   string
		mutate func(*hostway.Config)
	}{
		{"empty base url", func(c *hostway.Config) { c.BaseURL = "" }},
		{"relative base url", func(c *hostway.Config) { c.BaseURL = "/api" }},
		{"ftp base url", func(c *hostway.Config) { c.BaseURL = "ftp://api.hostway.example" }},
		{"no host", func(c *hostway.Config) { c.BaseURL = "https://" }},
		{"empty token", func(c *hostway.Config) { c.Token = "" }},
		{"token with space", func(c *hostway.Config) { c.Token = "a b" }},
		{"token with newline", func(c *hostway.Config) { c.Token = "a\nb" }},
		{"zero timeout", func(c *hostway.Config) { c.Timeout = 0 }},
		{"zero max bytes", func(c *hostway.Config) { c.MaxResponseBytes = 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			cfg := valid
			tt.mutate(&cfg)
			err := cfg.Validate()
			require.Error(t, err)
			require.True(t, strings.HasPrefix(err.Error(), "hostway: "), err.Error())
			require.NotContains(t, err.Error(), testToken)
			_, err = hostway.New(cfg)
			require.Error(t, err)
		})
	}
}

func TestName(t *testing.T) {
	t.Parallel()

	require.Equal(t, "hostway", newClient(t, "https://api.hostway.example", nil).Name())
}

func TestResetTransferRequest(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		authInfo string
		wantBody string
	}{
		{"no authInfo reuses the registrar's", "", `{}`},
		{"new authInfo", testAuthInfo, `{"authInfo":"Xq7#authSecret"}`},
		{"authInfo needing escapes", `a"b\<c>&é`, `{"authInfo":"a\"b\\<c>&é"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			var got *http.Request
			var body []byte
			c := serve(t, func(w http.ResponseWriter, r *http.Request) {
				got = r
				body, _ = io.ReadAll(r.Body)
				w.WriteHeader(http.StatusAccepted)
			}, nil)
			_, err := c.ResetTransfer(context.Background(), registrar.Transfer{Account: "acct 1/2", DomainName: "xn--bcher-kva.example"}, tt.authInfo)
			require.NoError(t, err)
			require.Equal(t, http.MethodPut, got.Method)
			require.Equal(t, "/accounts/acct%201%2F2/domains/transfers/xn--bcher-kva.example", got.URL.EscapedPath())
			require.Empty(t, got.URL.RawQuery)
			require.Equal(t, "Bearer "+testToken, got.Header.Get("Authorization"))
			require.Equal(t, "application/json", got.Header.Get("Content-Type"))
			require.Equal(t, "application/json", got.Header.Get("Accept"))
			require.JSONEq(t, tt.wantBody, string(body))
			var decoded map[string]string
			require.NoError(t, json.Unmarshal(body, &decoded))
			if tt.authInfo != "" {
				require.Equal(t, map[string]string{"authInfo": tt.authInfo}, decoded)
				require.NotContains(t, got.URL.String(), tt.authInfo)
			}
		})
	}

	t.Run("base url path kept", func(t *testing.T) {
		t.Parallel()

		var path string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			path = r.URL.Path
			w.WriteHeader(http.StatusAccepted)
		}))
		t.Cleanup(srv.Close)
		_, err := newClient(t, srv.URL+"/api/", nil).ResetTransfer(context.Background(), testTransfer, "")
		require.NoError(t, err)
		require.Equal(t, "/api/accounts/acct12345/domains/transfers/example.com", path)
	})
}

func TestResetTransferRejectedBeforeSending(t *testing.T) {
	t.Parallel()

	var hits atomic.Int32
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}, nil)

	tests := []struct {
		name     string
		transfer registrar.Transfer
		authInfo string
	}{
		{"no account", registrar.Transfer{DomainName: "example.com"}, ""},
		{"no domain name", registrar.Transfer{Account: "acct12345"}, testAuthInfo},
		{"authInfo not UTF-8", testTransfer, testAuthInfo + "\xff"},
	}
	for _, tt := range tests {
		_, err := c.ResetTransfer(context.Background(), tt.transfer, tt.authInfo)
		checkErr(t, err)
		require.ErrorIs(t, err, registrar.ErrInvalidRequest, tt.name)
		require.True(t, registrar.IsPermanent(err), tt.name)
	}
	_, err := c.ReadTransferStatus(context.Background(), registrar.Transfer{DomainName: "example.com"})
	checkErr(t, err)
	require.ErrorIs(t, err, registrar.ErrInvalidRequest)
	require.Zero(t, hits.Load(), "nothing was sent")
}

// TestResetTransferDocumentedAnswers replays the answers of Hostway's API
// page, status lines as documented.
func TestResetTransferDocumentedAnswers(t *testing.T) {
	t.Parallel()

	tests := []struct {
		file      string
		want      registrar.ResetResult
		sentinel  error
		permanent bool
		apiErr    registrar.APIError
	}{
		{file: "reset_202.http", want: registrar.ResetResult{Status: 202, RequestID: "req_hw_202"}},
		{file: "reset_204.http", want: registrar.ResetResult{Status: 204, RequestID: "req_hw_204"}},
		{
			file: "reset_400.http", sentinel: registrar.ErrInvalidRequest, permanent: true,
			apiErr: registrar.APIError{Status: 400, Code: "bad_request", RequestID: "req_hw_400"},
		},
		{
			file: "reset_404_bad_request.http", sentinel: registrar.ErrInvalidRequest, permanent: true,
			apiErr: registrar.APIError{Status: 400, Code: "bad_request", Detail: `answered "404 Bad Request"`, RequestID: "req_hw_404b"},
		},
		{
			file: "reset_404_not_found.http", sentinel: registrar.ErrNotFound, permanent: true,
			apiErr: registrar.APIError{Status: 404, Code: "not_found", RequestID: "req_hw_404"},
		},
		{
			file: "reset_403.http", sentinel: registrar.ErrForbidden, permanent: true,
			apiErr: registrar.APIError{Status: 403, Code: "forbidden", RequestID: "req_hw_403"},
		},
		{
			file: "reset_409.http", sentinel: registrar.ErrConflict, permanent: false,
			apiErr: registrar.APIError{Status: 409, Code: "conflict", RequestID: "req_hw_409"},
		},
		{
			file: "reset_500.http", sentinel: registrar.ErrUnavailable, permanent: false,
			apiErr: registrar.APIError{Status: 500, Code: "server_error", RequestID: "req_hw_500"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()

			c := serveRecorded(t, tt.file)
			if tt.sentinel == nil {
				for _, authInfo := range []string{"", testAuthInfo} {
					got, err := c.ResetTransfer(context.Background(), testTransfer, authInfo)
					require.NoError(t, err)
					require.Equal(t, tt.want, got)
				}
				return
			}
			err := resetErr(context.Background(), t, c)
			require.ErrorIs(t, err, tt.sentinel)
			require.Equal(t, tt.permanent, registrar.IsPermanent(err))
			var apiErr *registrar.APIError
			require.ErrorAs(t, err, &apiErr)
			tt.apiErr.Registrar = "hostway"
			require.Equal(t, &tt.apiErr, apiErr)
		})
	}
}

func TestResetTransferSuccessCodes(t *testing.T) {
	t.Parallel()

	for _, status := range []int{200, 201, 202, 204, 299} {
		c := serve(t, answerWith(status, map[string]string{"X-Request-Id": "req_ok"}, ""), nil)
		got, err := c.ResetTransfer(context.Background(), testTransfer, testAuthInfo)
		require.NoError(t, err, "status %d", status)
		require.Equal(t, registrar.ResetResult{Status: status, RequestID: "req_ok"}, got)
	}
}

// TestResetTransferUnexpectedAnswers checks that answers the API page does
// not document are transient failures, never successes or permanent ones.
func TestResetTransferUnexpectedAnswers(t *testing.T) {
	t.Parallel()

	var followed atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		followed.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(target.Close)

	tests := []struct {
		name    string
		handler http.HandlerFunc
		status  string
	}{
		{"302 redirect", answerWith(http.StatusFound, map[string]string{"Location": target.URL + "/elsewhere"}, ""), `"302 Found"`},
		{"307 redirect", answerWith(http.StatusTemporaryRedirect, map[string]string{"Location": target.URL + "/elsewhere"}, ""), `"307 Temporary Redirect"`},
		{"304 not modified", answerWith(http.StatusNotModified, nil, ""), `"304 Not Modified"`},
		{"418 teapot", answerWith(http.StatusTeapot, nil, ""), `"418 I'm a teapot"`},
		{"410 gone", answerWith(http.StatusGone, nil, `{"detail":"gone"}`), `"410 Gone"`},
		{"422 echoing the authInfo", answerWith(http.StatusUnprocessableEntity, nil, `{"message":"`+testAuthInfo+`"}`), `"422 Unprocessable Entity"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			c := serve(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Request-Id", "req_odd")
				tt.handler(w, r)
			}, nil)
			err := resetErr(context.Background(), t, c)
			require.ErrorIs(t, err, registrar.ErrBadResponse)
			require.NotErrorIs(t, err, registrar.ErrInvalidRequest)
			require.False(t, registrar.IsPermanent(err))
			require.ErrorContains(t, err, "unexpected status "+tt.status+" (request req_odd)")
			var apiErr *registrar.APIError
			require.NotErrorAs(t, err, &apiErr, "not one of the documented answers")
		})
	}
	require.Zero(t, followed.Load(), "redirects are not followed")
}

func TestResetTransferRateLimited(t *testing.T) {
	t.Parallel()

	retryAfter := func(header string) time.Duration {
		c := serve(t, answerWith(http.StatusTooManyRequests, map[string]string{"Retry-After": header}, ""), nil)
		err := resetErr(context.Background(), t, c)
		require.ErrorIs(t, err, registrar.ErrRateLimited)
		require.False(t, registrar.IsPermanent(err))
		var apiErr *registrar.APIError
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, "rate_limited", apiErr.Code)
		return apiErr.RetryAfter
	}

	require.Equal(t, 30*time.Second, retryAfter("30"))
	require.Equal(t, time.Duration(0), retryAfter(""))
	require.Equal(t, time.Duration(0), retryAfter("soon"))
	require.Equal(t, time.Duration(0), retryAfter("-5"))
	require.InDelta(t, 2*time.Minute, retryAfter(time.Now().Add(2*time.Minute).UTC().Format(http.TimeFormat)), float64(5*time.Second))
}

// TestResetTransferBodies checks that a body Hostway does not document is
// only ever used for an error's explanation, with secrets blanked out.
func TestResetTransferBodies(t *testing.T) {
	t.Parallel()

	huge := strings.Repeat("x", 128<<10)
	tests := []struct {
		name       string
		status     int
		body       string
		wantDetail string
	}{
		{"detail", 409, `{"detail":"Awaiting response from losing registrar."}`, "Awaiting response from losing registrar."},
		{"message", 409, `{"message":"Not resettable."}`, "Not resettable."},
		{"title", 500, `{"title":"Internal Server Error"}`, "Internal Server Error"},
		{"authInfo echoed", 400, `{"detail":"authInfo ` + testAuthInfo + ` is too short"}`, "authInfo [redacted] is too short"},
		{"token echoed", 401, `{"detail":"token ` + testToken + ` refused"}`, "token [redacted] refused"},
		{"not JSON", 500, `<html>error</html>`, ""},
		{"JSON array", 500, `[1,2]`, ""},
		{"oversize", 500, `{"detail":"` + huge + `"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			c := serve(t, answerWith(tt.status, map[string]string{"Content-Type": "application/json"}, tt.body), nil)
			err := resetErr(context.Background(), t, c)
			var apiErr *registrar.APIError
			require.ErrorAs(t, err, &apiErr)
			require.Equal(t, tt.wantDetail, apiErr.Detail)
		})
	}

	t.Run("404 Bad Request with a detail", func(t *testing.T) {
		t.Parallel()

		body := `{"message":"authInfo is invalid."}`
		c := serveRaw(t, "HTTP/1.1 404 Bad Request\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
		err := resetErr(context.Background(), t, c)
		var apiErr *registrar.APIError
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, `answered "404 Bad Request": authInfo is invalid.`, apiErr.Detail)
		require.Equal(t, 400, apiErr.Status)
	})

	t.Run("2xx with a body", func(t *testing.T) {
		t.Parallel()

		for _, body := range []string{`{"ok":true}`, "not json", huge} {
			c := serve(t, answerWith(http.StatusAccepted, nil, body), nil)
			got, err := c.ResetTransfer(context.Background(), testTransfer, testAuthInfo)
			require.NoError(t, err)
			require.Equal(t, 202, got.Status)
		}
	})
}

func TestResetTransferTimeout(t *testing.T) {
	t.Parallel()

	srv := httptest.NewServer(http.HandlerFunc(hang))
	t.Cleanup(srv.Close)

	tests := []struct {
		name     string
		mutate   func(*hostway.Config)
		ctx      func() (context.Context, context.CancelFunc)
		sentinel error
	}{
		{
			name:     "config timeout",
			mutate:   func(c *hostway.Config) { c.Timeout = 50 * time.Millisecond },
			ctx:      func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
			sentinel: context.DeadlineExceeded,
		},
		{
			name: "context deadline",
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 50*time.Millisecond)
			},
			sentinel: context.DeadlineExceeded,
		},
		{
			name: "context canceled",
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return ctx, cancel
			},
			sentinel: context.Canceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			c := newClient(t, srv.URL, tt.mutate)
			ctx, cancel := tt.ctx()
			defer cancel()
			start := time.Now()
			err := resetErr(ctx, t, c)
			require.Less(t, time.Since(start), 5*time.Second)
			require.ErrorIs(t, err, registrar.ErrUnavailable)
			require.ErrorIs(t, err, tt.sentinel)
			require.False(t, registrar.IsPermanent(err))
		})
	}
}

func TestResetTransferConnectionRefused(t *testing.T) {
	t.Parallel()

	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	err := resetErr(context.Background(), t, newClient(t, srv.URL, nil))
	require.ErrorIs(t, err, registrar.ErrUnavailable)
	require.False(t, registrar.IsPermanent(err))
}

func TestReadTransferStatus(t *testing.T) {
	t.Parallel()

	recorded, err := os.ReadFile(filepath.Join("testdata", "transfer_status_200.json"))
	require.NoError(t, err)
	var got *http.Request
	var body []byte
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		got = r
		body, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", "req_st")
		_, _ = w.Write(recorded)
	}, nil)

	st, err := c.ReadTransferStatus(context.Background(), testTransfer)
	require.NoError(t, err)
	require.Equal(t, registrar.TransferStatus{
		Code:        3,
		Description: "Awaiting response from losing registrar",
		State:       registrar.TransferPending,
		CanBeReset:  false,
		RequestID:   "req_st",
	}, st)
	require.Equal(t, http.MethodGet, got.Method)
	require.Equal(t, "/accounts/acct12345/domains/transfers/example.com", got.URL.EscapedPath())
	require.Equal(t, "Bearer "+testToken, got.Header.Get("Authorization"))
	require.Equal(t, "application/json", got.Header.Get("Accept"))
	require.Empty(t, body)
}

func TestReadTransferStatusMapsCodes(t *testing.T) {
	t.Parallel()

	tests := []struct {
		body string
		want registrar.TransferStatus
	}{
		{
			`{"domainName":"example.com","statusCode":6,"status":"Domain registered less than 60 days ago","canBeReset":true}`,
			registrar.TransferStatus{Code: 6, Description: "Domain registered less than 60 days ago", State: registrar.TransferBlocked, CanBeReset: true},
		},
		{
			`{"domainName":"EXAMPLE.com","statusCode":9,"status":"Completed","canBeReset":false,"history":[{"statusCode":3}]}`,
			registrar.TransferStatus{Code: 9, Description: "Completed", State: registrar.TransferCompleted},
		},
		{
			`{"domainName":"example.com","statusCode":10,"canBeReset":false}`,
			registrar.TransferStatus{Code: 10, State: registrar.TransferCancelled},
		},
		{
			`{"domainName":"example.com","statusCode":42,"status":"Something new","canBeReset":false}`,
			registrar.TransferStatus{Code: 42, Description: "Something new", State: registrar.TransferUnknown},
		},
	}
	for _, tt := range tests {
		c := serve(t, answerWith(http.StatusOK, nil, tt.body), nil)
		got, err := c.ReadTransferStatus(context.Background(), testTransfer)
		require.NoError(t, err, tt.body)
		require.Equal(t, tt.want, got)
	}
}

func TestReadTransferStatusBadAnswers(t *testing.T) {
	t.Parallel()

	recorded, err := os.ReadFile(filepath.Join("testdata", "transfer_status_200.json"))
	require.NoError(t, err)
	seed := string(recorded)

	tests := []struct {
		name   string
		status int
		body   string
	}{
		{"empty", 200, ""},
		{"204 without a body", 204, ""},
		{"html", 200, "<html>ok</html>"},
		{"truncated", 200, seed[:len(seed)/2]},
		{"trailing data", 200, seed + "{}"},
		{"array", 200, "[]"},
		{"other domain", 200, strings.Replace(seed, `"example.com"`, `"example.net"`, 1)},
		{"statusCode missing", 200, strings.Replace(seed, `"statusCode": 3,`, ``, 1)},
		{"statusCode null", 200, strings.Replace(seed, `"statusCode": 3`, `"statusCode": null`, 1)},
		{"statusCode string", 200, strings.Replace(seed, `"statusCode": 3`, `"statusCode": "3"`, 1)},
		{"canBeReset missing", 200, strings.Replace(seed, `,
  "canBeReset": false`, ``, 1)},
		{"oversize", 200, strings.Replace(seed, `"Awaiting`, `"`+strings.Repeat("x", 64<<10)+`Awaiting`, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			c := serve(t, answerWith(tt.status, nil, tt.body), nil)
			_, err := c.ReadTransferStatus(context.Background(), testTransfer)
			checkErr(t, err)
			require.ErrorIs(t, err, registrar.ErrBadResponse)
			require.False(t, registrar.IsPermanent(err))
		})
	}
}

func TestReadTransferStatusErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		file     string
		sentinel error
		code     string
	}{
		{"reset_400.http", registrar.ErrInvalidRequest, "bad_request"},
		{"reset_404_bad_request.http", registrar.ErrInvalidRequest, "bad_request"},
		{"reset_404_not_found.http", registrar.ErrNotFound, "not_found"},
		{"reset_403.http", registrar.ErrForbidden, "forbidden"},
		{"reset_500.http", registrar.ErrUnavailable, "server_error"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()

			_, err := serveRecorded(t, tt.file).ReadTransferStatus(context.Background(), testTransfer)
			checkErr(t, err)
			require.ErrorIs(t, err, tt.sentinel)
			var apiErr *registrar.APIError
			require.ErrorAs(t, err, &apiErr)
			require.Equal(t, tt.code, apiErr.Code)
		})
	}

	t.Run("unexpected", func(t *testing.T) {
		t.Parallel()

		_, err := serve(t, answerWith(http.StatusFound, map[string]string{"Location": "/x"}, ""), nil).ReadTransferStatus(context.Background(), testTransfer)
		checkErr(t, err)
		require.ErrorIs(t, err, registrar.ErrBadResponse)
	})

	t.Run("timeout", func(t *testing.T) {
		t.Parallel()

		c := serve(t, hang, func(c *hostway.Config) { c.Timeout = 50 * time.Millisecond })
		_, err := c.ReadTransferStatus(context.Background(), testTransfer)
		checkErr(t, err)
		require.ErrorIs(t, err, registrar.ErrUnavailable)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
}
