package worker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/store"
)

// SyncConfig is the policy of the status sync.
type SyncConfig struct {
	// GuardedFrom and GuardedTo make a status change guarded when it leaves a
	// status of GuardedFrom or enters one of GuardedTo: it is applied, read
	// again after DoubleSyncDelay, and reverted if the second read
	// contradicts the first.
	GuardedFrom []registrar.Status
	GuardedTo   []registrar.Status
	// Sticky statuses are decisions of the hosting provider that a sync
	// never overwrites; the registrar's reading is recorded and the status
	// kept.
	Sticky []registrar.Status
	// DoubleSyncDelay is the wait before the confirming second read.
	DoubleSyncDelay time.Duration
	// Interval is how often a domain is synced when its own interval is not
	// set. Each next sync time is jittered by up to a tenth of it either
	// way, so a population added at once spreads out.
	Interval time.Duration
	// RetryAfterRevert is when a domain whose change was reverted (it was
	// flapping) is synced again.
	RetryAfterRevert time.Duration
	// RetryAfterError is when a domain whose sync failed is due for the
	// sweep again; the failed job itself retries sooner with backoff.
	RetryAfterError time.Duration
	// MaxRestarts bounds how often one sync starts over after losing a
	// compare-and-set to another writer.
	MaxRestarts int
}

// DefaultSyncConfig returns the documented defaults.
func DefaultSyncConfig() SyncConfig {
	return SyncConfig{
		GuardedFrom:      []registrar.Status{registrar.StatusActive},
		GuardedTo:        []registrar.Status{registrar.StatusTerminated, registrar.StatusCancelled, registrar.StatusFraud},
		Sticky:           []registrar.Status{registrar.StatusFraud},
		DoubleSyncDelay:  2 * time.Second,
		Interval:         24 * time.Hour,
		RetryAfterRevert: 10 * time.Minute,
		RetryAfterError:  time.Hour,
		MaxRestarts:      3,
	}
}

// Validate reports the first setting that cannot work.
func (c SyncConfig) Validate() error {
	for _, list := range [][]registrar.Status{c.GuardedFrom, c.GuardedTo, c.Sticky} {
		for _, s := range list {
			if !s.Valid() {
				return fmt.Errorf("invalid status %q in sync policy", s)
			}
		}
	}
	switch {
	case c.DoubleSyncDelay < 0:
		return errors.New("double sync delay must not be negative")
	case c.Interval <= 0, c.RetryAfterRevert <= 0, c.RetryAfterError <= 0:
		return errors.New("sync interval and retry delays must be positive")
	case c.MaxRestarts < 0:
		return errors.New("max restarts must not be negative")
	}
	return nil
}

// domainStore is what a sync needs from the store.
type domainStore interface {
	Domain(ctx context.Context, id string) (store.Domain, error)
	MarkUnconfirmed(ctx context.Context, id string, version int64, from, status registrar.Status) (int64, error)
	FinishSync(ctx context.Context, u store.SyncUpdate, o store.Outcome) (bool, error)
	FinishRevert(ctx context.Context, u store.SyncUpdate, reverted, kept store.Outcome) (store.Outcome, error)
}

// ErrNoAdapter means a domain names a registrar no adapter is configured for.
var ErrNoAdapter = errors.New("no registrar adapter configured")

// errTooManyRestarts means a sync kept losing its compare-and-set.
var errTooManyRestarts = errors.New("domain kept changing during the sync")

// Syncer runs the status sync of one domain: the double-sync / revert
// state machine of the status-sync design, between the store and the
// domain's registrar adapter.
type Syncer struct {
	store      domainStore
	registrars map[string]registrar.Registrar
	cfg        SyncConfig
	limiter    *RateLimiter
	metrics    *Metrics
	now        func() time.Time
}

// NewSyncer returns a Syncer reading domains from st and registrars from
// registrars, keyed by adapter name, paced by limiter (nil: unlimited).
func NewSyncer(st domainStore, registrars map[string]registrar.Registrar, cfg SyncConfig, limiter *RateLimiter, metrics *Metrics) (*Syncer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Syncer{store: st, registrars: registrars, cfg: cfg, limiter: limiter, metrics: metrics, now: time.Now}, nil
}

