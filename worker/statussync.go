package worker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
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
	// MaxConfirmFailures is how many confirming reads of a guarded change
	// may get an error from the registrar, instead of a status, before the
	// change is reverted as unconfirmed. Each failure is recorded and the
	// read retried with the job's backoff; regsync's own interruptions (a
	// job timeout, a shutdown) do not count.
	MaxConfirmFailures int
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
	// ConfirmVia names, per registrar adapter, another adapter whose read
	// confirms a guarded change instead of a second read of the same
	// registrar: "hostup" confirmed by "rdap", say. See
	// [decideSecondOpinion] for how the two views are compared.
	ConfirmVia map[string]string
	// SecondOpinionLag is how long a second opinion that has not seen a
	// change yet (a registry still showing active a hold the registrar
	// set) is asked again before the change counts as contradicted.
	SecondOpinionLag time.Duration
	// OwnSponsors lists, per registrar adapter, the sponsor ids (EPP clID,
	// RDAP registrar IANA id) that are the hosting provider's own; a read
	// naming another sponsor finds the domain transferred away. None
	// listed: sponsors are not checked.
	OwnSponsors map[string][]string
	// TransferredAwayAfter is how long after a sync first finds a domain
	// transferred away a later sync must find the same before the domain
	// is set to cancelled.
	TransferredAwayAfter time.Duration
	// DryRun names the registrars whose syncs only record what they would
	// change, flagged as dry runs, and change no domain; "all" names every
	// registrar. See [Syncer.dryRun].
	DryRun []string
}

// dryRun reports whether syncs of the registrar are dry runs.
func (c SyncConfig) dryRun(registrar string) bool {
	return slices.Contains(c.DryRun, "all") || slices.Contains(c.DryRun, registrar)
}

// DefaultSyncConfig returns the documented defaults.
func DefaultSyncConfig() SyncConfig {
	return SyncConfig{
		GuardedFrom:          []registrar.Status{registrar.StatusActive},
		GuardedTo:            []registrar.Status{registrar.StatusTerminated, registrar.StatusCancelled, registrar.StatusFraud},
		Sticky:               []registrar.Status{registrar.StatusFraud},
		DoubleSyncDelay:      2 * time.Second,
		MaxConfirmFailures:   3,
		Interval:             24 * time.Hour,
		RetryAfterRevert:     10 * time.Minute,
		RetryAfterError:      time.Hour,
		MaxRestarts:          3,
		SecondOpinionLag:     15 * time.Minute,
		TransferredAwayAfter: 24 * time.Hour,
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
	case c.MaxConfirmFailures < 1:
		return errors.New("max confirm failures must be at least 1")
	case c.SecondOpinionLag <= 0, c.TransferredAwayAfter <= 0:
		return errors.New("second opinion lag and transferred-away wait must be positive")
	}
	for from, via := range c.ConfirmVia {
		if from == via {
			return fmt.Errorf("registrar %q cannot be its own second opinion", from)
		}
	}
	return nil
}

// domainStore is what a sync needs from the store.
type domainStore interface {
	Domain(ctx context.Context, id string) (store.Domain, error)
	MarkUnconfirmed(ctx context.Context, id string, version int64, status registrar.Status, change store.Unconfirmed) error
	FinishSync(ctx context.Context, u store.SyncUpdate, o store.Outcome) (store.Outcome, error)
	FinishEither(ctx context.Context, u store.SyncUpdate, ifMatched, ifLost store.Outcome) (store.Outcome, error)
}

// ErrNoAdapter means a domain or transfer names a registrar that no
// adapter is configured for here, or whose adapter lacks what is needed.
// It is the operator's problem, not the domain's: the job is given back
// and retried later.
var ErrNoAdapter = errors.New("no registrar adapter configured")

// errTooManyRestarts means a sync kept losing its compare-and-set.
var errTooManyRestarts = errors.New("domain kept changing during the sync")

// errConfirmFailed means a confirming read got an error from the
// registrar; the change stays unconfirmed and the read is retried.
var errConfirmFailed = errors.New("the confirming read of a guarded change failed")

// ConfirmLaterError means a guarded change is applied and its confirming
// double sync is due after Wait: the job is given back for that long
// instead of holding a worker, and the next run confirms or reverts.
type ConfirmLaterError struct {
	Wait time.Duration
}

