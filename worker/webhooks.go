package worker

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/riverqueue/river"
	"go.uber.org/zap"

	"github.com/regsync/regsync/internal/secret"
	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/store"
)

// QueueWebhook holds the webhook_delivery jobs, so that a slow endpoint
// holds only webhook workers, never a status sync's.
const QueueWebhook = "webhook"

// WebhookMaxAttempts is how often a delivery is tried before it is given
// up: with River's backoff capped at an hour, over about 18 hours.
const WebhookMaxAttempts = 25

// The headers of a delivery besides Content-Type.
const (
	// SignatureHeader carries the signature, "t=<unix seconds>,v1=<hex>";
	// see [SignWebhook].
	SignatureHeader = "Regsync-Signature"
	// DeliveryHeader carries the delivery id, the same on every attempt:
	// receivers deduplicate on it.
	DeliveryHeader = "Regsync-Delivery"
	// EventHeader carries the event.
	EventHeader = "Regsync-Event"
)

// What a delivery reads of an endpoint's answer: at most
// maxWebhookAnswerRead bytes, so that a huge body cannot hold a worker,
// of which the first maxWebhookAnswerKept go to the delivery log.
const (
	maxWebhookAnswerRead = 64 << 10
	maxWebhookAnswerKept = 256
)

// WebhookDeliveryArgs are the args of a webhook_delivery job,
// {"delivery_id": N}. regsync.publish_status_changes builds the same job
// in SQL, in the transaction of the change: deliveries need no unique key,
// since each delivery row gets exactly one job there.
type WebhookDeliveryArgs struct {
	DeliveryID int64 `json:"delivery_id"`
}

// Kind is the River job kind.
func (WebhookDeliveryArgs) Kind() string { return "webhook_delivery" }

// InsertOpts puts deliveries in their own queue with their own number of
// attempts, as the SQL function does.
func (WebhookDeliveryArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueWebhook, MaxAttempts: WebhookMaxAttempts, Priority: PriorityOnDemand}
}

// UnmarshalJSON decodes the args strictly, exactly {"delivery_id": N}
// with N a positive integer, returning an [*InvalidArgsError].
func (a *WebhookDeliveryArgs) UnmarshalJSON(data []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return &InvalidArgsError{Kind: a.Kind(), Err: err}
	}
	for name := range fields {
		if name != "delivery_id" {
			return &InvalidArgsError{Kind: a.Kind(), Err: fmt.Errorf("unknown field %q", name)}
		}
	}
	id, err := strconv.ParseInt(string(fields["delivery_id"]), 10, 64)
	if err != nil || id <= 0 {
		return &InvalidArgsError{Kind: a.Kind(), Err: errors.New(`"delivery_id" must be a positive integer`)}
	}
	a.DeliveryID = id
	return nil
}

// WebhookConfig sizes webhook deliveries.
type WebhookConfig struct {
	// Workers is how many deliveries one process makes at once.
	Workers int
	// Timeout bounds one attempt: connecting, sending and the answer.
	Timeout time.Duration
	// MaxRetryDelay caps River's exponential backoff between attempts.
	MaxRetryDelay time.Duration
}

// DefaultWebhookConfig returns the documented defaults.
func DefaultWebhookConfig() WebhookConfig {
	return WebhookConfig{Workers: 10, Timeout: 10 * time.Second, MaxRetryDelay: time.Hour}
}

// Validate reports the first setting that cannot work.
func (c WebhookConfig) Validate() error {
	if c.Workers < 1 || c.Timeout <= 0 || c.MaxRetryDelay <= 0 {
		return errors.New("webhook workers, timeout and max retry delay must be positive")
	}
	return nil
}

// WebhookEvent is the JSON body of a delivery. The test event has no
// delivery, domain or outcome.
type WebhookEvent struct {
	DeliveryID int64  `json:"delivery_id"`
	Event      string `json:"event"`
	DomainID   string `json:"domain_id,omitempty"`
	From       string `json:"from,omitempty"`
	To         string `json:"to,omitempty"`
	// OutcomeID is null for a guarded change applied before its double
	// sync, as in the change notifications.
	OutcomeID  *int64    `json:"outcome_id"`
	OccurredAt time.Time `json:"occurred_at"`
}

// WebhookTestEvent is the event "regsync webhook test" sends.
const WebhookTestEvent = "test"

// SignWebhook returns the value of the Regsync-Signature header for body
// sent at t: "t=<unix seconds>,v1=<hex HMAC-SHA256 of
// "<unix seconds>.<body>" keyed with the secret>". The timestamp is signed
// with the body, so that a receiver can refuse a replayed delivery.
func SignWebhook(signingSecret, body []byte, t time.Time) string {
	timestamp := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, signingSecret)
	mac.Write([]byte(timestamp + "."))
	mac.Write(body)
	return "t=" + timestamp + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// WebhookAnswer is what an endpoint answered to one delivery attempt.
