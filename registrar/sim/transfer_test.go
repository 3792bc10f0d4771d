package sim_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/sim"
)

var transfer1 = registrar.Transfer{Account: "acct1", DomainName: "example.com"}

func TestScriptTransferRejectsBadScripts(t *testing.T) {
	t.Parallel()

	s := newSim(t, sim.DefaultConfig())
	require.ErrorContains(t, s.ScriptTransfer(registrar.Transfer{Account: "acct1"}, "", nil, nil), "domain name is empty")
	require.ErrorContains(t, s.ScriptTransfer(registrar.Transfer{DomainName: "example.com"}, "", nil, nil), "owner and account are empty")

	tests := []struct {
		name     string
		resets   []string
		statuses []string
		want     string
	}{
		{"empty reset", []string{"202", ""}, nil, `resets: entry 1: unknown entry ""`},
		{"1xx reset", []string{"100"}, nil, `resets: entry 0: unknown entry "100"`},
		{"600 reset", []string{"600"}, nil, `unknown entry "600"`},
		{"padded code", []string{"0202"}, nil, `unknown entry "0202"`},
		{"signed code", []string{"+20"}, nil, `unknown entry "+20"`},
		{"state as reset", []string{"pending"}, nil, `unknown entry "pending"`},
		{"unknown token", []string{"!teapot"}, nil, `unknown entry "!teapot"`},
		{"bad retry-after", []string{"!429:soon"}, nil, `retry-after "soon" is not a positive duration`},
		{"zero retry-after", []string{"!429:0s"}, nil, `retry-after "0s" is not a positive duration`},
		{"2xx status read", nil, []string{"pending", "200"}, `statuses: entry 1: unknown entry "200"`},
		{"unknown state", nil, []string{"active"}, `unknown entry "active"`},
		{"resettable pending", nil, []string{"pending:resettable"}, "only a blocked transfer can be resettable"},
		{"resettable completed", nil, []string{"completed:resettable"}, "only a blocked transfer can be resettable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			err := newSim(t, sim.DefaultConfig()).ScriptTransfer(transfer1, "", tt.resets, tt.statuses)
			require.ErrorContains(t, err, tt.want)
			require.Regexp(t, `^sim: script transfer of example\.com: `, err.Error())
		})
	}
}

func TestScriptTransferDefaults(t *testing.T) {
	t.Parallel()

	s := newSim(t, sim.DefaultConfig())
	require.NoError(t, s.ScriptTransfer(transfer1, "", nil, nil))
	r, err := s.ResetTransfer(context.Background(), transfer1, "")
	require.NoError(t, err)
	require.Equal(t, registrar.ResetResult{Status: 202, RequestID: "sim_1"}, r)
	st, err := s.ReadTransferStatus(context.Background(), transfer1)
	require.NoError(t, err)
	require.Equal(t, registrar.TransferStatus{
		Code:        3,
		Description: "Awaiting response from losing registrar",
		State:       registrar.TransferPending,
		RequestID:   "sim_2",
	}, st)
}

func TestScriptTransferReplaces(t *testing.T) {
	t.Parallel()

	s := newSim(t, sim.DefaultConfig())
	require.NoError(t, s.ScriptTransfer(transfer1, "", []string{"202"}, nil))
	_, err := s.ResetTransfer(context.Background(), transfer1, "mySecret")
	require.NoError(t, err)
	require.Equal(t, 1, s.TransferResets(transfer1))

	other := registrar.Transfer{Account: "acct2", DomainName: transfer1.DomainName}
	require.NoError(t, s.ScriptTransfer(other, "", []string{"409"}, nil))
	require.Zero(t, s.TransferResets(transfer1), "the count starts over")
	_, ok := s.TransferAuthInfo(transfer1)
	require.False(t, ok, "the remembered authInfo is forgotten")
	_, err = s.ResetTransfer(context.Background(), transfer1, "")
	require.ErrorIs(t, err, registrar.ErrForbidden, "the domain's transfer now belongs to acct2")
	_, err = s.ResetTransfer(context.Background(), other, "")
	require.ErrorIs(t, err, registrar.ErrConflict)
}

