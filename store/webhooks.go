package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/regsync/regsync/internal/secret"
)

// The events a webhook subscription can take, as the change notifications
// name them.
const (
	// WebhookChanged: a status change applied.
	WebhookChanged = "changed"
	// WebhookUnconfirmed: a guarded change applied and waiting for its
	// double sync.
	WebhookUnconfirmed = "unconfirmed"
	// WebhookConfirmed: the double sync confirmed a guarded change.
	WebhookConfirmed = "confirmed"
	// WebhookReverted: the double sync contradicted a guarded change,
	// which was undone.
	WebhookReverted = "reverted"
)

// WebhookEvents lists every event, as regsync.webhook_subscriptions'
// CHECK constraint does.
var WebhookEvents = []string{WebhookChanged, WebhookUnconfirmed, WebhookConfirmed, WebhookReverted}

// WebhookResult is what one delivery attempt came to, as the delivery log
// and the metrics name it.
type WebhookResult string

// The results of a delivery attempt.
const (
	// WebhookDelivered: the endpoint answered 2xx.
	WebhookDelivered WebhookResult = "delivered"
	// WebhookFailedRetrying: a timeout, a connection error, 408, 429 or
	// 5xx; the delivery is tried again later.
	WebhookFailedRetrying WebhookResult = "failed_retrying"
	// WebhookGaveUp: such a failure on the last attempt.
	WebhookGaveUp WebhookResult = "gave_up"
	// WebhookRejected: any other answer (a redirect, a 4xx), which trying
	// again would not change.
	WebhookRejected WebhookResult = "rejected"
	// WebhookGone: the endpoint answered 410 Gone; the subscription is
	// disabled.
	WebhookGone WebhookResult = "gone"
	// WebhookCancelled: the subscription was removed or disabled before the
	// delivery ran.
	WebhookCancelled WebhookResult = "cancelled"
)

// WebhookResults lists every result.
var WebhookResults = []WebhookResult{WebhookDelivered, WebhookFailedRetrying, WebhookGaveUp, WebhookRejected, WebhookGone, WebhookCancelled}

// Errors of the webhook store.
var (
	// ErrWebhookNotFound means no webhook subscription has the given id.
	ErrWebhookNotFound = errors.New("webhook subscription not found")
	// ErrWebhookDeliveryNotFound means no webhook delivery has the given id.
	ErrWebhookDeliveryNotFound = errors.New("webhook delivery not found")
)

// webhookIDPrefix starts every subscription id: whk_ and 26 characters
// of a-z and 2-7.
const webhookIDPrefix = "whk_"

// webhookIDPattern is the CHECK constraint on
// regsync.webhook_subscriptions.id.
var webhookIDPattern = regexp.MustCompile(`^whk_[a-z2-7]{26}$`)

// webhookSecretPrefix starts every generated signing secret, followed by
// 256 random bits in 52 characters of a-z and 2-7.
const webhookSecretPrefix = "whsec_"

// The bounds of a signing secret supplied by the operator, and of a URL.
const (
	minWebhookSecret = 24
	maxWebhookSecret = 256
	maxWebhookURL    = 2048
)

// ValidateWebhookID returns an error saying what is wrong when id cannot
// be a webhook subscription id.
func ValidateWebhookID(id string) error {
	if !webhookIDPattern.MatchString(id) {
		return fmt.Errorf("invalid webhook id %q: want whk_ followed by 26 characters of a-z and 2-7", id)
	}
	return nil
}