type WebhookAnswer struct {
	// StatusCode is the HTTP status; zero when no answer came.
	StatusCode int
	// Body is the start of the answer's body, cleaned and bounded.
	Body     string
	Duration time.Duration
	// Err says why no answer came, without the URL.
	Err error
}

// WebhookSender posts signed events. Each request is bounded by a timeout,
// reads at most 64 KiB of the answer and follows no redirect: an endpoint
// cannot send regsync's requests on to another address.
type WebhookSender struct {
	client *http.Client
}

// NewWebhookSender returns a sender whose attempts take at most timeout.
func NewWebhookSender(timeout time.Duration) *WebhookSender {
	client := registrar.NewHTTPClient()
	client.Timeout = timeout
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &WebhookSender{client: client}
}

// Send posts event to endpoint, signed with signingSecret at the time of
// sending, and returns the answer.
func (s *WebhookSender) Send(ctx context.Context, endpoint string, signingSecret []byte, event WebhookEvent) WebhookAnswer {
	body, err := json.Marshal(event)
	if err != nil {
		return WebhookAnswer{Err: fmt.Errorf("encode event: %w", err)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return WebhookAnswer{Err: fmt.Errorf("build request: %w", withoutURL(err))}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "regsync-webhooks/1")
	req.Header.Set(EventHeader, event.Event)
	req.Header.Set(DeliveryHeader, strconv.FormatInt(event.DeliveryID, 10))
	start := time.Now()
	req.Header.Set(SignatureHeader, SignWebhook(signingSecret, body, start))
	resp, err := s.client.Do(req)
	if err != nil {
		return WebhookAnswer{Duration: time.Since(start), Err: withoutURL(err)}
	}
	defer resp.Body.Close()
	// The status decides; a body cut short keeps what was read.
	read, _ := io.ReadAll(io.LimitReader(resp.Body, maxWebhookAnswerRead))
	return WebhookAnswer{
		StatusCode: resp.StatusCode,
		Body:       registrar.CleanText(string(read[:min(len(read), maxWebhookAnswerKept)]), maxWebhookAnswerKept),
		Duration:   time.Since(start),
	}
}

// withoutURL unwraps net/http's *url.Error, which quotes the URL, so that
// what is logged names the subscription by id only.
func withoutURL(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		if urlErr.Timeout() {
			return errors.New("no answer in time")
		}
		return urlErr.Err
	}
	return err
}

// webhookResult decides what an answer comes to: a 2xx is delivered; no
// answer, 408, 429 and 5xx are failures, retried unless lastAttempt; 410
// means the endpoint is gone; anything else (3xx, other 4xx) is rejected
// and not retried, since the same request would get the same answer.
func webhookResult(a WebhookAnswer, lastAttempt bool) store.WebhookResult {
	switch code := a.StatusCode; {
	case a.Err == nil && code/100 == 2:
		return store.WebhookDelivered
	case a.Err == nil && code == http.StatusGone:
		return store.WebhookGone
	case a.Err == nil && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests && code/100 != 5:
		return store.WebhookRejected
	case lastAttempt:
		return store.WebhookGaveUp
	default:
		return store.WebhookFailedRetrying
	}
}

// describe says what went wrong with an answer, for the delivery log and
// the job's errors; empty for a 2xx.
func (a WebhookAnswer) describe() string {
	switch {
	case a.Err != nil:
		return registrar.CleanText(a.Err.Error(), registrar.MaxMessageBytes)
	case a.StatusCode/100 == 2:
		return ""
	case a.StatusCode/100 == 3:
		return fmt.Sprintf("answered %d, a redirect, which is not followed: %s", a.StatusCode, a.Body)
	default:
		return fmt.Sprintf("answered %d: %s", a.StatusCode, a.Body)
	}
}

// WebhookDeliveryWorker runs webhook_delivery jobs: it posts the
// delivery's event to its subscription's endpoint and records the attempt
// in the delivery log.
type WebhookDeliveryWorker struct {
	river.WorkerDefaults[WebhookDeliveryArgs]
	store   *store.Store
	keyring *secret.Keyring
	sender  *WebhookSender
	retry   cappedRetryPolicy
	metrics *Metrics
	logger  *zap.Logger
}