func TestTransferResetsCountsEveryRequest(t *testing.T) {
	t.Parallel()

	s := newSim(t, sim.DefaultConfig())
	require.NoError(t, s.ScriptTransfer(transfer1, "", []string{"500", "202"}, nil))
	for _, tr := range []registrar.Transfer{
		transfer1,
		{Account: "acct2", DomainName: transfer1.DomainName},
		transfer1,
	} {
		_, _ = s.ResetTransfer(context.Background(), tr, "")
	}
	_, _ = s.ResetTransfer(context.Background(), transfer1, "short")
	_, _ = s.ReadTransferStatus(context.Background(), transfer1)
	require.Equal(t, 4, s.TransferResets(transfer1))

	unscripted := registrar.Transfer{Account: "acct1", DomainName: "nowhere.example"}
	_, err := s.ResetTransfer(context.Background(), unscripted, "")
	require.ErrorIs(t, err, registrar.ErrNotFound)
	require.Equal(t, 1, s.TransferResets(unscripted))
	_, ok := s.TransferAuthInfo(unscripted)
	require.False(t, ok)
}

func TestTransferInvalidRequests(t *testing.T) {
	t.Parallel()

	s := newSim(t, sim.DefaultConfig())
	require.NoError(t, s.ScriptTransfer(transfer1, "", []string{"202"}, nil))
	tests := []struct {
		name     string
		transfer registrar.Transfer
		authInfo string
	}{
		{"no account", registrar.Transfer{DomainName: transfer1.DomainName}, ""},
		{"no domain name", registrar.Transfer{Account: transfer1.Account}, ""},
		{"short authInfo", transfer1, "abc12"},
		{"long authInfo", transfer1, "0123456789abcdefg"},
		{"authInfo not UTF-8", transfer1, "abc\xff1234"},
	}
	for _, tt := range tests {
		_, err := s.ResetTransfer(context.Background(), tt.transfer, tt.authInfo)
		require.ErrorIs(t, err, registrar.ErrInvalidRequest, tt.name)
		var apiErr *registrar.APIError
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, 400, apiErr.Status)
		require.Equal(t, "bad_request", apiErr.Code)
		require.Equal(t, `answered "404 Bad Request"`, apiErr.Detail)
	}
	_, err := s.ReadTransferStatus(context.Background(), registrar.Transfer{DomainName: transfer1.DomainName})
	require.ErrorIs(t, err, registrar.ErrInvalidRequest)
}

func TestTransferUnexpectedStatus(t *testing.T) {
	t.Parallel()

	s := newSim(t, sim.DefaultConfig())
	require.NoError(t, s.ScriptTransfer(transfer1, "", []string{"418"}, []string{"302"}))
	_, err := s.ResetTransfer(context.Background(), transfer1, "mySecret1")
	require.EqualError(t, err, `sim: reset transfer of "example.com" for account "acct1": unexpected status "418 I'm a teapot" (request sim_1): unreadable response from registrar`)
	_, err = s.ReadTransferStatus(context.Background(), transfer1)
	require.EqualError(t, err, `sim: read transfer status of "example.com" for account "acct1": unexpected status "302 Found" (request sim_2): unreadable response from registrar`)
}

func TestTransferLatency(t *testing.T) {
	t.Parallel()

	cfg := sim.DefaultConfig()
	cfg.Latency = time.Hour
	s := newSim(t, cfg)
	require.NoError(t, s.ScriptTransfer(transfer1, "", []string{"202"}, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := s.ResetTransfer(ctx, transfer1, "mySecret1")
	require.ErrorIs(t, err, registrar.ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotContains(t, err.Error(), "mySecret1")
	_, err = s.ReadTransferStatus(ctx, transfer1)
	require.ErrorIs(t, err, registrar.ErrUnavailable)
	require.Zero(t, s.TransferResets(transfer1), "a reset abandoned during the latency never reached the registrar")
}