// Run identifies the job run a sync belongs to; zero for a sync run from
// the command line.
type Run struct {
	JobID   int64
	Attempt int
	// AttemptedAt is when River started the run; with JobID it names the
	// run, since a snoozed run gives its attempt number back.
	AttemptedAt time.Time
}

// Sync brings one domain's status in line with its registrar and records
// the outcome. It returns the recorded outcome; an error means the sync
// should be retried, or, when it wraps [store.ErrDomainNotFound],
// [ErrNoAdapter] or a permanent registrar error, must not be. An outcome is
// recorded for every sync that got as far as loading the domain, also when
// an error is returned.
func (s *Syncer) Sync(ctx context.Context, domainID string, run Run) (store.Outcome, error) {
	started := s.now()
	for restarts := 0; ; restarts++ {
		d, err := s.store.Domain(ctx, domainID)
		if err != nil {
			return store.Outcome{}, err
		}
		o := store.Outcome{
			ID: d.ID, Name: d.Name, Registrar: d.Registrar,
			PreviousStatus: d.Status, NewStatus: d.Status,
			JobID: run.JobID, Attempt: run.Attempt, JobAttemptedAt: run.AttemptedAt, StartedAt: started,
		}
		if restarts > s.cfg.MaxRestarts {
			return s.finishWithError(ctx, o, fmt.Errorf("%w: gave up after %d restarts", errTooManyRestarts, s.cfg.MaxRestarts))
		}
		reg, ok := s.registrars[d.Registrar]
		if !ok {
			return s.finishWithError(ctx, o, fmt.Errorf("%w: %q", ErrNoAdapter, d.Registrar))
		}

		var next store.Outcome
		if d.UnconfirmedFrom != "" {
			// An earlier run applied a guarded change and stopped before
			// its double sync settled it: finish that double sync.
			o.PreviousStatus = d.UnconfirmedFrom
			next, err = s.doubleSync(ctx, reg, d, d.UnconfirmedFrom, d.Version, o)
		} else {
			next, err = s.syncOnce(ctx, reg, d, o)
		}
		if errors.Is(err, store.ErrVersionConflict) {
			s.metrics.syncRestarts.WithLabelValues(d.Registrar).Inc()
			continue
		}
		if next.ID != "" {
			s.count(next)
		}
		return next, err
	}
}

// firstRead is what the first registrar read means for the domain.
type firstRead int

const (
	readFailed firstRead = iota
	readUnrecognised
	readKeptSticky
	readUnchanged
	readChanged
	readChangedGuarded
)

// decideFirstRead classifies the first read of a domain whose status is
// previous.
func decideFirstRead(cfg SyncConfig, previous registrar.Status, reading registrar.StatusReading, err error) firstRead {
	switch {
	case err != nil:
		return readFailed
	case reading.Status == registrar.StatusUnknown || !reading.Status.Valid():
		return readUnrecognised
	case slices.Contains(cfg.Sticky, previous):
		return readKeptSticky
	case reading.Status == previous:
		return readUnchanged
	case slices.Contains(cfg.GuardedFrom, previous) || slices.Contains(cfg.GuardedTo, reading.Status):
		return readChangedGuarded
	default:
		return readChanged
	}
}

// decideDoubleSync says whether the second read confirms first, and when
// it does not, what was seen instead.
func decideDoubleSync(first registrar.StatusReading, second registrar.StatusReading, err error) (confirmed bool, contradiction string) {
	switch {
	case err != nil:
		return false, fmt.Sprintf("second read failed: %v", err)
	case second.Status != first.Status:
		return false, fmt.Sprintf("registrar reported %q then %q", first.Raw, second.Raw)
	default:
		return true, ""
	}
}