// ValidateWebhookURL returns an error saying what is wrong when raw cannot
// be a webhook endpoint: an absolute https URL (http too when allowHTTP,
// for a receiver on the same machine or in tests) with a host, without
// credentials or a fragment, at most 2048 bytes. regsync posts to what the
// operator configures, internal addresses included; it follows no
// redirect.
func ValidateWebhookURL(raw string, allowHTTP bool) error {
	if len(raw) > maxWebhookURL || strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("invalid webhook URL: want at most %d bytes without spaces or control characters", maxWebhookURL)
	}
	// Neither the URL nor url.Parse's error, which quotes it, is repeated
	// before the URL is known to hold no password.
	u, err := url.Parse(raw)
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return fmt.Errorf("invalid webhook URL: it does not parse: %w", urlErr.Err)
	}
	if err != nil {
		return fmt.Errorf("invalid webhook URL: it does not parse: %w", err)
	}
	switch {
	case u.User != nil:
		// Credentials would be stored and listed in plain text; the
		// signature is what authenticates regsync to the endpoint.
		return errors.New("invalid webhook URL: it holds credentials (user:password@); verify the signature instead")
	case strings.HasPrefix(raw, "http://") && !allowHTTP:
		return fmt.Errorf("invalid webhook URL %q: http is allowed only with --allow-http; use https", raw)
	case !strings.HasPrefix(raw, "https://") && !strings.HasPrefix(raw, "http://"):
		return fmt.Errorf("invalid webhook URL %q: want https://HOST/PATH", raw)
	case u.Hostname() == "":
		return fmt.Errorf("invalid webhook URL %q: no host", raw)
	case strings.Contains(raw, "#"):
		return fmt.Errorf("invalid webhook URL %q: a fragment is never sent", raw)
	}
	return nil
}

// ValidateWebhookEvents returns an error saying what is wrong when events
// is empty or names an event not in [WebhookEvents].
func ValidateWebhookEvents(events []string) error {
	if len(events) == 0 {
		return fmt.Errorf("no webhook event given: want some of %s", strings.Join(WebhookEvents, ", "))
	}
	for _, e := range events {
		if !slices.Contains(WebhookEvents, e) {
			return fmt.Errorf("unknown webhook event %q: want some of %s", e, strings.Join(WebhookEvents, ", "))
		}
	}
	return nil
}

// ValidateWebhookSecret returns an error when s cannot be a signing
// secret: 24 to 256 printable ASCII characters without spaces. The error
// never quotes it.
func ValidateWebhookSecret(s string) error {
	if len(s) < minWebhookSecret || len(s) > maxWebhookSecret || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return fmt.Errorf("invalid webhook secret: want %d to %d printable ASCII characters without spaces", minWebhookSecret, maxWebhookSecret)
	}
	return nil
}

// WebhookSecretContext is the additional data a subscription's signing
// secret is sealed with, so that a ciphertext copied to another
// subscription does not open.
func WebhookSecretContext(subscriptionID string) string {
	return "regsync.webhook_subscriptions/" + subscriptionID + "/secret"
}

// WebhookSubscription is a row of regsync.webhook_subscriptions.
type WebhookSubscription struct {
	ID     string
	URL    string
	Events []string
	// CreatedAt is when it was added; DisabledAt when deliveries stopped
	// (zero while they go on), and DisabledReason why.
	CreatedAt      time.Time
	DisabledAt     time.Time
	DisabledReason string
	// Secret is the signing secret, sealed; nil when it was not read.
	Secret *secret.Sealed
	// LastAttemptAt and LastResult describe the latest delivery attempt,
	// in a listing; zero and empty when there was none.
	LastAttemptAt time.Time
	LastResult    WebhookResult
}

// NewWebhookSubscription is a subscription to add.
type NewWebhookSubscription struct {
	URL    string
	Events []string
	// AllowHTTP accepts an http URL.
	AllowHTTP bool
	// Secret is the signing secret, when the operator supplies one; empty
	// generates one.
	Secret string
}

