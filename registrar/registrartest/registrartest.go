// Package registrartest is the conformance suite every registrar adapter
// passes, in the manner of River's riverdrivertest: [Run] and
// [RunTransfers] script a simulated registrar and check what the adapter
// built over it reports. An adapter that reads domain statuses runs [Run];
// one that resets transfers runs [RunTransfers]; one that does both runs
// both.
//
// What the suite pins, for the worker to rely on:
//
//   - Raw statuses are kept and mapped; unknown values read as
//     [registrar.StatusUnknown] with Raw kept.
//   - Each ReadStatus or ResetTransfer call sends the registrar exactly one
//     request: adapters do not retry on their own, the job queue does.
//   - A request cut short by ctx's deadline returns promptly with an error
//     wrapping both [registrar.ErrUnavailable] and
//     [context.DeadlineExceeded], so it is a transient failure.
//   - Errors wrap the [registrar] sentinels, start with the adapter's Name
//     and a colon, and rate limits carry their Retry-After.
//   - Any 2xx answer to a reset is a success. An invalid request (including
//     a Hostway "404 Bad Request"), an unknown transfer and another
//     account's transfer are permanent errors; a conflict, an outage and an
//     answer the adapter does not expect are not, and the last wraps
//     [registrar.ErrBadResponse]: it is never a success.
//   - A reset's authInfo reaches the registrar, which keeps the last one it
//     accepted, and never appears in an error.
//   - Transfer status codes map to their [registrar.TransferState] with
//     [registrar.MapEnomTransfer].
package registrartest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/sim"
)

// timeoutBound is how long a read with a short deadline may take at most.
const timeoutBound = 5 * time.Second

// Run runs the conformance suite. newAdapter returns the adapter under test
// reading from backend, a simulator with the default configuration that the
// suite scripts; the in-process simulator returns backend itself, an HTTP
// adapter serves backend with [sim.Handler] and points at that server.
func Run(t *testing.T, newAdapter func(t *testing.T, backend *sim.Sim) registrar.Registrar) {
	t.Helper()
	RunWith(t, newAdapter, Options{})
}

// Options adapts [RunWith] to an adapter whose protocol spells statuses
// and errors its own way, such as EPP or RDAP, served from the same
// simulator.
type Options struct {
	// Raw returns the raw status the adapter reports for a status the suite
	// scripts in the simulator's (Hostup's) vocabulary, and false when the
	// protocol cannot express it, which skips that status. Nil means the
	// adapter reports the scripted value itself.
	Raw func(scripted string) (string, bool)
	// NotHTTP says the adapter's errors are not HTTP answers: the suite
	// checks their sentinels and permanence, not a [registrar.APIError]'s
	// status, code and request id, and a rate limit need not carry its
	// Retry-After.
	NotHTTP bool
	// Info says the adapter reports the registry facts beside the status:
	// the expiry date and the sponsoring registrar.
	Info bool
}

// raw returns the raw status the adapter should report for scripted.
func (o Options) raw(scripted string) (string, bool) {
	if o.Raw == nil {
		return scripted, true
	}
	return o.Raw(scripted)
}

