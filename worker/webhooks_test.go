package worker

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/regsync/regsync/store"
)

// verifySignature is the README's verification snippet, word for word
// (TestTheREADMEShowsTheTestedVerification checks it): what a receiver
// runs on each delivery.
//
// verifySignature checks the Regsync-Signature header of a delivery: the
// HMAC-SHA256 of "<t>.<body>" keyed with the subscription's secret, and a
// timestamp t at most five minutes from now, so that a captured delivery
// cannot be replayed later.
func verifySignature(secret []byte, header string, body []byte, now time.Time) error {
	var timestamp string
	var signatures []string
	for part := range strings.SplitSeq(header, ",") {
		key, value, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch key {
		case "t":
			timestamp = value
		case "v1":
			signatures = append(signatures, value)
		}
	}
	seconds, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return errors.New("signature: no timestamp")
	}
	if age := now.Sub(time.Unix(seconds, 0)); age > 5*time.Minute || age < -5*time.Minute {
		return errors.New("signature: timestamp too old or in the future")
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp + "."))
	mac.Write(body)
	expected := mac.Sum(nil)
	for _, signature := range signatures {
		if got, err := hex.DecodeString(signature); err == nil && hmac.Equal(got, expected) {
			return nil
		}
	}
	return errors.New("signature: no valid v1 signature")
}

// TestTheREADMEShowsTheTestedVerification checks that the README's Go
// verification snippet is verifySignature above, which the delivery tests
// run on real deliveries.
func TestTheREADMEShowsTheTestedVerification(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	source, err := os.ReadFile("webhooks_test.go")
	require.NoError(t, err)
	function := func(text string) string {
		start := strings.Index(text, "\nfunc verifySignature(")
		require.GreaterOrEqual(t, start, 0)
		end := strings.Index(text[start:], "\n}\n")
		require.Positive(t, end)
		return text[start : start+end+3]
	}
	_, section, found := strings.Cut(string(readme), "\n### Webhooks\n")
	require.True(t, found, "the README has a Webhooks section")
	require.Equal(t, function(string(source)), function(section))
}

func TestSignWebhook(t *testing.T) {
	t.Parallel()
	secret := []byte("whsec_test")
	body := []byte(`{"event":"changed"}`)
	at := time.Unix(1732600000, 0)
	header := SignWebhook(secret, body, at)
	// Computed independently: printf '1732600000.{"event":"changed"}' | openssl dgst -sha256 -hmac whsec_test
	require.Equal(t, "t=1732600000,v1=734984a6eab1a8a3c90a12c272b3c5ae939237b026327a3b9b14d86a9f1c0ba2", header)
	require.NoError(t, verifySignature(secret, header, body, at.Add(4*time.Minute)))
	require.ErrorContains(t, verifySignature(secret, header, body, at.Add(6*time.Minute)), "too old", "a replay after the window")
	require.ErrorContains(t, verifySignature(secret, header, body, at.Add(-6*time.Minute)), "in the future")
	require.ErrorContains(t, verifySignature([]byte("whsec_other"), header, body, at), "no valid")
	require.ErrorContains(t, verifySignature(secret, header, []byte(`{"event":"reverted"}`), at), "no valid", "a changed body")
	require.ErrorContains(t, verifySignature(secret, strings.Replace(header, "t=1732600000", "t=1732600001", 1), body, at), "no valid", "a changed timestamp")
	require.ErrorContains(t, verifySignature(secret, "v1=00", body, at), "no timestamp")
	require.NoError(t, verifySignature(secret, "v1=00, "+header, body, at), "any v1 signature may match")
}

func TestWebhookResult(t *testing.T) {
	t.Parallel()
	noAnswer := errors.New("connection refused")
	for _, c := range []struct {
		answer      WebhookAnswer
		lastAttempt bool
		want        store.WebhookResult
	}{
		{WebhookAnswer{StatusCode: 200}, false, store.WebhookDelivered},
		{WebhookAnswer{StatusCode: 204}, true, store.WebhookDelivered},
		{WebhookAnswer{Err: noAnswer}, false, store.WebhookFailedRetrying},
		{WebhookAnswer{Err: noAnswer}, true, store.WebhookGaveUp},
		{WebhookAnswer{StatusCode: 500}, false, store.WebhookFailedRetrying},
		{WebhookAnswer{StatusCode: 503}, true, store.WebhookGaveUp},
		{WebhookAnswer{StatusCode: 408}, false, store.WebhookFailedRetrying},
		{WebhookAnswer{StatusCode: 429}, false, store.WebhookFailedRetrying},
		{WebhookAnswer{StatusCode: 410}, false, store.WebhookGone},
		{WebhookAnswer{StatusCode: 400}, false, store.WebhookRejected},
		{WebhookAnswer{StatusCode: 401}, false, store.WebhookRejected},
		{WebhookAnswer{StatusCode: 404}, true, store.WebhookRejected},
		{WebhookAnswer{StatusCode: 301}, false, store.WebhookRejected},
		{WebhookAnswer{StatusCode: 100}, false, store.WebhookRejected},
	} {
		require.Equal(t, c.want, webhookResult(c.answer, c.lastAttempt), "%+v, last attempt %t", c.answer, c.lastAttempt)
	}
}

// TestWebhookRetriesBackOff checks the delivery's retry schedule: River's
// attempt^4 seconds, jittered by a tenth, capped at an hour, so that the
// 24 waits between 25 attempts add up to about 18 hours.
func TestWebhookRetriesBackOff(t *testing.T) {
	t.Parallel()
	w := NewWebhookDeliveryWorker(nil, nil, DefaultWebhookConfig(), nil, zap.NewNop())
	var total time.Duration
	for attempt := 1; attempt < WebhookMaxAttempts; attempt++ {
		before := time.Now()
		next := w.NextRetry(&river.Job[WebhookDeliveryArgs]{JobRow: &rivertype.JobRow{Attempt: attempt, Errors: make([]rivertype.AttemptError, attempt-1)}})
		wait := next.Sub(before)
		base := min(time.Duration(attempt*attempt*attempt*attempt)*time.Second, time.Hour)
		require.InDelta(t, base.Seconds(), wait.Seconds(), base.Seconds()/10+1, "after attempt %d", attempt)
		require.LessOrEqual(t, wait, time.Hour+time.Second)
		total += wait
	}
	require.InDelta(t, 18.3, total.Hours(), 0.5)
}

func TestWebhookDeliveryArgs(t *testing.T) {
	t.Parallel()
	var args WebhookDeliveryArgs
	require.NoError(t, json.Unmarshal([]byte(`{"delivery_id": 42}`), &args))
	require.Equal(t, int64(42), args.DeliveryID)
	for _, bad := range []string{`[]`, `{}`, `{"delivery_id": "42"}`, `{"delivery_id": 0}`, `{"delivery_id": -1}`,
		`{"delivery_id": 1.5}`, `{"delivery_id": null}`, `{"delivery_id": 1, "url": "x"}`} {
		var invalid *InvalidArgsError
		require.ErrorAs(t, json.Unmarshal([]byte(bad), &args), &invalid, bad)
	}
	opts := args.InsertOpts()
	require.Equal(t, QueueWebhook, opts.Queue)
	require.Equal(t, WebhookMaxAttempts, opts.MaxAttempts)
}