// NewWebhookDeliveryWorker returns a worker delivering with the signing
// secrets keyring opens; with a nil keyring every attempt fails with a
// clear error and is retried.
func NewWebhookDeliveryWorker(st *store.Store, keyring *secret.Keyring, cfg WebhookConfig, metrics *Metrics, logger *zap.Logger) *WebhookDeliveryWorker {
	return &WebhookDeliveryWorker{
		store: st, keyring: keyring, sender: NewWebhookSender(cfg.Timeout),
		retry: cappedRetryPolicy{max: cfg.MaxRetryDelay}, metrics: metrics, logger: logger.Named("webhooks"),
	}
}

// NextRetry is River's backoff (attempt^4 seconds, jittered), capped at
// the webhook config's MaxRetryDelay, whatever the client's cap.
func (w *WebhookDeliveryWorker) NextRetry(job *river.Job[WebhookDeliveryArgs]) time.Time {
	return w.retry.NextRetry(job.JobRow)
}

// Work makes one delivery attempt and records it. A delivered event
// completes the job; a failure is retried with backoff until the last
// attempt; a rejected or gone endpoint, or a subscription removed or
// disabled meanwhile, cancels it.
func (w *WebhookDeliveryWorker) Work(ctx context.Context, job *river.Job[WebhookDeliveryArgs]) error {
	d, sub, err := w.store.WebhookDelivery(ctx, job.Args.DeliveryID)
	if errors.Is(err, store.ErrWebhookDeliveryNotFound) {
		w.metrics.jobsRejected.WithLabelValues(job.Kind, "unknown_delivery").Inc()
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	attempt := store.WebhookAttempt{
		DeliveryID: d.ID, SubscriptionID: d.SubscriptionID, JobID: job.ID, Attempt: job.Attempt, AttemptedAt: time.Now(),
	}
	lastAttempt := job.Attempt >= job.MaxAttempts
	switch {
	case sub == nil:
		attempt.Result, attempt.Error = store.WebhookCancelled, "the subscription was removed"
	case !sub.DisabledAt.IsZero():
		attempt.Result, attempt.Error = store.WebhookCancelled, "the subscription is disabled"
	default:
		answer := w.send(ctx, d, sub)
		attempt.Duration, attempt.StatusCode = answer.Duration, answer.StatusCode
		attempt.Result, attempt.Error = webhookResult(answer, lastAttempt), answer.describe()
		if answer.Duration > 0 { // a request was made
			w.metrics.webhookDuration.Observe(answer.Duration.Seconds())
		}
	}
	// The attempt is recorded even when the job's context ended meanwhile
	// (a timeout, a shutdown): on the last attempt its error would discard
	// the job with nothing in the log, nothing counted and no alert.
	recordCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), store.MaxWaitAfterCancel)
	defer cancel()
	if err := w.store.RecordWebhookAttempt(recordCtx, attempt); err != nil {
		return err
	}
	w.metrics.webhookDeliveries.WithLabelValues(string(attempt.Result)).Inc()
	if attempt.Result == store.WebhookDelivered {
		return nil
	}
	failure := fmt.Errorf("webhook delivery %d to %s: %s: %s", d.ID, d.SubscriptionID, attempt.Result, attempt.Error)
	level := zap.WarnLevel
	if attempt.Result == store.WebhookFailedRetrying {
		level = zap.InfoLevel
	}
	w.logger.Log(level, "webhook delivery not delivered", zap.Int64("delivery_id", d.ID), zap.String("subscription_id", d.SubscriptionID),
		zap.Int("attempt", job.Attempt), zap.String("result", string(attempt.Result)), zap.Int("status_code", attempt.StatusCode),
		zap.String("error", attempt.Error))
	if attempt.Result == store.WebhookFailedRetrying || attempt.Result == store.WebhookGaveUp {
		return failure
	}
	return river.JobCancel(failure)
}

// send opens the subscription's signing secret and posts the delivery's
// event; a secret that cannot be opened is a failure without an answer.
func (w *WebhookDeliveryWorker) send(ctx context.Context, d store.WebhookDelivery, sub *store.WebhookSubscription) WebhookAnswer {
	if w.keyring == nil {
		return WebhookAnswer{Err: errors.New("no secret key configured (REGSYNC_SECRET_KEY) to open the signing secret")}
	}
	signingSecret, err := w.keyring.Open(*sub.Secret, store.WebhookSecretContext(sub.ID))
	if err != nil {
		return WebhookAnswer{Err: fmt.Errorf("open the signing secret: %w", err)}
	}
	return w.sender.Send(ctx, sub.URL, signingSecret, WebhookEvent{
		DeliveryID: d.ID, Event: d.Event, DomainID: d.DomainID, From: d.From, To: d.To, OutcomeID: d.OutcomeID, OccurredAt: d.CreatedAt.UTC(),
	})
}
