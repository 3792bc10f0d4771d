package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/regsync/regsync/registrar"
)

// Adapter is one configured registrar adapter as the worker calls it. Each
// capability the adapter has is wrapped once, at wiring time, so that
// every call waits for the registrar's shared rate limit, is timed and
// counted in the metrics, and comes back with the registrar's text cleaned
// and bounded ([registrar.CleanText]); a capability the adapter lacks is
// nil. The state machines call registrars only through it.
type Adapter struct {
	Name string
	// Status reads domain statuses.
	Status registrar.Registrar
	// Resetter resets blocked transfers.
	Resetter registrar.TransferResetter
	// TransferStatus reads transfer statuses.
	TransferStatus registrar.TransferStatusReader
}

// Adapters are the configured adapters by name.
type Adapters map[string]Adapter

// NewAdapters wraps each adapter's capabilities with limiter (nil:
// unlimited) and metrics.
func NewAdapters(adapters []registrar.Named, limiter *RateLimiter, metrics *Metrics) Adapters {
	wrapped := make(Adapters, len(adapters))
	for _, a := range adapters {
		call := adapterCall{name: a.Name(), limiter: limiter, metrics: metrics}
		w := Adapter{Name: a.Name()}
		if r, ok := a.(registrar.Registrar); ok {
			w.Status = statusReader{adapterCall: call, inner: r}
		}
		if r, ok := a.(registrar.TransferResetter); ok {
			w.Resetter = resetter{adapterCall: call, inner: r}
		}
		if r, ok := a.(registrar.TransferStatusReader); ok {
			w.TransferStatus = transferStatusReader{adapterCall: call, inner: r}
		}
		wrapped[a.Name()] = w
	}
	return wrapped
}

// statusReader returns the adapter that reads the status of domains of
// registrar name, or an error wrapping [ErrNoAdapter].
func (as Adapters) statusReader(name string) (registrar.Registrar, error) {
	a, ok := as[name]
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: %q", ErrNoAdapter, name)
	case a.Status == nil:
		return nil, fmt.Errorf("%w: %q cannot read domain statuses", ErrNoAdapter, name)
	}
	return a.Status, nil
}

// adapterCall is what every wrapped call does around the adapter's own.
type adapterCall struct {
	name    string
	limiter *RateLimiter
	metrics *Metrics
}

// Name returns the adapter's name.
func (c adapterCall) Name() string { return c.name }

// do waits for the rate limit, runs call, records its duration and
// answer, and cleans its error.
func (c adapterCall) do(ctx context.Context, operation string, call func() error) error {
	if err := c.limiter.Wait(ctx, c.name); err != nil {
		return err
	}
	start := time.Now()
	err := registrar.CleanError(call())
	c.metrics.registrarDuration.WithLabelValues(c.name, operation, answerCode(err)).Observe(time.Since(start).Seconds())
	if errors.Is(err, registrar.ErrUnauthorized) {
		c.metrics.registrarAccessErrors.WithLabelValues(c.name, accessCredentialsRefused).Inc()
	}
	return err
}

type statusReader struct {
	adapterCall
	inner registrar.Registrar
}

func (r statusReader) ReadStatus(ctx context.Context, d registrar.Domain) (registrar.StatusReading, error) {
	var reading registrar.StatusReading
	err := r.do(ctx, "read_status", func() error {
		var err error
		reading, err = r.inner.ReadStatus(ctx, d)
		return err
	})
	return reading.Clean(), err
}

type resetter struct {
	adapterCall
	inner registrar.TransferResetter
}

func (r resetter) ResetTransfer(ctx context.Context, t registrar.Transfer, authInfo string) (registrar.ResetResult, error) {
	var res registrar.ResetResult
	err := r.do(ctx, "reset_transfer", func() error {
		var err error
		res, err = r.inner.ResetTransfer(ctx, t, authInfo)
		r.metrics.transferResets.WithLabelValues(r.name, resetResult(err)).Inc()
		return err
	})
	res.RequestID = registrar.CleanText(res.RequestID, registrar.MaxIDBytes)
	return res, err
}

type transferStatusReader struct {
	adapterCall
	inner registrar.TransferStatusReader
}

func (r transferStatusReader) ReadTransferStatus(ctx context.Context, t registrar.Transfer) (registrar.TransferStatus, error) {
	var status registrar.TransferStatus
	err := r.do(ctx, "read_transfer_status", func() error {
		var err error
		status, err = r.inner.ReadTransferStatus(ctx, t)
		return err
	})
	return status.Clean(), err
}

// answerCode names a registrar answer for the request-duration metric: ok,
// the HTTP status of an API error, timeout, or error.
func answerCode(err error) string {
	var apiErr *registrar.APIError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &apiErr):
		return fmt.Sprint(apiErr.Status)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	default:
		return "error"
	}
}
