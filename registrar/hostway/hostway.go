// Package hostway is the registrar adapter for Hostway's domain transfer API.
// It resets a blocked transfer with
//
//	PUT /accounts/{accountNumber}/domains/transfers/{domainName}
//
// and reads a transfer's status with a GET of the same path. Hostway's API
// documents no domain status read, and it addresses everything by account
// number, which a [registrar.Domain] does not carry, so the [Client] is a
// [registrar.TransferResetter] and a [registrar.TransferStatusReader] but
// not a [registrar.Registrar].
//
// # Reset
//
// The request body is {"authInfo":"..."} with a new authInfo, or {} to make
// Hostway reuse the one it has; the authInfo never appears in a URL or an
// error. Hostway documents no response body. Its answers map as follows:
//
//	any 2xx            success: ResetResult.Status is the code (the API page
//	                   documents 202 but its example shows a 204)
//	400                [registrar.ErrInvalidRequest], Code "bad_request"
//	404 Bad Request    the API page's spelling of the 400 above; read by its
//	                   reason phrase as the same [registrar.ErrInvalidRequest],
//	                   Status 400, Code "bad_request", with a Detail that names
//	                   the status line Hostway sent
//	404 (otherwise)    [registrar.ErrNotFound], Code "not_found": no pending
//	                   transfer order, the transfer is closed
//	401                [registrar.ErrUnauthorized], Code "unauthorized": the
//	                   API token was refused; not permanent
//	403                [registrar.ErrForbidden], Code "forbidden": the
//	                   transfer belongs to another account; permanent
//	409                [registrar.ErrConflict], Code "conflict": pending but
//	                   not resettable now
//	429                [registrar.ErrRateLimited], Code "rate_limited", with
//	                   the Retry-After
//	5xx                [registrar.ErrUnavailable], Code "server_error"
//	anything else      [registrar.ErrBadResponse], "unexpected status": 1xx,
//	                   3xx (redirects are never followed) and other 4xx are
//	                   transient failures, never a success
//
// The documented answers are [*registrar.APIError] values. Over HTTP/2 a
// status line has no reason phrase, so there a 404 always reads as not found.
// A body, if Hostway sends one, is read up to [Config.MaxResponseBytes] only
// for an error's explanation (the detail, message or title of a JSON object),
// with the authInfo and the token blanked out of it.
//
// # Status
//
// The status read answers 200 with
//
//	{"domainName":"example.com","statusCode":3,"status":"Awaiting response from losing registrar","canBeReset":false}
//
// whose statusCode is an eNom-style transfer-order code, mapped with
// [registrar.MapEnomTransfer]; its error answers map like the reset's.
//
// # Errors
//
// Hostway's API page is silent on authentication; the client sends the token
// as "Authorization: Bearer <token>". Errors are prefixed with "hostway: ".
// A request that times out, whether by [Config.Timeout] or by the caller's
// ctx, or that cannot reach Hostway wraps [registrar.ErrUnavailable] together
// with the transport's error, so errors.Is also matches
// [context.DeadlineExceeded] or [context.Canceled] when the context ended it.
// The API token never appears in an error.
package hostway

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/regsync/regsync/registrar"
)

// name is the adapter name.
const name = "hostway"

// Config configures a [Client].
type Config struct {
	// BaseURL is the API's absolute http or https URL, for example
	// "https://api.hostway.example".
	BaseURL string
	// Token is the API key sent as a bearer token. This package never logs
	// it or puts it in an error; callers must not format a Config either.
	Token string
	// Timeout bounds each request, body read included; 10s by default.
	Timeout time.Duration
	// MaxResponseBytes is the largest response body read; 64 KiB by default,
	// since resets answer no body and status answers are small.
	MaxResponseBytes int64
	// HTTPClient sends the requests; [registrar.NewHTTPClient] when nil. The
	// client uses a copy of it that does not follow redirects.
	HTTPClient *http.Client
}

// DefaultConfig returns the default timeout and response limit; BaseURL and
// Token must still be set.
func DefaultConfig() Config {
	return Config{Timeout: 10 * time.Second, MaxResponseBytes: 64 << 10}
}

// Validate reports the first invalid field of c.
func (c Config) Validate() error {
	return registrar.ValidateHTTPConfig(name, c.BaseURL, c.Token, c.Timeout, c.MaxResponseBytes)
}

