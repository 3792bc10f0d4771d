package registrartest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/sim"
)

// Distinctive authInfo values, valid by [registrar.ValidateAuthInfo], so that
// the suite can tell they never leak into an error.
const (
	firstAuthInfo  = "s3cr3t-Auth#1"
	secondAuthInfo = "n3w-Auth#2-xyz"
)

// RunTransfers runs the transfer part of the conformance suite against an
// adapter that implements [registrar.TransferResetter]. The status-read
// tests run when the adapter also implements
// [registrar.TransferStatusReader] and are skipped otherwise. Like [Run],
// newAdapter returns the adapter under test over backend, a simulator with
// the default configuration that the suite scripts with
// [sim.Sim.ScriptTransfer]. The adapter must have a Name method, as every
// adapter does, for the error-prefix checks.
func RunTransfers(t *testing.T, newAdapter func(t *testing.T, backend *sim.Sim) registrar.TransferResetter) {
	t.Helper()

	setup := func(t *testing.T) (*sim.Sim, registrar.TransferResetter, string) {
		t.Helper()
		backend, err := sim.New(sim.DefaultConfig())
		require.NoError(t, err)
		a := newAdapter(t, backend)
		named, ok := a.(interface{ Name() string })
		require.True(t, ok, "the adapter %T has no Name method", a)
		return backend, a, named.Name()
	}
	statusReader := func(t *testing.T, a registrar.TransferResetter) registrar.TransferStatusReader {
		t.Helper()
		r, ok := a.(registrar.TransferStatusReader)
		if !ok {
			t.Skipf("the adapter %T does not read transfer statuses", a)
		}
		return r
	}
	script := func(t *testing.T, backend *sim.Sim, domain, owner string, resets, statuses []string) registrar.Transfer {
		t.Helper()
		tr := registrar.Transfer{Account: "acct_" + domain, DomainName: domain + ".example"}
		require.NoError(t, backend.ScriptTransfer(tr, owner, resets, statuses))
		return tr
	}
	// checkErr checks what every error must satisfy: the adapter's prefix,
	// and no authInfo anywhere in it.
	checkErr := func(t *testing.T, name string, err error) {
		t.Helper()
		require.Error(t, err)
		require.True(t, strings.HasPrefix(err.Error(), name+": "), "error %q does not start with %q", err, name+": ")
		for _, secret := range []string{firstAuthInfo, secondAuthInfo} {
			require.NotContains(t, err.Error(), secret)
			var apiErr *registrar.APIError
			if errors.As(err, &apiErr) {
				require.NotContains(t, apiErr.Code+apiErr.Detail+apiErr.RequestID, secret)
			}
		}
	}
	resetErr := func(ctx context.Context, t *testing.T, a registrar.TransferResetter, name string, tr registrar.Transfer, authInfo string) error {
		t.Helper()
		_, err := a.ResetTransfer(ctx, tr, authInfo)
		checkErr(t, name, err)
		return err
	}
	reset := func(t *testing.T, a registrar.TransferResetter, tr registrar.Transfer, authInfo string) registrar.ResetResult {
		t.Helper()
		r, err := a.ResetTransfer(context.Background(), tr, authInfo)
		require.NoError(t, err)
		return r
	}
	requireAuthInfo := func(t *testing.T, backend *sim.Sim, tr registrar.Transfer, want string) {
		t.Helper()
		got, ok := backend.TransferAuthInfo(tr)
		require.Equal(t, want != "", ok, "whether the registrar has an authInfo")
		require.Equal(t, want, got, "the authInfo the registrar keeps")
	}

	t.Run("AcceptedResets", func(t *testing.T) {
		t.Parallel()

		backend, a, _ := setup(t)
		tr := script(t, backend, "accepted", "", []string{"202", "204", "200"}, nil)
		var ids []string
		for _, want := range []int{202, 204, 200, 200} {
			r := reset(t, a, tr, "")
			require.Equal(t, want, r.Status, "any 2xx is accepted and reported")
			require.NotEmpty(t, r.RequestID)
			require.NotContains(t, ids, r.RequestID)
			ids = append(ids, r.RequestID)
		}
		require.Equal(t, 4, backend.TransferResets(tr), "one registrar request per ResetTransfer")
	})

	t.Run("AuthInfoForwardedAndKept", func(t *testing.T) {
		t.Parallel()

		backend, a, _ := setup(t)
		tr := script(t, backend, "authinfo", "", []string{"202"}, nil)
		requireAuthInfo(t, backend, tr, "")
		reset(t, a, tr, firstAuthInfo)
		requireAuthInfo(t, backend, tr, firstAuthInfo)
		reset(t, a, tr, "")
		requireAuthInfo(t, backend, tr, firstAuthInfo) // an empty authInfo reuses the registrar's
		reset(t, a, tr, secondAuthInfo)
		requireAuthInfo(t, backend, tr, secondAuthInfo)
	})

	t.Run("Answers", func(t *testing.T) {
		t.Parallel()

		tests := []struct {
			entry     string
			sentinel  error
			permanent bool
			status    int    // the APIError's status, 0 when the error is not one
			code      string // the APIError's code
		}{
			{"400", registrar.ErrInvalidRequest, true, 400, "bad_request"},
			{"404bad", registrar.ErrInvalidRequest, true, 400, "bad_request"},
			{"401", registrar.ErrUnauthorized, false, 401, "unauthorized"},
			{"403", registrar.ErrForbidden, true, 403, "forbidden"},
			{"404", registrar.ErrNotFound, true, 404, "not_found"},
			{"409", registrar.ErrConflict, false, 409, "conflict"},
			{"500", registrar.ErrUnavailable, false, 500, "server_error"},
			{"503", registrar.ErrUnavailable, false, 503, "server_error"},
			{"302", registrar.ErrBadResponse, false, 0, ""},
			{"418", registrar.ErrBadResponse, false, 0, ""},
			{"422", registrar.ErrBadResponse, false, 0, ""},
		}
		for _, tt := range tests {
			t.Run(tt.entry, func(t *testing.T) {
				t.Parallel()

				backend, a, name := setup(t)
				tr := script(t, backend, "answer", "", []string{"202", tt.entry, "202"}, nil)
				reset(t, a, tr, firstAuthInfo)

				err := resetErr(context.Background(), t, a, name, tr, secondAuthInfo)
				require.ErrorIs(t, err, tt.sentinel)
				require.Equal(t, tt.permanent, registrar.IsPermanent(err))
				var apiErr *registrar.APIError
				if tt.status != 0 {
					require.ErrorAs(t, err, &apiErr)
					require.Equal(t, tt.status, apiErr.Status)
					require.Equal(t, tt.code, apiErr.Code)
					require.Equal(t, name, apiErr.Registrar)
					require.NotEmpty(t, apiErr.RequestID)
				} else {
					for _, other := range []error{registrar.ErrInvalidRequest, registrar.ErrNotFound, registrar.ErrUnauthorized, registrar.ErrForbidden} {
						require.NotErrorIs(t, err, other, "an unexpected answer is transient")
					}
				}
				requireAuthInfo(t, backend, tr, firstAuthInfo) // a rejected reset changes nothing

				require.Equal(t, 202, reset(t, a, tr, "").Status, "the adapter still works after the answer")
				require.Equal(t, 3, backend.TransferResets(tr))
			})
		}
	})

	t.Run("InvalidAuthInfo", func(t *testing.T) {
		t.Parallel()

		backend, a, name := setup(t)
		tr := script(t, backend, "badauth", "", []string{"409", "202"}, nil)
		for _, authInfo := range []string{"5char", "0123456789abcdefg"} {
			_, err := a.ResetTransfer(context.Background(), tr, authInfo)
			checkErr(t, name, err)
			require.NotContains(t, err.Error(), authInfo)
			require.ErrorIs(t, err, registrar.ErrInvalidRequest)
			require.True(t, registrar.IsPermanent(err))
			var apiErr *registrar.APIError
			require.ErrorAs(t, err, &apiErr)
			require.Equal(t, 400, apiErr.Status)
		}
		requireAuthInfo(t, backend, tr, "")
		err := resetErr(context.Background(), t, a, name, tr, "")
		require.ErrorIs(t, err, registrar.ErrConflict, "invalid resets do not advance the script")
	})

	t.Run("UnscriptedTransferIsNotFound", func(t *testing.T) {
		t.Parallel()

		_, a, name := setup(t)
		err := resetErr(context.Background(), t, a, name, registrar.Transfer{Account: "acct_1", DomainName: "nowhere.example"}, firstAuthInfo)
		require.ErrorIs(t, err, registrar.ErrNotFound)
		require.True(t, registrar.IsPermanent(err))
	})

	t.Run("OtherAccountIsForbidden", func(t *testing.T) {
		t.Parallel()

		backend, a, name := setup(t)
		tr := script(t, backend, "owned", "acct_owner", []string{"409", "202"}, nil)
		err := resetErr(context.Background(), t, a, name, tr, firstAuthInfo)
		require.ErrorIs(t, err, registrar.ErrForbidden)
		require.NotErrorIs(t, err, registrar.ErrUnauthorized, "the credentials were accepted")
		require.True(t, registrar.IsPermanent(err))
		var apiErr *registrar.APIError
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, 403, apiErr.Status)
		requireAuthInfo(t, backend, tr, "")

		tr.Account = "acct_owner"
		err = resetErr(context.Background(), t, a, name, tr, "")
		require.ErrorIs(t, err, registrar.ErrConflict, "the owner's reset plays the first entry")
		require.False(t, registrar.IsPermanent(err))
		require.Equal(t, 202, reset(t, a, tr, firstAuthInfo).Status)
		requireAuthInfo(t, backend, tr, firstAuthInfo)
	})

	t.Run("RateLimited", func(t *testing.T) {
		t.Parallel()

		backend, a, name := setup(t)
		tr := script(t, backend, "limited", "", []string{"!429", "!429:5s", "429"}, nil)
		for _, want := range []time.Duration{time.Second, 5 * time.Second, 0} {
			err := resetErr(context.Background(), t, a, name, tr, firstAuthInfo)
			require.ErrorIs(t, err, registrar.ErrRateLimited)
			require.False(t, registrar.IsPermanent(err))
			got, ok := registrar.RetryAfter(err)
			require.Equal(t, want != 0, ok)
			require.Equal(t, want, got)
		}
	})

	t.Run("TimeoutHonoursDeadline", func(t *testing.T) {
		t.Parallel()

		backend, a, name := setup(t)
		tr := script(t, backend, "slow", "", []string{"!timeout", "202"}, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := resetErr(ctx, t, a, name, tr, firstAuthInfo)
		require.Less(t, time.Since(start), timeoutBound)
		require.ErrorIs(t, err, registrar.ErrUnavailable)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.False(t, registrar.IsPermanent(err))
		requireAuthInfo(t, backend, tr, "")
		require.Equal(t, 202, reset(t, a, tr, firstAuthInfo).Status, "the script moves past the timeout")
	})

	t.Run("ConcurrentResets", func(t *testing.T) {
		t.Parallel()

		backend, a, _ := setup(t)
		const transfers, resets = 8, 10
		var trs []registrar.Transfer
		for i := range transfers {
			trs = append(trs, script(t, backend, fmt.Sprintf("c%d", i), "", []string{"409", "202"}, nil))
		}
		var wg sync.WaitGroup
		errs := make(chan error, transfers*resets)
		for i, tr := range trs {
			wg.Go(func() {
				for n := range resets {
					_, err := a.ResetTransfer(context.Background(), tr, fmt.Sprintf("auth-%02d-%02d", i, n))
					if n > 0 && err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		for i, tr := range trs {
			require.Equal(t, resets, backend.TransferResets(tr))
			requireAuthInfo(t, backend, tr, fmt.Sprintf("auth-%02d-%02d", i, resets-1))
		}
	})

	t.Run("StatusReads", func(t *testing.T) {
		t.Parallel()

		backend, a, _ := setup(t)
		r := statusReader(t, a)
		tr := script(t, backend, "status", "", nil, []string{"pending", "blocked", "blocked:resettable", "completed", "cancelled", "unknown"})
		tests := []struct {
			state      registrar.TransferState
			canBeReset bool
		}{
			{registrar.TransferPending, false},
			{registrar.TransferBlocked, false},
			{registrar.TransferBlocked, true},
			{registrar.TransferCompleted, false},
			{registrar.TransferCancelled, false},
			{registrar.TransferUnknown, false},
			{registrar.TransferUnknown, false}, // the last entry repeats
		}
		for _, tt := range tests {
			st, err := r.ReadTransferStatus(context.Background(), tr)
			require.NoError(t, err)
			require.Equal(t, tt.state, st.State)
			require.Equal(t, tt.state, registrar.MapEnomTransfer(st.Code), "the state is the code's")
			require.Equal(t, tt.canBeReset, st.CanBeReset)
			require.NotEmpty(t, st.Description)
			require.NotEmpty(t, st.RequestID)
		}
		require.Zero(t, backend.TransferResets(tr), "status reads are not resets")
	})

	t.Run("StatusReadErrors", func(t *testing.T) {
		t.Parallel()

		tests := []struct {
			name      string
			entry     string // "" for an unscripted transfer
			account   string // the account the read names, the owner's when empty
			sentinel  error
			permanent bool
		}{
			{"unscripted", "", "", registrar.ErrNotFound, true},
			{"other account", "pending", "acct_other", registrar.ErrForbidden, true},
			{"404bad", "404bad", "", registrar.ErrInvalidRequest, true},
			{"404", "404", "", registrar.ErrNotFound, true},
			{"409", "409", "", registrar.ErrConflict, false},
			{"!429", "!429", "", registrar.ErrRateLimited, false},
			{"500", "500", "", registrar.ErrUnavailable, false},
			{"418", "418", "", registrar.ErrBadResponse, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()

				backend, a, name := setup(t)
				r := statusReader(t, a)
				tr := registrar.Transfer{Account: "acct_read", DomainName: "read.example"}
				if tt.entry != "" {
					require.NoError(t, backend.ScriptTransfer(tr, "", nil, []string{tt.entry, "completed"}))
				}
				if tt.account != "" {
					tr.Account = tt.account
				}
				_, err := r.ReadTransferStatus(context.Background(), tr)
				checkErr(t, name, err)
				require.ErrorIs(t, err, tt.sentinel)
				require.Equal(t, tt.permanent, registrar.IsPermanent(err))
			})
		}

		t.Run("timeout", func(t *testing.T) {
			t.Parallel()

			backend, a, name := setup(t)
			r := statusReader(t, a)
			tr := script(t, backend, "slowstatus", "", nil, []string{"!timeout", "completed"})
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := r.ReadTransferStatus(ctx, tr)
			checkErr(t, name, err)
			require.Less(t, time.Since(start), timeoutBound)
			require.ErrorIs(t, err, registrar.ErrUnavailable)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			st, err := r.ReadTransferStatus(context.Background(), tr)
			require.NoError(t, err)
			require.Equal(t, registrar.TransferCompleted, st.State)
		})
	})
}
