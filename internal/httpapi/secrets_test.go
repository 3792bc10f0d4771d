package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/store"
)

// TestSecretsStayOutOfLogsAndMetrics makes requests with tokens, right and
// wrong, and authInfo values, valid and not, and checks that none of them
// appears in any log line, the workers' included, at debug level, or in the
// metrics; and that every log line of a request names its id.
func TestSecretsStayOutOfLogsAndMetrics(t *testing.T) {
	t.Parallel()
	logs := &lockedBuffer{}
	e := newEnv(t, options{logs: logs})
	e.addDomain("dom_logged", "logged-example.com", registrar.StatusActive, "active")
	e.addTransfer("trf_logged", "acct1", "logged-example.com", store.TransferWaitingAuthInfo)
	order := registrar.Transfer{Account: "acct1", DomainName: "logged-example.com"}
	require.NoError(t, e.sim.ScriptTransfer(order, "", []string{"202"}, []string{"blocked:resettable", "pending"}))
	e.startWorkers()

	secretOf := func(token string) string { return token[strings.LastIndexByte(token, '_')+1:] }
	idOf := func(token string) string { return strings.Split(token, "_")[1] }
	// The read key's id with the write key's secret.
	crossed := "rsk_" + idOf(e.readToken) + "_" + secretOf(e.writeToken)
	authInfos := []string{"Secret-Code-7", "Bad Secret 99", "Overlong-Secret-99", "Raw-Secret-5", "tiny5"}

	var requestIDs []string
	for _, c := range []struct {
		method, path, token, body string
		status                    int
	}{
		{http.MethodPost, syncPath("dom_logged"), e.readToken, "", http.StatusOK},
		{http.MethodPost, syncPath("dom_logged"), crossed, "", http.StatusUnauthorized},
		{http.MethodPost, syncPath("dom_logged"), e.readToken[:40], "", http.StatusUnauthorized},
		{http.MethodPut, transferPath("acct1", "logged-example.com"), e.writeToken, `{"authInfo": "Bad Secret 99"}`, http.StatusBadRequest},
		{http.MethodPut, transferPath("acct1", "logged-example.com"), e.writeToken, `{"authInfo": "Overlong-Secret-99"}`, http.StatusBadRequest},
		{http.MethodPut, transferPath("acct1", "logged-example.com"), e.writeToken, `{"authInfo": Raw-Secret-5}`, http.StatusBadRequest},
		{http.MethodPut, transferPath("acct1", "logged-example.com"), e.writeToken, `{"authInfo": "tiny5"}`, http.StatusBadRequest},
		{http.MethodPut, transferPath("acct1", "logged-example.com"), e.writeToken, `{"authInfo": "Secret-Code-7"}`, http.StatusAccepted},
	} {
		r := e.do(c.method, c.path, c.token, c.body)
		require.Equal(t, c.status, r.status, "%+v: %s", c, r.body)
		requestIDs = append(requestIDs, r.header.Get("X-Request-Id"))
	}
	// The retry ran with the new authInfo: the workers logged what they do.
	require.Eventually(t, func() bool {
		authInfo, _ := e.sim.TransferAuthInfo(order)
		return authInfo == "Secret-Code-7"
	}, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		tr, err := e.store.Transfer(t.Context(), "trf_logged")
		require.NoError(t, err)
		return tr.State == store.TransferInProgress
	}, 10*time.Second, 10*time.Millisecond)

	metrics := httptest.NewRecorder()
	promhttp.HandlerFor(e.registry, promhttp.HandlerOpts{}).ServeHTTP(metrics, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Contains(t, metrics.Body.String(), "regsync_http_requests_total")

	captured := logs.String()
	require.Contains(t, captured, `"level":"debug"`, "logs are captured at debug level")
	for _, secret := range append([]string{
		e.readToken, e.writeToken, e.allToken, crossed, e.readToken[:40],
		secretOf(e.readToken), secretOf(e.writeToken), secretOf(e.allToken),
	}, authInfos...) {
		require.NotContains(t, captured, secret)
		require.NotContains(t, metrics.Body.String(), secret)
	}

	// Each request's lines name it; the access line says which key, if
	// any, made it.
	lines := logLines(t, logs)
	for i, id := range requestIDs {
		var access map[string]any
		for _, line := range lines {
			if line["request_id"] == id && line["msg"] == "request" {
				access = line
			}
		}
		require.NotNil(t, access, "request %d was logged", i)
		if i == 1 || i == 2 {
			require.NotContains(t, access, "key_id", "an unauthenticated request names no key")
		} else {
			require.Regexp(t, `^key_[a-z2-7]{26}$`, access["key_id"])
		}
	}
	for _, line := range lines {
		if _, ok := line["route"]; ok {
			require.Contains(t, line, "request_id", "%v", line)
		}
	}
	var reset map[string]any
	for _, line := range lines {
		if line["msg"] == "transfer reset" && line["new_auth_info"] == true {
			reset = line
		}
	}
	require.Equal(t, requestIDs[len(requestIDs)-1], reset["request_id"], "a handler's own lines name the request too")
}