// AddWebhookSubscription validates n, seals its signing secret with
// keyring and stores the subscription. It returns the subscription and
// the secret in plain text, the only time it is given out. Invalid input
// stores nothing; no error quotes the secret.
func (s *Store) AddWebhookSubscription(ctx context.Context, keyring *secret.Keyring, n NewWebhookSubscription) (WebhookSubscription, string, error) {
	if err := ValidateWebhookURL(n.URL, n.AllowHTTP); err != nil {
		return WebhookSubscription{}, "", err
	}
	if err := ValidateWebhookEvents(n.Events); err != nil {
		return WebhookSubscription{}, "", err
	}
	signingSecret := n.Secret
	if signingSecret == "" {
		signingSecret = webhookSecretPrefix + tokenEncoding.EncodeToString(randomBytes(32))
	} else if err := ValidateWebhookSecret(signingSecret); err != nil {
		return WebhookSubscription{}, "", err
	}
	if keyring == nil {
		return WebhookSubscription{}, "", errors.New("add webhook: no secret key configured (REGSYNC_SECRET_KEY) to seal its signing secret")
	}
	events := slices.Compact(slices.Sorted(slices.Values(n.Events)))
	sub := WebhookSubscription{ID: webhookIDPrefix + tokenEncoding.EncodeToString(randomBytes(16)), URL: n.URL, Events: events}
	sealed := keyring.Seal([]byte(signingSecret), WebhookSecretContext(sub.ID))
	sub.Secret = &sealed
	err := s.pool.QueryRow(ctx, `
		INSERT INTO regsync.webhook_subscriptions (id, url, events, secret_key_id, secret_ciphertext)
		VALUES ($1, $2, $3, $4, $5) RETURNING created_at`,
		sub.ID, sub.URL, sub.Events, sealed.KeyID, sealed.Ciphertext).Scan(&sub.CreatedAt)
	if err != nil {
		return WebhookSubscription{}, "", fmt.Errorf("add webhook: %w", err)
	}
	return sub, signingSecret, nil
}