// Client resets and reads domain transfers through Hostway's API. It is safe
// for concurrent use.
type Client struct {
	cfg  Config
	http *http.Client
}

var (
	_ registrar.Named                = (*Client)(nil)
	_ registrar.TransferResetter     = (*Client)(nil)
	_ registrar.TransferStatusReader = (*Client)(nil)
)

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = registrar.NewHTTPClient()
	}
	hc := *cfg.HTTPClient
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{cfg: cfg, http: &hc}, nil
}

// Name returns "hostway".
func (c *Client) Name() string { return name }

// resetRequest is the body of a reset; an empty authInfo is left out.
type resetRequest struct {
	AuthInfo string `json:"authInfo,omitempty"`
}

// statusResponse is the answer of a status read. Pointers tell a missing or
// null field from a zero value.
type statusResponse struct {
	DomainName string `json:"domainName"`
	StatusCode *int   `json:"statusCode"`
	Status     string `json:"status"`
	CanBeReset *bool  `json:"canBeReset"`
}

// errorBody is the explanation an error answer may carry, although Hostway
// documents none.
type errorBody struct {
	Detail  string `json:"detail"`
	Message string `json:"message"`
	Title   string `json:"title"`
}

// answer is what one request got back.
type answer struct {
	resp      *http.Response
	body      []byte
	tooLarge  bool
	requestID string
}

// ResetTransfer asks Hostway to retry the blocked transfer t, with authInfo
// when it is not empty. Any 2xx answer is a success; the package
// documentation lists how the other answers map to errors.
func (c *Client) ResetTransfer(ctx context.Context, t registrar.Transfer, authInfo string) (registrar.ResetResult, error) {
	op := "reset transfer of " + describe(t)
	if !utf8.ValidString(authInfo) {
		// JSON would carry a different string than the caller's.
		return registrar.ResetResult{}, fmt.Errorf("hostway: %s: authInfo is not valid UTF-8: %w", op, registrar.ErrInvalidRequest)
	}
	body, _ := json.Marshal(resetRequest{AuthInfo: authInfo}) // a struct of one string always encodes
	a, err := c.do(ctx, http.MethodPut, t, body, op)
	if err != nil {
		return registrar.ResetResult{}, err
	}
	if err := c.answerError(a, op, authInfo); err != nil {
		return registrar.ResetResult{}, err
	}
	return registrar.ResetResult{Status: a.resp.StatusCode, RequestID: a.requestID}, nil
}

// ReadTransferStatus asks Hostway for the status of transfer t. The
// statusCode of the answer is mapped with [registrar.MapEnomTransfer]; an
// answer about another domain, missing statusCode or canBeReset, or larger
// than [Config.MaxResponseBytes] wraps [registrar.ErrBadResponse].
func (c *Client) ReadTransferStatus(ctx context.Context, t registrar.Transfer) (registrar.TransferStatus, error) {
	op := "read transfer status of " + describe(t)
	a, err := c.do(ctx, http.MethodGet, t, nil, op)
	if err != nil {
		return registrar.TransferStatus{}, err
	}
	if err := c.answerError(a, op, ""); err != nil {
		return registrar.TransferStatus{}, err
	}
	if a.tooLarge {
		return registrar.TransferStatus{}, fmt.Errorf("hostway: %s: answer exceeds %d bytes: %w", op, c.cfg.MaxResponseBytes, registrar.ErrBadResponse)
	}
	var sr statusResponse
	if err := json.Unmarshal(a.body, &sr); err != nil {
		return registrar.TransferStatus{}, fmt.Errorf("hostway: %s: decoding answer: %w: %w", op, registrar.ErrBadResponse, err)
	}
	switch {
	case !strings.EqualFold(sr.DomainName, t.DomainName):
		return registrar.TransferStatus{}, fmt.Errorf("hostway: %s: answer is about domain %q: %w", op, c.redact(sr.DomainName, ""), registrar.ErrBadResponse)
	case sr.StatusCode == nil:
		return registrar.TransferStatus{}, fmt.Errorf("hostway: %s: answer has no statusCode: %w", op, registrar.ErrBadResponse)
	case sr.CanBeReset == nil:
		return registrar.TransferStatus{}, fmt.Errorf("hostway: %s: answer has no canBeReset: %w", op, registrar.ErrBadResponse)
	}
	return registrar.TransferStatus{
		Code:        *sr.StatusCode,
		Description: sr.Status,
		State:       registrar.MapEnomTransfer(*sr.StatusCode),
		CanBeReset:  *sr.CanBeReset,
		RequestID:   a.requestID,
	}, nil
}

