package registrar_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/registrar"
)

func TestTransferStateValid(t *testing.T) {
	t.Parallel()

	for _, s := range registrar.TransferStates {
		require.True(t, s.Valid(), s)
	}
	for _, s := range []registrar.TransferState{"", "Pending", "active", "blocked:resettable"} {
		require.False(t, s.Valid(), s)
	}
}

func TestMapEnomTransfer(t *testing.T) {
	t.Parallel()

	tests := []struct {
		code int
		want registrar.TransferState
	}{
		{-1, registrar.TransferUnknown},
		{0, registrar.TransferPending},
		{1, registrar.TransferPending},
		{2, registrar.TransferPending},
		{3, registrar.TransferPending},
		{4, registrar.TransferBlocked},
		{5, registrar.TransferBlocked},
		{6, registrar.TransferBlocked},
		{7, registrar.TransferBlocked},
		{8, registrar.TransferBlocked},
		{9, registrar.TransferCompleted},
		{10, registrar.TransferCancelled},
		{11, registrar.TransferUnknown},
		{99, registrar.TransferUnknown},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, registrar.MapEnomTransfer(tt.code), "code %d", tt.code)
	}
}