// WebhookSubscriptions lists every subscription, oldest first, with its
// latest delivery attempt and without its secret.
func (s *Store) WebhookSubscriptions(ctx context.Context) ([]WebhookSubscription, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT s.id, s.url, s.events, s.created_at, s.disabled_at, coalesce(s.disabled_reason, ''), a.attempted_at, coalesce(a.result, '')
		FROM regsync.webhook_subscriptions s
		LEFT JOIN LATERAL (
			SELECT attempted_at, result FROM regsync.webhook_delivery_attempts a
			WHERE a.subscription_id = s.id ORDER BY a.id DESC LIMIT 1
		) a ON true
		ORDER BY s.created_at, s.id`)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	subs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (WebhookSubscription, error) {
		var sub WebhookSubscription
		var disabledAt, lastAttemptAt *time.Time
		err := row.Scan(&sub.ID, &sub.URL, &sub.Events, &sub.CreatedAt, &disabledAt, &sub.DisabledReason, &lastAttemptAt, &sub.LastResult)
		sub.DisabledAt, sub.LastAttemptAt = orZero(disabledAt), orZero(lastAttemptAt)
		return sub, err
	})
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	return subs, nil
}

// WebhookSubscription returns the subscription with its sealed secret, or
// an error wrapping [ErrWebhookNotFound].
func (s *Store) WebhookSubscription(ctx context.Context, id string) (WebhookSubscription, error) {
	sub := WebhookSubscription{ID: id, Secret: &secret.Sealed{}}
	var disabledAt *time.Time
	err := s.pool.QueryRow(ctx, `
		SELECT url, events, created_at, disabled_at, coalesce(disabled_reason, ''), secret_key_id, secret_ciphertext
		FROM regsync.webhook_subscriptions WHERE id = $1`, id).
		Scan(&sub.URL, &sub.Events, &sub.CreatedAt, &disabledAt, &sub.DisabledReason, &sub.Secret.KeyID, &sub.Secret.Ciphertext)
	if errors.Is(err, pgx.ErrNoRows) {
		return WebhookSubscription{}, fmt.Errorf("webhook %s: %w", id, ErrWebhookNotFound)
	}
	if err != nil {
		return WebhookSubscription{}, fmt.Errorf("read webhook %s: %w", id, err)
	}
	sub.DisabledAt = orZero(disabledAt)
	return sub, nil
}

// RemoveWebhookSubscription deletes the subscription, its sealed secret
// with it, or returns an error wrapping [ErrWebhookNotFound]. Its
// deliveries and their log stay; those still pending are cancelled when
// they come to run.
func (s *Store) RemoveWebhookSubscription(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM regsync.webhook_subscriptions WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("remove webhook %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("webhook %s: %w", id, ErrWebhookNotFound)
	}
	return nil
}

// EnableWebhookSubscription lets a disabled subscription take deliveries
// again, from the next change on, or returns an error wrapping
// [ErrWebhookNotFound].
func (s *Store) EnableWebhookSubscription(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE regsync.webhook_subscriptions SET disabled_at = NULL, disabled_reason = NULL WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("enable webhook %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("webhook %s: %w", id, ErrWebhookNotFound)
	}
	return nil
}

// WebhookDelivery is a row of regsync.webhook_deliveries: one change to
// post to one subscription.
type WebhookDelivery struct {
	ID             int64
	SubscriptionID string
	Event          string
	DomainID       string
	From, To       string
	// OutcomeID is the outcome that made the change; nil for a guarded
	// change applied before its double sync.
	OutcomeID *int64
	// CreatedAt is when the change was made (its transaction's start).
	CreatedAt time.Time
}

// WebhookDelivery returns the delivery with the given id and its
// subscription, with the sealed secret; the subscription is nil when it
// was removed. An unknown delivery is an error wrapping
// [ErrWebhookDeliveryNotFound].
func (s *Store) WebhookDelivery(ctx context.Context, id int64) (WebhookDelivery, *WebhookSubscription, error) {
	d := WebhookDelivery{ID: id}
	var subID, url, keyID *string
	var ciphertext []byte
	var events []string
	var disabledAt *time.Time
	err := s.pool.QueryRow(ctx, `
		SELECT d.subscription_id, d.event, d.domain_id, d.from_status, d.to_status, d.outcome_id, d.created_at,
			s.id, s.url, s.events, s.disabled_at, s.secret_key_id, s.secret_ciphertext
		FROM regsync.webhook_deliveries d
		LEFT JOIN regsync.webhook_subscriptions s ON s.id = d.subscription_id
		WHERE d.id = $1`, id).Scan(&d.SubscriptionID, &d.Event, &d.DomainID, &d.From, &d.To, &d.OutcomeID, &d.CreatedAt,
		&subID, &url, &events, &disabledAt, &keyID, &ciphertext)
	if errors.Is(err, pgx.ErrNoRows) {
		return WebhookDelivery{}, nil, fmt.Errorf("webhook delivery %d: %w", id, ErrWebhookDeliveryNotFound)
	}
	if err != nil {
		return WebhookDelivery{}, nil, fmt.Errorf("read webhook delivery %d: %w", id, err)
	}
	if subID == nil {
		return d, nil, nil
	}
	return d, &WebhookSubscription{
		ID: *subID, URL: *url, Events: events, DisabledAt: orZero(disabledAt),
		Secret: &secret.Sealed{KeyID: *keyID, Ciphertext: ciphertext},
	}, nil
}

// WebhookAttempt is one delivery attempt, a row of the delivery log
// regsync.webhook_delivery_attempts.
type WebhookAttempt struct {
	DeliveryID     int64
	SubscriptionID string
	// JobID and Attempt name the River job run that made it.
	JobID       int64
	Attempt     int
	AttemptedAt time.Time
	Duration    time.Duration
	Result      WebhookResult
	// StatusCode is the endpoint's HTTP status; zero when no answer came.
	StatusCode int
	// Error says what went wrong, cleaned and bounded by the caller; empty
	// when delivered.
	Error string
}

// RecordWebhookAttempt appends the attempt to the delivery log. An
// attempt whose endpoint is gone also disables its subscription, in the
// same transaction, with the attempt's error as the reason.
func (s *Store) RecordWebhookAttempt(ctx context.Context, a WebhookAttempt) error {
	return s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO regsync.webhook_delivery_attempts (delivery_id, subscription_id, job_id, attempt, attempted_at,
				duration, result, status_code, error)
			VALUES ($1, $2, $3, $4, $5, $6, $7, nullif($8, 0), nullif($9, ''))`,
			a.DeliveryID, a.SubscriptionID, a.JobID, a.Attempt, a.AttemptedAt, a.Duration, string(a.Result), a.StatusCode, a.Error)
		if err != nil {
			return fmt.Errorf("record attempt of webhook delivery %d: %w", a.DeliveryID, err)
		}
		if a.Result != WebhookGone {
			return nil
		}
		_, err = tx.Exec(ctx, `
			UPDATE regsync.webhook_subscriptions SET disabled_at = now(), disabled_reason = $2
			WHERE id = $1 AND disabled_at IS NULL`, a.SubscriptionID, a.Error)
		if err != nil {
			return fmt.Errorf("disable webhook %s: %w", a.SubscriptionID, err)
		}
		return nil
	})
}
