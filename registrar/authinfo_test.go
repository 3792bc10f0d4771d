package registrar_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/registrar"
)

// authInfoErrorForms are the messages of ValidateAuthInfo's errors, with
// each number written N.
var authInfoErrorForms = []string{
	"authInfo must be N to N characters, got N",
	"authInfo contains a character outside printable ASCII at position N",
}

func TestValidateAuthInfo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		authInfo string
		wantErr  string
	}{
		{name: "6 characters", authInfo: "Ab3!x9"},
		{name: "16 characters", authInfo: "Ab3!x9Ab3!x9Ab3!"},
		{name: "symbols", authInfo: "!\"#$%&'()*+,-./:"},
		{name: "more symbols", authInfo: ";<=>?@[\\]^_`{|}~"},
		{name: "lowest and highest", authInfo: "!!!~~~"},
		{name: "empty", authInfo: "", wantErr: "authInfo must be 6 to 16 characters, got 0"},
		{name: "4 characters", authInfo: "Ab3!", wantErr: "authInfo must be 6 to 16 characters, got 4"},
		{name: "5 characters", authInfo: "Ab3!x", wantErr: "authInfo must be 6 to 16 characters, got 5"},
		{name: "17 characters", authInfo: "Ab3!x9Ab3!x9Ab3!x", wantErr: "authInfo must be 6 to 16 characters, got 17"},
		{name: "space", authInfo: "Ab3 x9Q", wantErr: "authInfo contains a character outside printable ASCII at position 4"},
		{name: "leading space", authInfo: " Ab3x9Q", wantErr: "authInfo contains a character outside printable ASCII at position 1"},
		{name: "tab", authInfo: "Ab3x9Q\t", wantErr: "authInfo contains a character outside printable ASCII at position 7"},
		{name: "trailing newline", authInfo: "Ab3x9Qz\n", wantErr: "authInfo contains a character outside printable ASCII at position 8"},
		{name: "NUL", authInfo: "Ab\x003x9Q", wantErr: "authInfo contains a character outside printable ASCII at position 3"},
		{name: "DEL", authInfo: "Ab3x9Q\x7f", wantErr: "authInfo contains a character outside printable ASCII at position 7"},
		{name: "é", authInfo: "Abé3x9Q", wantErr: "authInfo contains a character outside printable ASCII at position 3"},
		{name: "emoji", authInfo: "Ab3x9Q🔑", wantErr: "authInfo contains a character outside printable ASCII at position 7"},
		{name: "no-break space", authInfo: "Ab3x9Q\u00a0", wantErr: "authInfo contains a character outside printable ASCII at position 7"},
		{name: "fullwidth letter", authInfo: "Ab3x9Qａ", wantErr: "authInfo contains a character outside printable ASCII at position 7"},
		{name: "invalid UTF-8", authInfo: "Ab3x9Q\xff", wantErr: "authInfo contains a character outside printable ASCII at position 7"},
		{name: "5 characters, 10 bytes", authInfo: "ééééé", wantErr: "authInfo must be 6 to 16 characters, got 5"},
		{name: "6 emoji", authInfo: "🔑🔑🔑🔑🔑🔑", wantErr: "authInfo contains a character outside printable ASCII at position 1"},
		{name: "17 characters with a space", authInfo: "Ab3 x9Ab3!x9Ab3!x", wantErr: "authInfo must be 6 to 16 characters, got 17"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := registrar.ValidateAuthInfo(tt.authInfo)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.wantErr)
			requireSafeError(t, err.Error(), authInfoErrorForms, tt.authInfo)
		})
	}
}

func FuzzValidateAuthInfo(f *testing.F) {
	for _, s := range []string{"", "Ab3!", "Ab3!x9", "Ab3!x9Ab3!x9Ab3!", "Ab3!x9Ab3!x9Ab3!x", "Ab3 x9Q", "Abé3x9Q", "Ab3x9Q🔑", "Ab\x003x9Q", "Ab3x9Q\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := registrar.ValidateAuthInfo(s)
		if valid := len(s) >= 6 && len(s) <= 16 && !strings.ContainsFunc(s, func(r rune) bool { return r < '!' || r > '~' }); valid {
			require.NoError(t, err)
			return
		}
		require.Error(t, err)
		requireSafeError(t, err.Error(), authInfoErrorForms, s)
	})
}

// digits matches the numbers filled into an error form.
var digits = regexp.MustCompile(`[0-9]+`)

// requireSafeError checks that msg is one of forms with numbers filled in,
// and holds none of parts unless a part is itself text of the forms.
func requireSafeError(t *testing.T, msg string, forms []string, parts ...string) {
	t.Helper()
	require.Contains(t, forms, digits.ReplaceAllString(msg, "N"))
	allForms := strings.Join(forms, "\n")
	for _, part := range parts {
		if !strings.Contains(allForms, digits.ReplaceAllString(part, "N")) {
			require.NotContains(t, msg, part)
		}
	}
}
