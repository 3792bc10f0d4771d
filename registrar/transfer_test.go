package registrar_test

import (
	"testing"
	"unicode/utf8"

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

func TestValidateAuthInfo(t *testing.T) {
	t.Parallel()

	tests := []struct {
		authInfo string
		valid    bool
	}{
		{"", false},
		{"abc12", false},
		{"abc123", true},
		{"mySecret", true},
		{"0123456789abcdef", true},
		{"0123456789abcdefg", false},
		{"pässwörd", true},
		{"ключключ", true},
		{"abc\xff123", false},
	}
	for _, tt := range tests {
		err := registrar.ValidateAuthInfo(tt.authInfo)
		if tt.valid {
			require.NoError(t, err, "%q", tt.authInfo)
			continue
		}
		require.Error(t, err, "%q", tt.authInfo)
		if tt.authInfo != "" {
			require.NotContains(t, err.Error(), tt.authInfo)
		}
	}
}

// FuzzValidateAuthInfo checks that ValidateAuthInfo accepts exactly the valid
// UTF-8 strings of 6 to 16 characters and that its error is a fixed text,
// so it never holds the value.
func FuzzValidateAuthInfo(f *testing.F) {
	f.Add("mySecret")
	f.Add("abc12")
	f.Add("0123456789abcdefg")
	f.Add("abc\xff123")

	f.Fuzz(func(t *testing.T, authInfo string) {
		err := registrar.ValidateAuthInfo(authInfo)
		n := utf8.RuneCountInString(authInfo)
		valid := utf8.ValidString(authInfo) && n >= 6 && n <= 16
		require.Equal(t, valid, err == nil)
		if err != nil {
			require.Contains(t, []string{
				"authInfo is not valid UTF-8",
				"authInfo is not 6 to 16 characters long",
			}, err.Error(), "the error is a fixed text, whatever the value")
		}
	})
}
