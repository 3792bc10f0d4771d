package epp_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/epp"
	"github.com/regsync/regsync/registrar/sim"
)

// The transfer tests are registrartest.RunTransfers in EPP's terms. The
// suite itself does not fit EPP: it requires HTTP answers
// (registrar.APIError with a status and Hostway's codes), eNom status
// codes that MapEnomTransfer maps back to the state, and a successful reset
// with an empty authInfo, which EPP cannot send. These tests check the same
// behaviour against epptest, which translates the same simulator scripts.

// Distinctive authInfo values, valid by registrar.ValidateAuthInfo, so that
// the tests can tell they never leak.
const (
	firstAuthInfo  = "s3cr3t-Auth#1"
	secondAuthInfo = "n3w-Auth#2-xyz"
)

// transferSetup starts a server over a fresh simulator and a client of it.
func transferSetup(t *testing.T) (*sim.Sim, *epp.Client) {
	t.Helper()
	backend := newBackend(t)
	srv := startServer(t, backend, func(c *epptestConfig) { c.MaxSessions = 2 })
	return backend, newClient(t, srv, nil)
}

// scriptTransfer scripts the transfer of domain for the client's account,
// the clID: EPP knows the requesting registrar by its login.
func scriptTransfer(t *testing.T, backend *sim.Sim, domain string, resets, statuses []string) registrar.Transfer {
	t.Helper()
	tr := registrar.Transfer{Account: testClientID, DomainName: domain + ".example"}
	require.NoError(t, backend.ScriptTransfer(tr, "", resets, statuses))
	return tr
}

// checkTransferErr is checkErr with the transfer tests' authInfo values.
func checkTransferErr(t *testing.T, c *epp.Client, err error) {
	t.Helper()
	checkErr(t, c, err)
	require.NotContains(t, err.Error(), firstAuthInfo)
	require.NotContains(t, err.Error(), secondAuthInfo)
}

func requireAuthInfo(t *testing.T, backend *sim.Sim, tr registrar.Transfer, want string) {
	t.Helper()
	got, ok := backend.TransferAuthInfo(tr)
	require.Equal(t, want != "", ok, "whether the registrar has an authInfo")
	require.Equal(t, want, got, "the authInfo the registrar keeps")
}

func TestTransferStatusReads(t *testing.T) {
	t.Parallel()

	backend, c := transferSetup(t)
	tr := scriptTransfer(t, backend, "status", nil, []string{"pending", "blocked", "blocked:resettable", "completed", "cancelled", "unknown"})
	tests := []struct {
		state       registrar.TransferState
		description string
		canBeReset  bool
	}{
		{registrar.TransferPending, "pending", false},
		{registrar.TransferBlocked, "clientRejected", true}, // EPP cannot say blocked for good
		{registrar.TransferBlocked, "clientRejected", true},
		{registrar.TransferCompleted, "clientApproved", false},
		{registrar.TransferCancelled, "clientCancelled", false},
		{registrar.TransferUnknown, "unknown", false},
		{registrar.TransferUnknown, "unknown", false}, // the last entry repeats
	}
	var ids []string
	for _, tt := range tests {
		st, err := c.ReadTransferStatus(t.Context(), tr)
		require.NoError(t, err)
		require.Equal(t, tt.state, st.State)
		require.Zero(t, st.Code, "EPP has no numeric transfer status")
		require.Equal(t, tt.description, st.Description)
		require.Equal(t, tt.canBeReset, st.CanBeReset)
		require.NotEmpty(t, st.RequestID)
		require.NotContains(t, ids, st.RequestID)
		ids = append(ids, st.RequestID)
	}
	require.Zero(t, backend.TransferResets(tr), "status reads are not resets")
}

func TestMapTransferStatus(t *testing.T) {
	t.Parallel()

	for trStatus, want := range map[string]registrar.TransferState{
		"pending":         registrar.TransferPending,
		"clientApproved":  registrar.TransferCompleted,
		"serverApproved":  registrar.TransferCompleted,
		"clientCancelled": registrar.TransferCancelled,
		"serverCancelled": registrar.TransferCancelled,
		"clientRejected":  registrar.TransferBlocked,
		"ClientRejected":  registrar.TransferUnknown,
		"":                registrar.TransferUnknown,
		"weird":           registrar.TransferUnknown,
	} {
		state, canBeReset := epp.MapTransferStatus(trStatus)
		require.Equal(t, want, state, trStatus)
		require.Equal(t, trStatus == "clientRejected", canBeReset, trStatus)
	}
}

func TestTransferStatusReadErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		entry     string // "" for an unscripted transfer
		owner     string // the transfer's account, the client's when empty
		sentinel  error
		permanent bool
		code      int // the EPP result code, 0 for none
	}{
		{"unscripted", "", "", registrar.ErrNotFound, true, 2301},
		{"other registrar", "pending", "another-registrar", registrar.ErrForbidden, true, 2201},
		{"404bad", "404bad", "", registrar.ErrInvalidRequest, true, 2005},
		{"404", "404", "", registrar.ErrNotFound, true, 2301},
		{"401", "401", "", registrar.ErrUnauthorized, false, 2501},
		{"409", "409", "", registrar.ErrConflict, false, 2304},
		{"!429", "!429", "", registrar.ErrRateLimited, false, 2502},
		{"500", "500", "", registrar.ErrUnavailable, false, 2400},
		{"418", "418", "", registrar.ErrBadResponse, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			backend, c := transferSetup(t)
			tr := registrar.Transfer{Account: testClientID, DomainName: "read.example"}
			if tt.entry != "" {
				require.NoError(t, backend.ScriptTransfer(tr, tt.owner, nil, []string{tt.entry, "completed"}))
			}
			_, err := c.ReadTransferStatus(t.Context(), tr)
			checkTransferErr(t, c, err)
			require.ErrorIs(t, err, tt.sentinel)
			require.Equal(t, tt.permanent, registrar.IsPermanent(err))
			var re *epp.ResultError
			if tt.code != 0 {
				require.ErrorAs(t, err, &re)
				require.Equal(t, tt.code, re.Code)
				require.NotEmpty(t, re.SvTRID)
			}
			if tt.entry != "" && tt.owner == "" {
				st, err := c.ReadTransferStatus(t.Context(), tr)
				require.NoError(t, err, "the adapter still works after the answer")
				require.Equal(t, registrar.TransferCompleted, st.State)
			}
		})
	}

	t.Run("timeout", func(t *testing.T) {
		t.Parallel()

		backend, c := transferSetup(t)
		tr := scriptTransfer(t, backend, "slowstatus", nil, []string{"!timeout"})
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.ReadTransferStatus(ctx, tr)
		checkTransferErr(t, c, err)
		require.Less(t, time.Since(start), promptly)
		require.ErrorIs(t, err, registrar.ErrUnavailable)
		require.ErrorIs(t, err, context.DeadlineExceeded)

		other := scriptTransfer(t, backend, "faststatus", nil, []string{"completed"})
		st, err := c.ReadTransferStatus(t.Context(), other)
		require.NoError(t, err, "the adapter still works after the timeout")
		require.Equal(t, registrar.TransferCompleted, st.State)
	})
}

func TestAcceptedResets(t *testing.T) {
	t.Parallel()

	backend, c := transferSetup(t)
	tr := scriptTransfer(t, backend, "accepted", []string{"202", "204", "200"}, nil)
	var ids []string
	for _, want := range []int{202, 200, 200, 200} { // 1001 action pending, then 1000
		r, err := c.ResetTransfer(t.Context(), tr, firstAuthInfo)
		require.NoError(t, err)
		require.Equal(t, want, r.Status)
		require.NotEmpty(t, r.RequestID)
		require.NotContains(t, ids, r.RequestID)
		ids = append(ids, r.RequestID)
	}
	require.Equal(t, 4, backend.TransferResets(tr), "one request per ResetTransfer")
}

func TestResetAuthInfo(t *testing.T) {
	t.Parallel()

	backend, c := transferSetup(t)
	tr := scriptTransfer(t, backend, "authinfo", []string{"202"}, nil)
	requireAuthInfo(t, backend, tr, "")
	_, err := c.ResetTransfer(t.Context(), tr, firstAuthInfo)
	require.NoError(t, err)
	requireAuthInfo(t, backend, tr, firstAuthInfo)
	_, err = c.ResetTransfer(t.Context(), tr, secondAuthInfo)
	require.NoError(t, err)
	requireAuthInfo(t, backend, tr, secondAuthInfo)

	// EPP requires an authInfo on a transfer request.
	_, err = c.ResetTransfer(t.Context(), tr, "")
	checkTransferErr(t, c, err)
	require.ErrorIs(t, err, registrar.ErrInvalidRequest)
	require.True(t, registrar.IsPermanent(err))
	require.Contains(t, err.Error(), "EPP requires an authInfo")
	for _, bad := range []string{"tab\there", "nul\x00", "line\nbreak", "\xff\xfe"} {
		_, err = c.ResetTransfer(t.Context(), tr, bad)
		checkTransferErr(t, c, err)
		require.ErrorIs(t, err, registrar.ErrInvalidRequest)
		require.NotContains(t, err.Error(), bad)
	}
	require.Equal(t, 2, backend.TransferResets(tr), "an invalid authInfo sends nothing")
	requireAuthInfo(t, backend, tr, secondAuthInfo)
}