func (e *ConfirmLaterError) Error() string {
	return fmt.Sprintf("guarded change applied; its double sync is due in %s", e.Wait)
}

// Syncer runs the status sync of one domain: the double-sync / revert
// state machine of the status-sync design, between the store and the
// domain's registrar adapter.
type Syncer struct {
	store    domainStore
	adapters Adapters
	cfg      SyncConfig
	metrics  *Metrics
	now      func() time.Time
}

// NewSyncer returns a Syncer reading domains from st and registrars
// through adapters. Every second opinion cfg names must be among adapters.
func NewSyncer(st domainStore, adapters Adapters, cfg SyncConfig, metrics *Metrics) (*Syncer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	for from, via := range cfg.ConfirmVia {
		if _, err := adapters.statusReader(via); err != nil {
			return nil, fmt.Errorf("second opinion of %q: %w", from, err)
		}
	}
	return &Syncer{store: st, adapters: adapters, cfg: cfg, metrics: metrics, now: time.Now}, nil
}

// Run identifies the job run a sync belongs to; zero for a sync run from
// the command line.
type Run struct {
	JobID   int64
	Attempt int
	// AttemptedAt is when River started the run; with JobID it names the
	// run, since a snoozed run gives its attempt number back. Zero for a
	// sync run from the command line, whose own start names it.
	AttemptedAt time.Time
}