func (s *Syncer) syncOnce(ctx context.Context, reg registrar.Registrar, d store.Domain, o store.Outcome) (store.Outcome, error) {
	reading, err := s.read(ctx, reg, d)
	o.RegistrarRequestID = requestID(reading, err)
	if err == nil {
		o.RawStatusFirst = &reading.Raw
	}
	switch decideFirstRead(s.cfg, d.Status, reading, err) {
	case readFailed:
		return s.finishWithError(ctx, o, err)
	case readUnrecognised:
		o.Error = text(fmt.Sprintf("unrecognised registrar status %q", reading.Raw))
		return s.finish(ctx, store.SyncUpdate{NextSyncAt: s.after(s.cfg.RetryAfterError)}, o)
	case readKeptSticky:
		o.SyncSuccess = true
		o.Info = text(fmt.Sprintf("Status %s is a local decision and was kept; the registrar reported %q.", d.Status, reading.Raw))
		return s.finish(ctx, store.SyncUpdate{Synced: true, NextSyncAt: s.nextSync(d)}, o)
	case readUnchanged:
		o.SyncSuccess = true
		o.Info = text("Domain status unchanged.")
		return s.finish(ctx, store.SyncUpdate{
			IfVersion: d.Version, Required: true, Synced: true, NextSyncAt: s.nextSync(d),
		}, o)
	case readChanged:
		o.SyncSuccess = true
		o.NewStatus = reading.Status
		o.StatusChanged = true
		o.StatusChangedToActive = reading.Status == registrar.StatusActive
		o.Info = text("Domain status was updated.")
		return s.finish(ctx, store.SyncUpdate{
			IfVersion: d.Version, Required: true, SetStatus: reading.Status, Synced: true, NextSyncAt: s.nextSync(d),
		}, o)
	default: // readChangedGuarded
		version, err := s.store.MarkUnconfirmed(ctx, d.ID, d.Version, d.Status, reading.Status)
		if err != nil {
			return store.Outcome{}, err
		}
		d.Status = reading.Status
		return s.doubleSync(ctx, reg, d, o.PreviousStatus, version, o)
	}
}

// doubleSync reads d again after the configured delay to confirm the
// guarded change from previous to d.Status that is applied at version, and
// reverts it when the registrar contradicts it.
func (s *Syncer) doubleSync(ctx context.Context, reg registrar.Registrar, d store.Domain, previous registrar.Status, version int64, o store.Outcome) (store.Outcome, error) {
	first := registrar.StatusReading{Status: d.Status, Raw: string(d.Status)}
	if o.RawStatusFirst != nil {
		first.Raw = *o.RawStatusFirst
	}
	o.SyncSuccess = true
	o.NewStatus = d.Status
	o.StatusChanged = true
	o.StatusChangedToActive = d.Status == registrar.StatusActive
	o.DoubleSyncAttempted = true

	if err := sleep(ctx, s.cfg.DoubleSyncDelay); err != nil {
		// The change stays marked unconfirmed; the retried job resumes here.
		return store.Outcome{}, err
	}
	second, err := s.read(ctx, reg, d)
	if err == nil {
		o.RawStatusSecond = &second.Raw
	}
	if id := requestID(second, err); id != nil {
		o.RegistrarRequestID = id
	}
	confirmed, contradiction := decideDoubleSync(first, second, err)
	if confirmed {
		s.metrics.doubleSyncs.WithLabelValues("confirmed").Inc()
		o.DoubleSyncSucceeded = true
		o.Info = text("Domain status was updated after a confirming double sync.")
		return s.finish(ctx, store.SyncUpdate{
			IfVersion: version, Settle: true, Synced: true, NextSyncAt: s.nextSync(d),
		}, o)
	}
	if err != nil {
		s.metrics.doubleSyncs.WithLabelValues("error").Inc()
	} else {
		s.metrics.doubleSyncs.WithLabelValues("contradicted").Inc()
	}
	o.DoubleSyncError = text(contradiction)
	o.RevertAttempted = true
	o.FinishedAt = s.now()
	kept := o
	kept.RevertError = text(fmt.Sprintf("domain was changed by another writer after the sync applied %q; left as it is", d.Status))
	kept.Info = text("Status change could not be reverted; the domain will be synced again soon.")
	reverted := o
	reverted.RevertSucceeded = true
	reverted.NewStatus = previous
	reverted.StatusChanged = false
	reverted.StatusChangedToActive = false
	reverted.Info = text("Status change reverted after a contradicting double sync.")
	return s.store.FinishRevert(ctx, store.SyncUpdate{
		IfVersion: version, SetStatus: previous, NextSyncAt: s.after(s.cfg.RetryAfterRevert),
	}, reverted, kept)
}

