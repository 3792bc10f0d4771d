package sim_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/registrar"
)

// transferKeys are the keys of a transfer status answer, in order.
var transferKeys = []string{"domainName", "statusCode", "status", "canBeReset"}

func transferURL(srv *httptest.Server, account, domain string) string {
	return srv.URL + "/accounts/" + account + "/domains/transfers/" + domain
}

func TestHandlerResetTransferWireFormat(t *testing.T) {
	t.Parallel()

	s, srv := newServer(t)
	require.NoError(t, s.ScriptTransfer(transfer1, "", []string{"202", "204", "409", "!429:3s", "418", "500"}, nil))
	tests := []struct {
		status     int
		retryAfter string
	}{
		{202, ""}, {204, ""}, {409, ""}, {429, "3"}, {418, ""}, {500, ""},
	}
	for i, tt := range tests {
		resp, body := do(t, http.MethodPut, transferURL(srv, "acct1", "example.com"), testToken, `{"authInfo":"mySecret"}`)
		require.Equal(t, tt.status, resp.StatusCode)
		require.Empty(t, body, "resets answer no body")
		require.Equal(t, tt.retryAfter, resp.Header.Get("Retry-After"))
		require.Regexp(t, `^sim_\d+$`, resp.Header.Get("X-Request-Id"), "answer %d", i)
	}
	require.Equal(t, len(tests), s.TransferResets(transfer1))
	got, ok := s.TransferAuthInfo(transfer1)
	require.True(t, ok)
	require.Equal(t, "mySecret", got)
}

func TestHandlerResetTransferBody(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		body     string
		accepted bool
		authInfo string // what the registrar keeps after the reset, "" for nothing
	}{
		{"absent", "", true, ""},
		{"blank", " \n", true, ""},
		{"empty object", "{}", true, ""},
		{"null authInfo", `{"authInfo":null}`, true, ""},
		{"authInfo", `{"authInfo":"mySecret"}`, true, "mySecret"},
		{"other members ignored", `{"authInfo":"mySecret","note":1}`, true, "mySecret"},
		{"empty authInfo", `{"authInfo":""}`, false, ""},
		{"short authInfo", `{"authInfo":"abc12"}`, false, ""},
		{"long authInfo", `{"authInfo":"0123456789abcdefg"}`, false, ""},
		{"authInfo number", `{"authInfo":123456}`, false, ""},
		{"array", `[]`, false, ""},
		{"null", `null`, false, ""},
		{"truncated", `{"authInfo":`, false, ""},
		{"trailing data", `{}{}`, false, ""},
		{"too large", `{"authInfo":"mySecret","x":"` + strings.Repeat("x", 2<<10) + `"}`, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			s, srv := newServer(t)
			require.NoError(t, s.ScriptTransfer(transfer1, "", []string{"202"}, nil))
			resp, body := do(t, http.MethodPut, transferURL(srv, "acct1", "example.com"), testToken, tt.body)
			require.Empty(t, body)
			if tt.accepted {
				require.Equal(t, http.StatusAccepted, resp.StatusCode)
			} else {
				require.Equal(t, "404 Bad Request", resp.Status)
			}
			got, _ := s.TransferAuthInfo(transfer1)
			require.Equal(t, tt.authInfo, got)
		})
	}
}

// TestHandler404BadRequestStatusLine checks the exact bytes of the status
// line the seed documents for invalid requests.
func TestHandler404BadRequestStatusLine(t *testing.T) {
	t.Parallel()

	s, srv := newServer(t)
	require.NoError(t, s.ScriptTransfer(transfer1, "", []string{"404bad"}, nil))
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "PUT /accounts/acct1/domains/transfers/example.com HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+testToken+"\r\nContent-Length: 0\r\n\r\n")
	require.NoError(t, err)
	line, err := bufio.NewReader(conn).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "HTTP/1.1 404 Bad Request\r\n", line)
}

func TestHandlerTransferAnswersBeforeTheScript(t *testing.T) {
	t.Parallel()

	s, srv := newServer(t)
	require.NoError(t, s.ScriptTransfer(transfer1, "", []string{"202"}, []string{"blocked:resettable"}))
	for _, method := range []string{http.MethodPut, http.MethodGet} {
		resp, _ := do(t, method, transferURL(srv, "acct2", "example.com"), testToken, "")
		require.Equal(t, "403 Forbidden", resp.Status, method)
		resp, _ = do(t, method, transferURL(srv, "acct1", "nowhere.example"), testToken, "")
		require.Equal(t, "404 Not Found", resp.Status, method)
		resp, _ = do(t, method, transferURL(srv, "acct1", "example.com"), "wrong", "")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, method)
	}
	require.Equal(t, 1, s.TransferResets(transfer1), "only the other account's reset reached the transfer")
}

func TestHandlerTransferStatusWireFormat(t *testing.T) {
	t.Parallel()

	s, srv := newServer(t)
	require.NoError(t, s.ScriptTransfer(transfer1, "", nil, []string{"blocked:resettable", "completed", "404bad"}))
	tests := []struct {
		want  map[string]any
		state registrar.TransferState
	}{
		{map[string]any{"domainName": "example.com", "statusCode": float64(4), "status": "Blocked by the domain's status at the registry", "canBeReset": true}, registrar.TransferBlocked},
		{map[string]any{"domainName": "example.com", "statusCode": float64(9), "status": "Transfer completed", "canBeReset": false}, registrar.TransferCompleted},
	}
	for _, tt := range tests {
		resp, body := do(t, http.MethodGet, transferURL(srv, "acct1", "example.com"), testToken, "")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		require.NotEmpty(t, resp.Header.Get("X-Request-Id"))
		require.Equal(t, transferKeys, objectKeys(t, body))
		var got map[string]any
		require.NoError(t, json.Unmarshal(body, &got))
		require.Equal(t, tt.want, got)
		require.Equal(t, tt.state, registrar.MapEnomTransfer(int(got["statusCode"].(float64))))
	}
	resp, body := do(t, http.MethodGet, transferURL(srv, "acct1", "example.com"), testToken, "")
	require.Equal(t, "404 Bad Request", resp.Status)
	require.Empty(t, body)
}

func TestHandlerTransferControl(t *testing.T) {
	t.Parallel()

	s, srv := newServer(t)
	url := srv.URL + "/sim/transfers/acct2/example.com"
	resp, _ := do(t, http.MethodPut, url, testToken, `{"owner":"acct1","resets":["409","202"],"statuses":["blocked:resettable","pending"]}`)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)

	for _, want := range []int{409, 202, 202} {
		resp, _ := do(t, http.MethodPut, transferURL(srv, "acct1", "example.com"), testToken, "")
		require.Equal(t, want, resp.StatusCode)
	}
	resp, _ = do(t, http.MethodPut, transferURL(srv, "acct2", "example.com"), testToken, "")
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "the transfer belongs to the owner")
	require.Equal(t, 4, s.TransferResets(transfer1))

	for _, body := range []string{"", "{", `{"resets":["202"],"extra":1}`, `{"resets":["!teapot"]}`, `{"statuses":["202"]}`} {
		resp, b := do(t, http.MethodPut, url, testToken, body)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "body %q", body)
		require.Equal(t, "invalid_request", decodeProblem(t, resp, b)["code"])
	}
	resp, b := do(t, http.MethodPut, url, testToken, `{"resets":["!teapot"]}`)
	require.Contains(t, decodeProblem(t, resp, b)["detail"], `unknown entry "!teapot"`)
}