func TestResetAnswers(t *testing.T) {
	t.Parallel()

	tests := []struct {
		entry     string
		sentinel  error
		permanent bool
		code      int // the EPP result code, 0 for none
	}{
		{"400", registrar.ErrInvalidRequest, true, 2202},
		{"404bad", registrar.ErrInvalidRequest, true, 2202},
		{"401", registrar.ErrUnauthorized, false, 2501},
		{"403", registrar.ErrForbidden, true, 2201},
		{"404", registrar.ErrNotFound, true, 2303},
		{"409", registrar.ErrConflict, false, 2106},
		{"429", registrar.ErrRateLimited, false, 2502},
		{"500", registrar.ErrUnavailable, false, 2400},
		{"503", registrar.ErrUnavailable, false, 2400},
		{"302", registrar.ErrBadResponse, false, 0},
		{"418", registrar.ErrBadResponse, false, 0},
		{"422", registrar.ErrBadResponse, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.entry, func(t *testing.T) {
			t.Parallel()

			backend, c := transferSetup(t)
			tr := scriptTransfer(t, backend, "answer", []string{"202", tt.entry, "202"}, nil)
			_, err := c.ResetTransfer(t.Context(), tr, firstAuthInfo)
			require.NoError(t, err)

			_, err = c.ResetTransfer(t.Context(), tr, secondAuthInfo)
			checkTransferErr(t, c, err)
			require.ErrorIs(t, err, tt.sentinel)
			require.Equal(t, tt.permanent, registrar.IsPermanent(err))
			var re *epp.ResultError
			if tt.code != 0 {
				require.ErrorAs(t, err, &re)
				require.Equal(t, tt.code, re.Code)
				require.NotEmpty(t, re.SvTRID)
			} else {
				for _, other := range []error{registrar.ErrInvalidRequest, registrar.ErrNotFound, registrar.ErrUnauthorized, registrar.ErrForbidden} {
					require.NotErrorIs(t, err, other, "an unexpected answer is transient")
				}
			}
			requireAuthInfo(t, backend, tr, firstAuthInfo) // a rejected reset changes nothing

			r, err := c.ResetTransfer(t.Context(), tr, firstAuthInfo)
			require.NoError(t, err, "the adapter still works after the answer")
			require.Equal(t, 202, r.Status)
			require.Equal(t, 3, backend.TransferResets(tr))
		})
	}
}

func TestResetInvalidAuthInfo(t *testing.T) {
	t.Parallel()

	// The registry's policy, here the simulator's ValidateAuthInfo, refuses
	// the authInfo with 2202.
	backend, c := transferSetup(t)
	tr := scriptTransfer(t, backend, "badauth", []string{"409", "202"}, nil)
	for _, authInfo := range []string{"5char", "0123456789abcdefg"} {
		_, err := c.ResetTransfer(t.Context(), tr, authInfo)
		checkTransferErr(t, c, err)
		require.NotContains(t, err.Error(), authInfo)
		require.ErrorIs(t, err, registrar.ErrInvalidRequest)
		require.True(t, registrar.IsPermanent(err))
		var re *epp.ResultError
		require.ErrorAs(t, err, &re)
		require.Equal(t, epp.CodeInvalidAuthorizationInfo, re.Code)
	}
	requireAuthInfo(t, backend, tr, "")
	_, err := c.ResetTransfer(t.Context(), tr, firstAuthInfo)
	require.ErrorIs(t, err, registrar.ErrConflict, "invalid resets do not advance the script")
}

func TestResetOtherRegistrarIsForbidden(t *testing.T) {
	t.Parallel()

	backend, c := transferSetup(t)
	tr := registrar.Transfer{Account: testClientID, DomainName: "owned.example"}
	require.NoError(t, backend.ScriptTransfer(tr, "another-registrar", []string{"202"}, nil))
	_, err := c.ResetTransfer(t.Context(), tr, firstAuthInfo)
	checkTransferErr(t, c, err)
	require.ErrorIs(t, err, registrar.ErrForbidden)
	require.NotErrorIs(t, err, registrar.ErrUnauthorized, "the credentials were accepted")
	require.True(t, registrar.IsPermanent(err))
	requireAuthInfo(t, backend, tr, "")
}