// finish ends the sync through the store, stamping the outcome's finish
// time, and returns the recorded outcome.
func (s *Syncer) finish(ctx context.Context, u store.SyncUpdate, o store.Outcome) (store.Outcome, error) {
	o.FinishedAt = s.now()
	if _, err := s.store.FinishSync(ctx, u, o); err != nil {
		return store.Outcome{}, err
	}
	return o, nil
}

// finishWithError records a sync that could not read a usable status: the
// domain keeps its status and is due again after the error delay. It
// returns cause so that the job retries or gives up as cause says.
func (s *Syncer) finishWithError(ctx context.Context, o store.Outcome, cause error) (store.Outcome, error) {
	o.SyncSuccess = false
	o.Error = text(cause.Error())
	recorded, err := s.finish(ctx, store.SyncUpdate{NextSyncAt: s.after(s.cfg.RetryAfterError)}, o)
	if err != nil {
		return store.Outcome{}, errors.Join(cause, err)
	}
	return recorded, cause
}

// read asks reg for d's status, within the registrar's rate limit, and
// times the request.
func (s *Syncer) read(ctx context.Context, reg registrar.Registrar, d store.Domain) (registrar.StatusReading, error) {
	if err := s.limiter.Wait(ctx, reg.Name()); err != nil {
		return registrar.StatusReading{}, err
	}
	start := time.Now()
	reading, err := reg.ReadStatus(ctx, registrar.Domain{ID: d.ID, Name: d.Name})
	s.metrics.registrarDuration.WithLabelValues(reg.Name(), "read_status", answerCode(err)).Observe(time.Since(start).Seconds())
	return reading, err
}

// count updates the per-sync metrics from a recorded outcome.
func (s *Syncer) count(o store.Outcome) {
	s.metrics.statusSyncs.WithLabelValues(o.Registrar, Result(o)).Inc()
	if o.StatusChanged {
		s.metrics.statusTransitions.WithLabelValues(string(o.PreviousStatus), string(o.NewStatus)).Inc()
	}
}

// Result names the outcome for metrics and summaries: unchanged, changed,
// reverted, revert_failed or error.
func Result(o store.Outcome) string {
	switch {
	case !o.SyncSuccess:
		return "error"
	case o.RevertAttempted && o.RevertSucceeded:
		return "reverted"
	case o.RevertAttempted:
		return "revert_failed"
	case o.StatusChanged:
		return "changed"
	default:
		return "unchanged"
	}
}

// nextSync is when d is due again after a sync that read its status: its
// interval from now, jittered by up to a tenth either way.
func (s *Syncer) nextSync(d store.Domain) time.Time {
	interval := s.cfg.Interval
	if d.SyncInterval > 0 {
		interval = d.SyncInterval
	}
	jitter := time.Duration((rand.Float64()*2 - 1) * float64(interval) / 10)
	return s.now().Add(interval + jitter)
}

func (s *Syncer) after(d time.Duration) time.Time { return s.now().Add(d) }

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

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func text(s string) *string { return &s }

// requestID is the registrar's id of a read's request, from its reading or
// its error, or nil when the registrar sent none.
func requestID(reading registrar.StatusReading, err error) *string {
	var apiErr *registrar.APIError
	switch {
	case err == nil && reading.RequestID != "":
		return &reading.RequestID
	case errors.As(err, &apiErr) && apiErr.RequestID != "":
		return &apiErr.RequestID
	default:
		return nil
	}
}
