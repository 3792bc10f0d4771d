// Package hostup is the registrar adapter for Hostup API v2: it reads a
// domain's status with POST /api/v2/domains/{id}/actions/status-sync, which
// makes Hostup refresh the status from its registrar and answer the previous
// and new statuses.
//
// Errors wrap the [registrar] sentinels. An HTTP error answer is a
// [*registrar.APIError] built from the RFC 7807 problem body when there is
// one. A request that times out, whether by [Config.Timeout] or by the
// caller's ctx, or that cannot reach Hostup wraps [registrar.ErrUnavailable]
// together with the transport's error, so errors.Is also matches
// [context.DeadlineExceeded] or [context.Canceled] when the context ended
// it. The API token never appears in an error.
package hostup

import (
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

	"github.com/regsync/regsync/registrar"
)

// name is the adapter name.
const name = "hostup"

// Config configures a [Client].
type Config struct {
	// BaseURL is the API's absolute http or https URL, for example
	// "https://cloud.hostup.se".
	BaseURL string
	// Token is the API key sent as a bearer token. This package never logs
	// it or puts it in an error; callers must not format a Config either.
	Token string
	// Timeout bounds each request, body read included; 10s by default.
	Timeout time.Duration
	// MaxResponseBytes is the largest response body read; 1 MiB by default.
	MaxResponseBytes int64
	// HTTPClient sends the requests; [registrar.NewHTTPClient] when nil.
	HTTPClient *http.Client
}

// DefaultConfig returns the default timeout and response limit; BaseURL and
// Token must still be set.
func DefaultConfig() Config {
	return Config{Timeout: 10 * time.Second, MaxResponseBytes: 1 << 20}
}

// Validate reports the first invalid field of c.
func (c Config) Validate() error {
	return registrar.ValidateHTTPConfig(name, c.BaseURL, c.Token, c.Timeout, c.MaxResponseBytes)
}

// Client reads domain statuses from Hostup API v2. It is safe for
// concurrent use.
type Client struct {
	cfg  Config
	http *http.Client
}

var _ registrar.Registrar = (*Client)(nil)

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	hc := cfg.HTTPClient
	if hc == nil {
		hc = registrar.NewHTTPClient()
	}
	return &Client{cfg: cfg, http: hc}, nil
}

// Name returns "hostup".
func (c *Client) Name() string { return name }

// syncResponse holds the fields of the status-sync answer the adapter uses.
// Pointers tell a missing or null field from a zero value.
type syncResponse struct {
	ID          string  `json:"id"`
	NewStatus   *string `json:"newStatus"`
	SyncSuccess *bool   `json:"syncSuccess"`
	Error       *string `json:"error"`
}

// problem is an RFC 7807 problem as Hostup sends it.
type problem struct {
	Title     string                 `json:"title"`
	Detail    string                 `json:"detail"`
	Code      string                 `json:"code"`
	RequestID string                 `json:"requestId"`
	Errors    []registrar.FieldError `json:"errors"`
}

// ReadStatus asks Hostup to sync the domain's status from its registrar and
// returns the new status. Raw is the answer's newStatus, mapped with
// [registrar.MapHostup]. An answer with syncSuccess false (Hostup could not
// get a status from its registrar) is an error wrapping
// [registrar.ErrUnavailable] with Hostup's error text.
func (c *Client) ReadStatus(ctx context.Context, domain registrar.Domain) (registrar.StatusReading, error) {
	if domain.ID == "" {
		return registrar.StatusReading{}, fmt.Errorf("hostup: read status: domain id is empty: %w", registrar.ErrInvalidRequest)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()

	u := c.cfg.BaseURL + "/api/v2/domains/" + url.PathEscape(domain.ID) + "/actions/status-sync"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return registrar.StatusReading{}, fmt.Errorf("hostup: read status of %s: %w", domain.ID, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	req.Header.Set("Accept", "application/json")

	resp, err := c.http.Do(req)
	if err != nil {
		return registrar.StatusReading{}, fmt.Errorf("hostup: read status of %s: %w: %w", domain.ID, registrar.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxResponseBytes+1))
	if err != nil {
		return registrar.StatusReading{}, fmt.Errorf("hostup: read status of %s: reading answer: %w: %w", domain.ID, registrar.ErrUnavailable, err)
	}
	tooLarge := int64(len(body)) > c.cfg.MaxResponseBytes
	requestID := resp.Header.Get("X-Request-Id")

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		apiErr := &registrar.APIError{
			Registrar:  name,
			Status:     resp.StatusCode,
			RequestID:  requestID,
			RetryAfter: registrar.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
		}
		var p problem
		if !tooLarge && json.Unmarshal(body, &p) == nil {
			apiErr.Code = p.Code
			apiErr.Detail = cmp.Or(p.Detail, p.Title)
			apiErr.RequestID = cmp.Or(p.RequestID, requestID)
			apiErr.FieldErrors = p.Errors
		}
		return registrar.StatusReading{}, apiErr
	}

	if tooLarge {
		return registrar.StatusReading{}, fmt.Errorf("hostup: read status of %s: answer exceeds %d bytes: %w", domain.ID, c.cfg.MaxResponseBytes, registrar.ErrBadResponse)
	}
	var sr syncResponse
	if err := json.Unmarshal(body, &sr); err != nil {
		return registrar.StatusReading{}, fmt.Errorf("hostup: read status of %s: decoding answer: %w: %w", domain.ID, registrar.ErrBadResponse, err)
	}
	switch {
	case sr.ID != domain.ID:
		return registrar.StatusReading{}, fmt.Errorf("hostup: read status of %s: answer is about domain %q: %w", domain.ID, sr.ID, registrar.ErrBadResponse)
	case sr.SyncSuccess == nil:
		return registrar.StatusReading{}, fmt.Errorf("hostup: read status of %s: answer has no syncSuccess: %w", domain.ID, registrar.ErrBadResponse)
	case !*sr.SyncSuccess:
		reason := "no error given"
		if sr.Error != nil {
			reason = strconv.Quote(*sr.Error)
		}
		if requestID != "" {
			reason += " (request " + requestID + ")"
		}
		return registrar.StatusReading{}, fmt.Errorf("hostup: read status of %s: sync failed at hostup: %s: %w", domain.ID, reason, registrar.ErrUnavailable)
	case sr.NewStatus == nil:
		return registrar.StatusReading{}, fmt.Errorf("hostup: read status of %s: answer has no newStatus: %w", domain.ID, registrar.ErrBadResponse)
	}
	return registrar.StatusReading{Raw: *sr.NewStatus, Status: registrar.MapHostup(*sr.NewStatus), RequestID: requestID}, nil
}