func TestResetTimeout(t *testing.T) {
	t.Parallel()

	// The deadline may run out before the request reaches the registry, or
	// after: the test holds either way.
	backend, c := transferSetup(t)
	tr := scriptTransfer(t, backend, "slow", []string{"!timeout"}, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.ResetTransfer(ctx, tr, firstAuthInfo)
	checkTransferErr(t, c, err)
	require.Less(t, time.Since(start), promptly)
	require.ErrorIs(t, err, registrar.ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.False(t, registrar.IsPermanent(err))
	requireAuthInfo(t, backend, tr, "")
	require.LessOrEqual(t, backend.TransferResets(tr), 1, "the timed-out request is not resent")

	other := scriptTransfer(t, backend, "fast", []string{"202"}, nil)
	r, err := c.ResetTransfer(t.Context(), other, firstAuthInfo)
	require.NoError(t, err, "the adapter still works after the timeout")
	require.Equal(t, 202, r.Status)
}

func TestResetCancelled(t *testing.T) {
	t.Parallel()

	backend, c := transferSetup(t)
	tr := scriptTransfer(t, backend, "cancelled", []string{"!timeout", "202"}, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := c.ResetTransfer(ctx, tr, firstAuthInfo)
		done <- err
	}()
	require.Eventually(t, func() bool { return backend.TransferResets(tr) == 1 }, time.Minute, time.Millisecond)
	start := time.Now()
	cancel()
	err := <-done
	checkTransferErr(t, c, err)
	require.Less(t, time.Since(start), promptly)
	require.ErrorIs(t, err, registrar.ErrUnavailable)
	require.ErrorIs(t, err, context.Canceled)

	r, err := c.ResetTransfer(t.Context(), tr, secondAuthInfo)
	require.NoError(t, err)
	require.Equal(t, 202, r.Status, "the script moves past the cancelled request")
	require.Equal(t, 2, backend.TransferResets(tr), "the cancelled request is not resent")
	requireAuthInfo(t, backend, tr, secondAuthInfo)
}

func TestResetDroppedIsNotResent(t *testing.T) {
	t.Parallel()

	backend := newBackend(t)
	srv := startServer(t, backend)
	c := newClient(t, srv, nil)
	tr := scriptTransfer(t, backend, "dropped", []string{"202"}, []string{"pending"})
	_, err := c.ReadTransferStatus(t.Context(), tr) // a session to reuse
	require.NoError(t, err)

	srv.DropNext(1)
	_, err = c.ResetTransfer(t.Context(), tr, firstAuthInfo)
	checkTransferErr(t, c, err)
	require.ErrorIs(t, err, registrar.ErrUnavailable)
	require.False(t, registrar.IsPermanent(err))
	require.Equal(t, 1, backend.TransferResets(tr), "a transfer request is never resent")
	requireAuthInfo(t, backend, tr, firstAuthInfo) // the registry acted: the caller cannot know

	_, err = c.ResetTransfer(t.Context(), tr, secondAuthInfo)
	require.NoError(t, err)
	require.Equal(t, 2, backend.TransferResets(tr))
}

func TestResetAfterServerClosedSession(t *testing.T) {
	t.Parallel()

	// A transfer request is never resent, so the client checks a pooled
	// session before it, however recently used, rather than lose the
	// request to a connection the server has closed.
	backend := newBackend(t)
	srv := startServer(t, backend)
	c := newClient(t, srv, nil)
	tr := scriptTransfer(t, backend, "closed", []string{"202"}, []string{"pending"})
	srv.CloseAfter(1)
	_, err := c.ReadTransferStatus(t.Context(), tr)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return srv.Stats().Disconnects == 1 }, time.Minute, time.Millisecond)

	r, err := c.ResetTransfer(t.Context(), tr, firstAuthInfo)
	require.NoError(t, err)
	require.Equal(t, 202, r.Status)
	require.Equal(t, 1, backend.TransferResets(tr))
	require.Equal(t, 2, srv.Stats().Logins)
}

func TestConcurrentResets(t *testing.T) {
	t.Parallel()

	backend, c := transferSetup(t)
	const transfers, resets = 8, 10
	var trs []registrar.Transfer
	for i := range transfers {
		trs = append(trs, scriptTransfer(t, backend, fmt.Sprintf("c%d", i), []string{"409", "202"}, nil))
	}
	var wg sync.WaitGroup
	errs := make(chan error, transfers*resets)
	for i, tr := range trs {
		wg.Go(func() {
			for n := range resets {
				_, err := c.ResetTransfer(context.Background(), tr, fmt.Sprintf("auth-%02d-%02d", i, n))
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
}