// Sync brings one domain's status in line with its registrar and records
// the outcome, at most one per run. It returns the recorded outcome and
// an error when the job should not simply complete, as [jobError] maps it:
//
//   - a [*ConfirmLaterError]: a guarded change was applied and waits for
//     its double sync; nothing is recorded yet.
//   - ctx's error, when regsync itself cut the run short (a job timeout, a
//     shutdown): nothing is recorded, and an applied guarded change stays
//     unconfirmed for the next run to finish.
//   - a registrar error: recorded; retried, snoozed or cancelled by kind.
//   - [store.ErrDomainNotFound] or [ErrNoAdapter] and the like.
func (s *Syncer) Sync(ctx context.Context, domainID string, run Run) (store.Outcome, error) {
	started := s.now()
	if run.AttemptedAt.IsZero() {
		run.AttemptedAt = started
	}
	ctx = withRun(ctx, run)
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
		reg, err := s.adapters.statusReader(d.Registrar)
		if err != nil {
			s.metrics.registrarAccessErrors.WithLabelValues(d.Registrar, accessNotConfigured).Inc()
			return s.finishWithError(ctx, o, err)
		}

		var next store.Outcome
		if d.Unconfirmed != nil {
			// A guarded change waits for its double sync, applied by this
			// sync's earlier run or by an interrupted one: finish it.
			next, err = s.confirm(ctx, reg, d, o)
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

// SyncNow is [Syncer.Sync] for a sync run outside the job queue, from the
// command line: it waits in place for a guarded change's double sync
// instead of giving the run back.
func (s *Syncer) SyncNow(ctx context.Context, domainID string) (store.Outcome, error) {
	for {
		o, err := s.Sync(ctx, domainID, Run{})
		var later *ConfirmLaterError
		if !errors.As(err, &later) {
			return o, err
		}
		if err := sleep(ctx, later.Wait); err != nil {
			return o, err
		}
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

// confirmation is what a confirming read means for an unconfirmed change.
type confirmation int

const (
	// confirmConfirmed: the registrar reports the applied status again.
	confirmConfirmed confirmation = iota
	// confirmContradicted: the registrar reports another status: revert.
	confirmContradicted
	// confirmDeferred: no answer about the domain, through no fault of the
	// registrar's reading (a rate limit, the shared limit's slot too far
	// away, refused credentials): read again later without counting a
	// failure.
	confirmDeferred
	// confirmFailed: the registrar answered an error; read again later.
	confirmFailed
	// confirmGaveUp: the registrar answered errors too often: revert the
	// change as unconfirmed.
	confirmGaveUp
	// confirmNotYet: a second opinion has not seen the change yet; ask it
	// again later, for at most the second-opinion lag.
	confirmNotYet
	// confirmCannotTell: a second opinion has no say on the change; the
	// domain's own registrar confirms it.
	confirmCannotTell
)

// decideConfirmation classifies the confirming read of a change to
// applied that failed failures times before, allowing maxFailures. It
// is called only for reads that regsync did not cut short itself.
func decideConfirmation(applied registrar.Status, second registrar.StatusReading, err error, failures, maxFailures int) confirmation {
	switch {
	case errors.Is(err, registrar.ErrRateLimited), errors.Is(err, registrar.ErrUnauthorized), errors.Is(err, ErrRateLimitWait):
		return confirmDeferred
	case err != nil && failures+1 >= maxFailures:
		return confirmGaveUp
	case err != nil:
		return confirmFailed
	case second.Status != applied:
		return confirmContradicted
	default:
		return confirmConfirmed
	}
}

func (s *Syncer) syncOnce(ctx context.Context, reg registrar.Registrar, d store.Domain, o store.Outcome) (store.Outcome, error) {
	reading, err := reg.ReadStatus(ctx, registrar.Domain{ID: d.ID, Name: d.Name})
	if err != nil && (ctx.Err() != nil || errors.Is(err, ErrRateLimitWait)) {
		// Cut short by regsync itself, or given back to wait for a rate
		// limit slot: nothing was learned.
		return store.Outcome{}, err
	}
	o.RegistrarRequestID = requestID(reading, err)
	if err == nil {
		o.RawStatusFirst = &reading.Raw
		o.Sponsor = nonEmpty(reading.Sponsor)
	}
	if s.cfg.dryRun(d.Registrar) {
		return s.dryRun(ctx, reg, d, o, reading, err)
	}
	if why, away := transferredAway(s.cfg, d, reading, err); away {
		return s.finishTransferredAway(ctx, d, o, why)
	}
	// The writes below keep the status, so they need not win: at another
	// version (an import renamed the domain or moved it to another
	// registrar meanwhile) they only record the outcome and leave the
	// domain due at once.
	switch decideFirstRead(s.cfg, d.Status, reading, err) {
	case readFailed:
		return s.finishWithError(ctx, o, err)
	case readUnrecognised:
		o.Error = text(fmt.Sprintf("unrecognised registrar status %q", reading.Raw))
		return s.finish(ctx, store.SyncUpdate{IfVersion: d.Version, NextSyncAt: s.after(s.cfg.RetryAfterError)}, o)
	case readKeptSticky:
		o.SyncSuccess = true
		o.Info = text(fmt.Sprintf("Status %s is a local decision and was kept; the registrar reported %q.", d.Status, reading.Raw))
		return s.finish(ctx, s.withRegistration(d, reading, store.SyncUpdate{IfVersion: d.Version, Synced: true, NextSyncAt: s.nextSync(d)}, &o), o)
	case readUnchanged:
		o.SyncSuccess = true
		o.Info = text("Domain status unchanged.")
		return s.finish(ctx, s.withRegistration(d, reading, store.SyncUpdate{
			IfVersion: d.Version, Required: true, Synced: true, NextSyncAt: s.nextSync(d),
		}, &o), o)
	case readChanged:
		o.SyncSuccess = true
		o.NewStatus = reading.Status
		o.StatusChanged = true
		o.StatusChangedToActive = reading.Status == registrar.StatusActive
		o.Info = text("Domain status was updated.")
		return s.finish(ctx, s.withRegistration(d, reading, store.SyncUpdate{
			IfVersion: d.Version, Required: true, SetStatus: reading.Status, Synced: true, NextSyncAt: s.nextSync(d),
		}, &o), o)
	default: // readChangedGuarded
		change := store.Unconfirmed{From: d.Status, Raw: reading.Raw}
		if err := s.store.MarkUnconfirmed(ctx, d.ID, d.Version, reading.Status, change); err != nil {
			return store.Outcome{}, err
		}
		return store.Outcome{}, &ConfirmLaterError{Wait: s.cfg.DoubleSyncDelay}
	}
}

// confirm runs the double sync of d's unconfirmed change once its delay
// has passed: it reads the registrar again and confirms the change,
// reverts it, or records a failed read to retry, as [decideConfirmation]
// says.
func (s *Syncer) confirm(ctx context.Context, reg registrar.Registrar, d store.Domain, o store.Outcome) (store.Outcome, error) {
	change := d.Unconfirmed
	if wait := change.At.Add(s.cfg.DoubleSyncDelay).Sub(s.now()); wait > 0 {
		return store.Outcome{}, &ConfirmLaterError{Wait: wait}
	}
	o.PreviousStatus = change.From
	o.NewStatus = d.Status
	o.RawStatusFirst = &change.Raw
	o.StatusChanged = true
	o.StatusChangedToActive = d.Status == registrar.StatusActive
	o.SyncSuccess = true
	o.DoubleSyncAttempted = true

	read := s.readAgain(ctx, reg, d, d.Status, change.Failures)
	second, err := read.reading, read.err
	o.ConfirmSource, o.ConfirmFallback = &read.source, nonEmpty(read.fallback)
	if err != nil && ctx.Err() != nil {
		// Cut short by regsync itself: no answer, so no revert. The change
		// stays unconfirmed and the retried job resumes here.
		s.metrics.doubleSyncs.WithLabelValues(doubleSyncInterrupted).Inc()
		return store.Outcome{}, err
	}
	if id := requestID(second, err); id != nil {
		o.RegistrarRequestID = id
	}
	if err == nil {
		o.RawStatusSecond = &second.Raw
		o.Sponsor = nonEmpty(second.Sponsor)
	}

	lost := o
	lost.RevertError = text(fmt.Sprintf("domain was changed by another writer after the sync applied %q; left as it is", d.Status))
	lost.Info = text("The domain was changed by another writer during the double sync and was left as it is; it will be synced again soon.")
	contradiction := fmt.Sprintf("registrar reported %q then %q", change.Raw, second.Raw)
	if read.source != d.Registrar {
		contradiction = fmt.Sprintf("%s reported %q, then %s reported %q", d.Registrar, change.Raw, read.source, second.Raw)
	}
	switch read.verdict {
	case confirmConfirmed:
		s.metrics.doubleSyncs.WithLabelValues(doubleSyncConfirmed).Inc()
		o.DoubleSyncSucceeded = true
		o.Info = text("Domain status was updated after a confirming double sync.")
		u := s.withRegistration(d, second, store.SyncUpdate{
			IfVersion: d.Version, Settle: true, Synced: true, NextSyncAt: s.nextSync(d),
		}, &o)
		lost.DoubleSyncSucceeded, lost.RevertError = true, nil
		return s.finishEither(ctx, u, o, lost)
	case confirmNotYet:
		deadline := change.At.Add(s.cfg.SecondOpinionLag)
		if wait := deadline.Sub(s.now()); wait > 0 {
			s.metrics.doubleSyncs.WithLabelValues(doubleSyncNotYet).Inc()
			return store.Outcome{}, &ConfirmLaterError{Wait: min(wait, max(s.cfg.DoubleSyncDelay, s.cfg.SecondOpinionLag/10))}
		}
		contradiction = fmt.Sprintf("%s reported %q; %s still reported %q %s later", d.Registrar, change.Raw, read.source, second.Raw,
			s.cfg.SecondOpinionLag)
	case confirmDeferred:
		s.metrics.doubleSyncs.WithLabelValues(doubleSyncDeferred).Inc()
		return store.Outcome{}, err
	case confirmFailed:
		s.metrics.doubleSyncs.WithLabelValues(doubleSyncFailed).Inc()
		failed := fmt.Sprintf("confirming read %d of %d failed: %v", change.Failures+1, s.cfg.MaxConfirmFailures, err)
		o.SyncSuccess = false
		o.Error = text(err.Error())
		o.DoubleSyncError = text(failed)
		o.Info = text("Status change applied and not yet confirmed; the confirming read failed and will be retried.")
		recorded, writeErr := s.finish(ctx, store.SyncUpdate{
			IfVersion: d.Version, Required: true, CountConfirmFailure: true, NextSyncAt: s.after(s.cfg.RetryAfterError),
		}, o)
		if writeErr != nil {
			return store.Outcome{}, writeErr
		}
		return recorded, fmt.Errorf("%w: %w", errConfirmFailed, err)
	}

	// Contradicted, or never confirmed: revert to the status the change
	// replaced, only if the domain still holds what the sync wrote.
	if err != nil {
		s.metrics.doubleSyncs.WithLabelValues(doubleSyncGaveUp).Inc()
		o.DoubleSyncError = text(fmt.Sprintf("the registrar did not confirm the change: %d confirming reads failed, the last with: %v",
			change.Failures+1, err))
	} else {
		s.metrics.doubleSyncs.WithLabelValues(doubleSyncContradicted).Inc()
		o.DoubleSyncError = text(contradiction)
	}
	o.RevertAttempted = true
	lost.DoubleSyncError, lost.RevertAttempted = o.DoubleSyncError, true
	reverted := o
	reverted.RevertSucceeded = true
	reverted.NewStatus = change.From
	reverted.StatusChanged = false
	reverted.StatusChangedToActive = false
	reverted.Info = text("Status change reverted after a contradicting double sync.")
	if err != nil {
		reverted.Info = text("Status change reverted: the registrar did not confirm it.")
	}
	return s.finishEither(ctx, store.SyncUpdate{
		IfVersion: d.Version, SetStatus: change.From, NextSyncAt: s.after(s.cfg.RetryAfterRevert),
	}, reverted, lost)
}

// confirmingRead is the confirming read of a guarded change: what was
// read, by which adapter, what it means for the change, and, when the
// configured second opinion could not tell, why.
type confirmingRead struct {
	reading  registrar.StatusReading
	err      error
	verdict  confirmation
	source   string
	fallback string
}

// readAgain makes the confirming read of a change of d to applied, whose
// confirming reads failed failures times before: through the second
// opinion configured for d's registrar, as [decideSecondOpinion] judges
// it, and through reg, as [decideConfirmation] judges it, when there is
// none or it cannot tell.
func (s *Syncer) readAgain(ctx context.Context, reg registrar.Registrar, d store.Domain, applied registrar.Status, failures int) confirmingRead {
	domain := registrar.Domain{ID: d.ID, Name: d.Name}
	var fallback string
	if via, ok := s.cfg.ConfirmVia[d.Registrar]; ok {
		// NewSyncer checked that the adapter is configured.
		viaReader, _ := s.adapters.statusReader(via)
		reading, err := viaReader.ReadStatus(ctx, domain)
		verdict := decideSecondOpinion(applied, reading, err, failures, s.cfg.MaxConfirmFailures, s.now())
		if verdict != confirmCannotTell {
			return confirmingRead{reading: reading, err: err, verdict: verdict, source: via}
		}
		s.metrics.doubleSyncFallbacks.WithLabelValues(d.Registrar, via).Inc()
		fallback = fmt.Sprintf("%s cannot confirm %s: it reported %q", via, applied, reading.Raw)
		if err != nil {
			fallback = fmt.Sprintf("%s cannot confirm %s: %v", via, applied, err)
		}
	}
	reading, err := reg.ReadStatus(ctx, domain)
	verdict := decideConfirmation(applied, reading, err, failures, s.cfg.MaxConfirmFailures)
	return confirmingRead{reading: reading, err: err, verdict: verdict, source: d.Registrar, fallback: fallback}
}

// dryRun records what a sync of d that read reading (or err) would do, as
// the live sync would decide it, flagged as a dry run, and changes nothing
// of d but its sync times. A guarded change is double-checked there and
// then: the run waits the double-sync delay holding its worker, since no
// unconfirmed change is left on the domain for a later run to finish. An
// unconfirmed change applied before dry runs were turned on is finished
// by the live path, so that none is left behind.
func (s *Syncer) dryRun(ctx context.Context, reg registrar.Registrar, d store.Domain, o store.Outcome, reading registrar.StatusReading, err error) (store.Outcome, error) {
	o.DryRun = true
	// Bookkeeping only: no status, expiry date or transferred-away mark.
	keepDomain := func(u store.SyncUpdate) store.SyncUpdate {
		u.SetExpiresAt, u.TransferredAway = nil, store.KeepTransferredAway
		return u
	}
	synced := store.SyncUpdate{Synced: true, NextSyncAt: s.nextSync(d)}
	if why, away := transferredAway(s.cfg, d, reading, err); away {
		o.SyncSuccess, o.TransferredAway = true, true
		o.Info = text(fmt.Sprintf("Dry run: the domain looks transferred away: %s. A live sync would set it to cancelled once a sync %s later finds the same.",
			why, s.cfg.TransferredAwayAfter))
		return s.finish(ctx, synced, o)
	}
	switch decideFirstRead(s.cfg, d.Status, reading, err) {
	case readFailed:
		return s.finishWithError(ctx, o, err)
	case readUnrecognised:
		o.Error = text(fmt.Sprintf("unrecognised registrar status %q", reading.Raw))
		return s.finish(ctx, store.SyncUpdate{NextSyncAt: s.after(s.cfg.RetryAfterError)}, o)
	case readKeptSticky, readUnchanged:
		o.SyncSuccess = true
		o.Info = text(fmt.Sprintf("Dry run: the status %s would be kept; the registrar reported %q.", d.Status, reading.Raw))
		return s.finish(ctx, keepDomain(s.withRegistration(d, reading, synced, &o)), o)
	case readChanged:
		o.SyncSuccess = true
		o.NewStatus, o.StatusChanged, o.StatusChangedToActive = reading.Status, true, reading.Status == registrar.StatusActive
		o.Info = text(fmt.Sprintf("Dry run: the status would be updated from %s to %s.", d.Status, reading.Status))
		return s.finish(ctx, keepDomain(s.withRegistration(d, reading, synced, &o)), o)
	}

	// A guarded change: double-check it now.
	o.SyncSuccess = true
	o.NewStatus, o.StatusChanged, o.StatusChangedToActive = reading.Status, true, reading.Status == registrar.StatusActive
	o.DoubleSyncAttempted = true
	if err := sleep(ctx, s.cfg.DoubleSyncDelay); err != nil {
		return store.Outcome{}, err
	}
	read := s.readAgain(ctx, reg, d, reading.Status, 0)
	if read.err != nil && ctx.Err() != nil {
		return store.Outcome{}, read.err
	}
	o.ConfirmSource, o.ConfirmFallback = &read.source, nonEmpty(read.fallback)
	if read.err == nil {
		o.RawStatusSecond = &read.reading.Raw
	}
	switch read.verdict {
	case confirmConfirmed:
		s.metrics.doubleSyncs.WithLabelValues(doubleSyncConfirmed).Inc()
		o.DoubleSyncSucceeded = true
		o.Info = text(fmt.Sprintf("Dry run: the status would be updated from %s to %s after a confirming double sync.", d.Status, reading.Status))
		return s.finish(ctx, keepDomain(s.withRegistration(d, read.reading, synced, &o)), o)
	case confirmContradicted:
		s.metrics.doubleSyncs.WithLabelValues(doubleSyncContradicted).Inc()
		o.DoubleSyncError = text(fmt.Sprintf("%s reported %q, then %s reported %q", d.Registrar, reading.Raw, read.source, read.reading.Raw))
		o.RevertAttempted, o.RevertSucceeded = true, true
		o.NewStatus, o.StatusChanged, o.StatusChangedToActive = d.Status, false, false
		o.Info = text(fmt.Sprintf("Dry run: the change to %s would be applied and then reverted: the confirming read contradicted it.", reading.Status))
	case confirmNotYet:
		o.DoubleSyncError = text(fmt.Sprintf("%s has not seen the change yet: it reported %q", read.source, read.reading.Raw))
		o.Info = text(fmt.Sprintf("Dry run: the change to %s would be applied and confirmed again for up to %s.", reading.Status, s.cfg.SecondOpinionLag))
	default: // a failed or deferred confirming read
		o.DoubleSyncError = text(fmt.Sprintf("the confirming read failed: %v", read.err))
		o.Info = text(fmt.Sprintf("Dry run: the change to %s would be applied and its confirming read retried.", reading.Status))
	}
	return s.finish(ctx, synced, o)
}

// withRegistration adds to the last write of a sync that read reading
// what the read says about d's registration: the expiry date, as
// [decideExpiry] decides, recorded before and after on o, and the end of a
// transferred-away mark the read did not confirm.
func (s *Syncer) withRegistration(d store.Domain, reading registrar.StatusReading, u store.SyncUpdate, o *store.Outcome) store.SyncUpdate {
	o.ExpiresAtBefore, o.ExpiresAtAfter = d.ExpiresAt, d.ExpiresAt
	apply, problem := decideExpiry(d.ExpiresAt, reading.ExpiresAt, o.StatusChanged, s.now())
	if apply != nil {
		u.SetExpiresAt, o.ExpiresAtAfter = apply, apply
	}
	if problem != "" {
		o.ExpiryError = text(problem)
	}
	if d.TransferredAwayAt != nil {
		u.TransferredAway = store.ClearTransferredAway
	}
	return u
}

// finishTransferredAway records a read that found d transferred away, as
// why says. The first sighting is recorded and the domain is synced again
// once TransferredAwayAfter has passed; a sighting at least that long
// after the first sets the domain to cancelled.
func (s *Syncer) finishTransferredAway(ctx context.Context, d store.Domain, o store.Outcome, why string) (store.Outcome, error) {
	o.SyncSuccess = true
	o.TransferredAway = true
	now := s.now()
	if d.TransferredAwayAt == nil || now.Sub(*d.TransferredAwayAt) < s.cfg.TransferredAwayAfter {
		firstSeen := now
		if d.TransferredAwayAt != nil {
			firstSeen = *d.TransferredAwayAt
		}
		due := firstSeen.Add(s.cfg.TransferredAwayAfter)
		o.Info = text(fmt.Sprintf("The domain looks transferred away: %s. It is set to cancelled if a sync from %s on finds the same.",
			why, due.UTC().Format(time.RFC3339)))
		return s.finish(ctx, store.SyncUpdate{
			IfVersion: d.Version, Required: true, Synced: true, TransferredAway: store.SeenTransferredAway, NextSyncAt: due,
		}, o)
	}
	o.NewStatus = registrar.StatusCancelled
	o.StatusChanged = true
	o.DoubleSyncAttempted, o.DoubleSyncSucceeded = true, true
	o.Info = text(fmt.Sprintf("Status set to cancelled: the domain was transferred away (%s), as a sync %s earlier found too.",
		why, now.Sub(*d.TransferredAwayAt).Round(time.Second)))
	return s.finish(ctx, store.SyncUpdate{
		IfVersion: d.Version, Required: true, SetStatus: registrar.StatusCancelled, Synced: true,
		TransferredAway: store.ClearTransferredAway, NextSyncAt: s.nextSync(d),
	}, o)
}

// finish ends the sync through the store, stamping the outcome's finish
// time, and returns the recorded outcome.
func (s *Syncer) finish(ctx context.Context, u store.SyncUpdate, o store.Outcome) (store.Outcome, error) {
	o.FinishedAt = s.now()
	return s.store.FinishSync(ctx, u, o)
}

// finishEither ends the sync with ifMatched, or ifLost when the domain
// changed meanwhile, and returns the one recorded.
func (s *Syncer) finishEither(ctx context.Context, u store.SyncUpdate, ifMatched, ifLost store.Outcome) (store.Outcome, error) {
	ifMatched.FinishedAt = s.now()
	ifLost.FinishedAt = ifMatched.FinishedAt
	return s.store.FinishEither(ctx, u, ifMatched, ifLost)
}

// finishWithError records a sync that could not read a usable status: the
// domain keeps its status and is due again after the error delay. It
// returns cause so that the job retries or gives up as cause says. When
// the record cannot be written, it returns the write's error, with cause
// only in its message: a job must not end on an answer that nothing
// recorded.
func (s *Syncer) finishWithError(ctx context.Context, o store.Outcome, cause error) (store.Outcome, error) {
	o.SyncSuccess = false
	o.Error = text(cause.Error())
	recorded, err := s.finish(ctx, store.SyncUpdate{NextSyncAt: s.after(s.cfg.RetryAfterError)}, o)
	if err != nil {
		return store.Outcome{}, fmt.Errorf("record the failed sync (%v): %w", cause, err)
	}
	return recorded, cause
}

// count updates the per-sync metrics from a recorded outcome. A dry run
// counts as a sync, labelled as such, and changes nothing else.
func (s *Syncer) count(o store.Outcome) {
	s.metrics.statusSyncs.WithLabelValues(o.Registrar, Result(o), strconv.FormatBool(o.DryRun)).Inc()
	if o.DryRun {
		return
	}
	if o.SyncSuccess && o.StatusChanged {
		s.metrics.statusTransitions.WithLabelValues(string(o.PreviousStatus), string(o.NewStatus)).Inc()
	}
	switch {
	case o.ExpiryError != nil:
		s.metrics.expiryChanges.WithLabelValues(o.Registrar, expiryRejected).Inc()
	case o.ExpiresAtAfter != nil && (o.ExpiresAtBefore == nil || !o.ExpiresAtAfter.Equal(*o.ExpiresAtBefore)):
		s.metrics.expiryChanges.WithLabelValues(o.Registrar, expiryApplied).Inc()
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

// nonEmpty returns &s, or nil for an empty s.
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

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