// RunWith is [Run] with options for adapters of other protocols.
func RunWith(t *testing.T, newAdapter func(t *testing.T, backend *sim.Sim) registrar.Registrar, opts Options) {
	t.Helper()
	// want maps scripted statuses to the raw values the adapter reports.
	want := func(t *testing.T, scripted ...string) []string {
		t.Helper()
		raws := make([]string, len(scripted))
		for i, s := range scripted {
			r, ok := opts.raw(s)
			require.True(t, ok, "the protocol cannot express %q", s)
			raws[i] = r
		}
		return raws
	}

	setup := func(t *testing.T) (*sim.Sim, registrar.Registrar) {
		t.Helper()
		backend, err := sim.New(sim.DefaultConfig())
		require.NoError(t, err)
		return backend, newAdapter(t, backend)
	}
	script := func(t *testing.T, backend *sim.Sim, id string, cycle bool, entries ...string) registrar.Domain {
		t.Helper()
		d := registrar.Domain{ID: id, Name: strings.ReplaceAll(id, "_", "-") + ".example"}
		require.NoError(t, backend.Script(d.ID, d.Name, entries, cycle))
		return d
	}
	readRaws := func(t *testing.T, a registrar.Registrar, d registrar.Domain, n int) []string {
		t.Helper()
		var raws []string
		for range n {
			r, err := a.ReadStatus(context.Background(), d)
			require.NoError(t, err)
			raws = append(raws, r.Raw)
		}
		return raws
	}
	// readErr reads d expecting an error, and checks the adapter's prefix.
	readErr := func(ctx context.Context, t *testing.T, a registrar.Registrar, d registrar.Domain) error {
		t.Helper()
		_, err := a.ReadStatus(ctx, d)
		require.Error(t, err)
		require.True(t, strings.HasPrefix(err.Error(), a.Name()+": "), "error %q does not start with %q", err, a.Name()+": ")
		return err
	}

	t.Run("SteadyStatus", func(t *testing.T) {
		t.Parallel()

		backend, a := setup(t)
		d := script(t, backend, "dom_steady", false, "active")
		var ids []string
		for range 3 {
			r, err := a.ReadStatus(context.Background(), d)
			require.NoError(t, err)
			require.Equal(t, want(t, "active")[0], r.Raw)
			require.Equal(t, registrar.StatusActive, r.Status)
			require.NotEmpty(t, r.RequestID)
			require.NotContains(t, ids, r.RequestID)
			ids = append(ids, r.RequestID)
		}
		require.Equal(t, 3, backend.Reads(d.ID), "one registrar read per ReadStatus")
	})

	t.Run("SuccessiveStatusesLastRepeats", func(t *testing.T) {
		t.Parallel()

		backend, a := setup(t)
		d := script(t, backend, "dom_successive", false, "pending", "active", "expired")
		require.Equal(t, want(t, "pending", "active", "expired", "expired"), readRaws(t, a, d, 4))
	})

	t.Run("CyclingStatuses", func(t *testing.T) {
		t.Parallel()

		backend, a := setup(t)
		d := script(t, backend, "dom_flapping", true, "active", "expired")
		require.Equal(t, want(t, "active", "expired", "active", "expired"), readRaws(t, a, d, 4))
	})

	t.Run("NormalizedStatusesRoundTrip", func(t *testing.T) {
		t.Parallel()

		backend, a := setup(t)
		for _, s := range registrar.Statuses {
			wantStatus := s
			if s == registrar.StatusFraud {
				wantStatus = registrar.StatusUnknown // a local decision, never a registrar reading
			}
			wantRaw, ok := opts.raw(string(s))
			if !ok {
				continue
			}
			d := script(t, backend, "dom_"+string(s), false, string(s))
			r, err := a.ReadStatus(context.Background(), d)
			require.NoError(t, err)
			require.Equal(t, wantRaw, r.Raw)
			require.Equal(t, wantStatus, r.Status, "raw %q", s)
		}
	})

	t.Run("ExpiryAndSponsor", func(t *testing.T) {
		t.Parallel()
		if !opts.Info {
			t.Skip("the adapter reports no expiry date or sponsor")
		}

		backend, a := setup(t)
		d := script(t, backend, "dom_info", false, "active")
		info := sim.DomainInfo{ExpiresAt: time.Date(2027, 6, 30, 23, 59, 59, 0, time.UTC), Sponsor: "9999"}
		backend.SetInfo(d.ID, info)
		r, err := a.ReadStatus(context.Background(), d)
		require.NoError(t, err)
		require.True(t, info.ExpiresAt.Equal(r.ExpiresAt), "expiry %s, want %s", r.ExpiresAt, info.ExpiresAt)
		require.Equal(t, info.Sponsor, r.Sponsor)
	})

	t.Run("UnknownRawStatus", func(t *testing.T) {
		t.Parallel()

		backend, a := setup(t)
		d := script(t, backend, "dom_weird", false, "weird")
		r, err := a.ReadStatus(context.Background(), d)
		require.NoError(t, err)
		require.Equal(t, want(t, "weird")[0], r.Raw)
		require.Equal(t, registrar.StatusUnknown, r.Status)
	})

	t.Run("UnscriptedDomainIsNotFound", func(t *testing.T) {
		t.Parallel()

		_, a := setup(t)
		err := readErr(context.Background(), t, a, registrar.Domain{ID: "dom_nowhere", Name: "nowhere.example"})
		require.ErrorIs(t, err, registrar.ErrNotFound)
		require.True(t, registrar.IsPermanent(err))
	})

	t.Run("Faults", func(t *testing.T) {
		t.Parallel()

		tests := []struct {
			token     string
			sentinel  error
			permanent bool
			status    int
		}{
			{"!400", registrar.ErrInvalidRequest, true, 400},
			{"!401", registrar.ErrUnauthorized, false, 401},
			{"!403", registrar.ErrForbidden, true, 403},
			{"!404", registrar.ErrNotFound, true, 404},
			{"!500", registrar.ErrUnavailable, false, 500},
			{"!502", registrar.ErrUnavailable, false, 502},
			{"!503", registrar.ErrUnavailable, false, 503},
			{"!garbage", registrar.ErrBadResponse, false, 0},
			{"!huge", registrar.ErrBadResponse, false, 0},
		}
		for _, tt := range tests {
			t.Run(tt.token, func(t *testing.T) {
				t.Parallel()

				backend, a := setup(t)
				d := script(t, backend, "dom_fault", false, tt.token, "active")
				err := readErr(context.Background(), t, a, d)
				require.ErrorIs(t, err, tt.sentinel)
				require.Equal(t, tt.permanent, registrar.IsPermanent(err))
				if tt.status != 0 && !opts.NotHTTP {
					var apiErr *registrar.APIError
					require.ErrorAs(t, err, &apiErr)
					require.Equal(t, tt.status, apiErr.Status)
					require.Equal(t, a.Name(), apiErr.Registrar)
					require.NotEmpty(t, apiErr.Code)
					require.NotEmpty(t, apiErr.RequestID)
				}
				require.Equal(t, want(t, "active"), readRaws(t, a, d, 1), "the adapter still works after the fault")
			})
		}
	})

	t.Run("RateLimited", func(t *testing.T) {
		t.Parallel()

		backend, a := setup(t)
		d := script(t, backend, "dom_limited", false, "!429", "!429:5s")
		for _, wait := range []time.Duration{time.Second, 5 * time.Second} {
			err := readErr(context.Background(), t, a, d)
			require.ErrorIs(t, err, registrar.ErrRateLimited)
			require.False(t, registrar.IsPermanent(err))
			if got, ok := registrar.RetryAfter(err); ok || !opts.NotHTTP {
				require.True(t, ok)
				require.Equal(t, wait, got)
			}
		}
	})

	t.Run("TimeoutHonoursDeadline", func(t *testing.T) {
		t.Parallel()

		backend, a := setup(t)
		d := script(t, backend, "dom_slow", false, "!timeout")
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := readErr(ctx, t, a, d)
		require.Less(t, time.Since(start), timeoutBound)
		require.ErrorIs(t, err, registrar.ErrUnavailable)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.False(t, registrar.IsPermanent(err))
	})

	t.Run("ConcurrentReads", func(t *testing.T) {
		t.Parallel()

		backend, a := setup(t)
		const domains, reads = 8, 10
		entries := []string{"pending", "active", "suspended", "expired"}
		raws := want(t, entries...)
		var ds []registrar.Domain
		for i := range domains {
			ds = append(ds, script(t, backend, fmt.Sprintf("dom_c%d", i), true, entries[i%len(entries):]...))
		}

		var wg sync.WaitGroup
		errs := make(chan error, domains)
		for i, d := range ds {
			wg.Go(func() {
				expect := raws[i%len(raws):]
				for n := range reads {
					r, err := a.ReadStatus(context.Background(), d)
					if err == nil && r.Raw != expect[n%len(expect)] {
						err = fmt.Errorf("read %d of %s: got %q, want %q", n, d.ID, r.Raw, expect[n%len(expect)])
					}
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		for _, d := range ds {
			require.Equal(t, reads, backend.Reads(d.ID))
		}
	})
}