// describe names a transfer in errors.
func describe(t registrar.Transfer) string {
	return strconv.Quote(t.DomainName) + " for account " + strconv.Quote(t.Account)
}

// do sends one request about transfer t and reads at most
// MaxResponseBytes+1 bytes of the answer. A nil body sends none.
func (c *Client) do(ctx context.Context, method string, t registrar.Transfer, body []byte, op string) (answer, error) {
	if t.Account == "" || t.DomainName == "" {
		return answer{}, fmt.Errorf("hostway: %s: account and domain name are required: %w", op, registrar.ErrInvalidRequest)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()

	u := c.cfg.BaseURL + "/accounts/" + url.PathEscape(t.Account) + "/domains/transfers/" + url.PathEscape(t.DomainName)
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return answer{}, fmt.Errorf("hostway: %s: %w", op, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	resp, err := c.http.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("hostway: %s: %w: %w", op, registrar.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxResponseBytes+1))
	if err != nil {
		return answer{}, fmt.Errorf("hostway: %s: reading answer: %w: %w", op, registrar.ErrUnavailable, err)
	}
	return answer{
		resp:      resp,
		body:      b,
		tooLarge:  int64(len(b)) > c.cfg.MaxResponseBytes,
		requestID: resp.Header.Get("X-Request-Id"),
	}, nil
}

// answerError returns nil for a 2xx answer and the error the package
// documentation gives for any other. Text Hostway sent is cleared of
// authInfo and the token before it goes into the error.
func (c *Client) answerError(a answer, op, authInfo string) error {
	status := a.resp.StatusCode
	if status >= 200 && status <= 299 {
		return nil
	}
	apiErr := &registrar.APIError{
		Registrar: name,
		Status:    status,
		RequestID: c.redact(a.requestID, authInfo),
	}
	switch {
	case status == http.StatusBadRequest:
		apiErr.Code = "bad_request"
	case status == http.StatusNotFound && strings.EqualFold(reason(a.resp), "Bad Request"):
		apiErr.Status = http.StatusBadRequest
		apiErr.Code = "bad_request"
		apiErr.Detail = `answered "404 Bad Request"`
	case status == http.StatusNotFound:
		apiErr.Code = "not_found"
	case status == http.StatusUnauthorized:
		apiErr.Code = "unauthorized"
	case status == http.StatusForbidden:
		apiErr.Code = "forbidden"
	case status == http.StatusConflict:
		apiErr.Code = "conflict"
	case status == http.StatusTooManyRequests:
		apiErr.Code = "rate_limited"
		apiErr.RetryAfter = registrar.ParseRetryAfter(a.resp.Header.Get("Retry-After"), time.Now())
	case status >= 500 && status <= 599:
		apiErr.Code = "server_error"
	default:
		msg := "unexpected status " + strconv.Quote(c.redact(a.resp.Status, authInfo))
		if apiErr.RequestID != "" {
			msg += " (request " + apiErr.RequestID + ")"
		}
		return fmt.Errorf("hostway: %s: %s: %w", op, msg, registrar.ErrBadResponse)
	}
	var eb errorBody
	if !a.tooLarge && json.Unmarshal(a.body, &eb) == nil {
		if detail := c.redact(cmp.Or(eb.Detail, eb.Message, eb.Title), authInfo); detail != "" {
			if apiErr.Detail != "" {
				detail = apiErr.Detail + ": " + detail
			}
			apiErr.Detail = detail
		}
	}
	return apiErr
}

// reason returns the reason phrase of the answer's status line.
func reason(resp *http.Response) string {
	return strings.TrimSpace(strings.TrimPrefix(resp.Status, strconv.Itoa(resp.StatusCode)))
}

// redact blanks authInfo and the token out of s, text Hostway sent.
func (c *Client) redact(s, authInfo string) string {
	if authInfo != "" {
		s = strings.ReplaceAll(s, authInfo, "[redacted]")
	}
	return strings.ReplaceAll(s, c.cfg.Token, "[redacted]")
}
