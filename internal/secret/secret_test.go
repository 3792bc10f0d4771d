package secret_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/internal/secret"
)

// Test keys, used nowhere else.
const (
	key1 = "RVEzww/mcQAiHibikEKAmGjF00zYe2ziILDuAw9yeDA="
	key2 = "HPba2PTqQj95xJH52qst1OEhPcGth++5rdEQZo2Cgw8="
	key3 = "+r7yaHQnqfLZd98OeA1Fcc95DvVEYUaBR/aLADyE+oI="
)

// authInfoContext is a typical context, naming a row and a field.
const authInfoContext = "regsync.transfers/trf_abc/auth_info"

// parseErrorForms are the messages of ParseKeyring's errors, with each
// number written N.
var parseErrorForms = []string{
	"secret key spec is empty",
	"secret key entry N is empty",
	"secret key entry N has no id: with more than one key, write each as ID:KEY",
	"secret key entry N: id must be N to N characters of a-z, N-N, _ and -, starting with a letter or digit",
	"secret key entries N and N have the same id",
	"secret key entry N: key is not standard padded baseN: it contains a line break",
	"secret key entry N: key is not standard padded baseN: illegal baseN data at input byte N",
	"secret key entry N: key is N bytes, want N",
}

var digits = regexp.MustCompile(`[0-9]+`)

// requireSafeError checks that msg is one of forms with numbers filled in,
// so that no text of the input can be in it but counts and positions, and
// that msg contains none of parts. A part that is itself text of a form,
// such as "bytes, want", cannot be told apart from it and is not checked.
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

// keyParts returns the key of each entry of spec: the text after the first
// colon, or the whole entry if it has none.
func keyParts(spec string) []string {
	var parts []string
	for entry := range strings.SplitSeq(spec, ",") {
		_, key, found := strings.Cut(entry, ":")
		if !found {
			key = entry
		}
		parts = append(parts, strings.TrimSpace(key))
	}
	return parts
}

func mustParse(t testing.TB, spec string) *secret.Keyring {
	t.Helper()
	ring, err := secret.ParseKeyring(spec)
	require.NoError(t, err)
	return ring
}

func TestParseKeyring(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		spec        string
		wantCurrent string
		wantKeys    int
	}{
		{name: "one entry", spec: "k1:" + key1, wantCurrent: "k1", wantKeys: 1},
		{name: "bare key is k1", spec: key1, wantCurrent: "k1", wantKeys: 1},
		{name: "first is current", spec: "k2:" + key2 + ",k1:" + key1, wantCurrent: "k2", wantKeys: 2},
		{name: "three keys", spec: "c:" + key3 + ",b:" + key2 + ",a:" + key1, wantCurrent: "c", wantKeys: 3},
		{name: "longest id", spec: "0123456789abcdef:" + key1, wantCurrent: "0123456789abcdef", wantKeys: 1},
		{name: "id with _ and -", spec: "2024_06-b:" + key1, wantCurrent: "2024_06-b", wantKeys: 1},
		{name: "whitespace around spec", spec: " \tk1:" + key1 + "\n", wantCurrent: "k1", wantKeys: 1},
		{name: "whitespace around entries", spec: "k2:" + key2 + " ,\n k1:" + key1, wantCurrent: "k2", wantKeys: 2},
		{name: "whitespace around id and key", spec: "k2 : " + key2 + ",\tk1\t:\t" + key1, wantCurrent: "k2", wantKeys: 2},
		{name: "whitespace around bare key", spec: "\n " + key1 + " \r\n", wantCurrent: "k1", wantKeys: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ring := mustParse(t, tt.spec)
			require.Equal(t, tt.wantCurrent, ring.CurrentKeyID())
			require.Equal(t, fmt.Sprintf("secret.Keyring{current: %s, keys: %d}", tt.wantCurrent, tt.wantKeys), ring.String())
		})
	}
}

func TestParseKeyringErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		spec    string
		wantErr string
	}{
		{name: "empty", spec: "", wantErr: "secret key spec is empty"},
		{name: "only whitespace", spec: " \t\r\n", wantErr: "secret key spec is empty"},
		{name: "trailing comma", spec: "k1:" + key1 + ",", wantErr: "secret key entry 2 is empty"},
		{name: "empty entry", spec: "k2:" + key2 + ", ,k1:" + key1, wantErr: "secret key entry 2 is empty"},
		{name: "bare key among entries", spec: "k2:" + key2 + "," + key1, wantErr: "secret key entry 2 has no id: with more than one key, write each as ID:KEY"},
		{name: "two bare keys", spec: key2 + "," + key1, wantErr: "secret key entry 1 has no id: with more than one key, write each as ID:KEY"},
		{name: "empty id", spec: ":" + key1, wantErr: "secret key entry 1: id must be 1 to 16 characters of a-z, 0-9, _ and -, starting with a letter or digit"},
		{name: "upper-case id", spec: "K1:" + key1, wantErr: "secret key entry 1: id must be 1 to 16 characters of a-z, 0-9, _ and -, starting with a letter or digit"},
		{name: "id starting with -", spec: "-k1:" + key1, wantErr: "secret key entry 1: id must be 1 to 16 characters of a-z, 0-9, _ and -, starting with a letter or digit"},
		{name: "id of 17 characters", spec: "0123456789abcdefg:" + key1, wantErr: "secret key entry 1: id must be 1 to 16 characters of a-z, 0-9, _ and -, starting with a letter or digit"},
		{name: "id with a space", spec: "k 1:" + key1, wantErr: "secret key entry 1: id must be 1 to 16 characters of a-z, 0-9, _ and -, starting with a letter or digit"},
		{name: "key and id swapped", spec: key1 + ":k1", wantErr: "secret key entry 1: id must be 1 to 16 characters of a-z, 0-9, _ and -, starting with a letter or digit"},
		{name: "duplicate id", spec: "k1:" + key1 + ",k2:" + key2 + ",k1:" + key3, wantErr: "secret key entries 1 and 3 have the same id"},
		{name: "duplicate bare id", spec: "k1:" + key1 + ",k1:" + key1, wantErr: "secret key entries 1 and 2 have the same id"},
		{name: "empty key", spec: "k1:", wantErr: "secret key entry 1: key is 0 bytes, want 32"},
		{name: "16-byte key", spec: "k1:" + key1[:22] + "==", wantErr: "secret key entry 1: key is 16 bytes, want 32"},
		{name: "33-byte key", spec: "k1:" + key1[:43] + "A", wantErr: "secret key entry 1: key is 33 bytes, want 32"},
		{name: "second entry short", spec: "k2:" + key2 + ",k1:" + key1[:40], wantErr: "secret key entry 2: key is 30 bytes, want 32"},
		{name: "unpadded", spec: "k1:" + strings.TrimRight(key1, "="), wantErr: "secret key entry 1: key is not standard padded base64: illegal base64 data at input byte 40"},
		{name: "URL base64", spec: "k1:" + strings.NewReplacer("+", "-", "/", "_").Replace(key3), wantErr: "secret key entry 1: key is not standard padded base64: illegal base64 data at input byte 0"},
		{name: "space in key", spec: "k1:" + key1[:20] + " " + key1[20:], wantErr: "secret key entry 1: key is not standard padded base64: illegal base64 data at input byte 20"},
		{name: "newline in key", spec: "k1:" + key1[:20] + "\n" + key1[20:], wantErr: "secret key entry 1: key is not standard padded base64: it contains a line break"},
		{name: "hex key", spec: "k1:" + hex.EncodeToString(make([]byte, 32)), wantErr: "secret key entry 1: key is 48 bytes, want 32"},
		{name: "colon in key", spec: "k1:" + key1[:20] + ":" + key1[20:], wantErr: "secret key entry 1: key is not standard padded base64: illegal base64 data at input byte 20"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ring, err := secret.ParseKeyring(tt.spec)
			require.Nil(t, ring)
			require.EqualError(t, err, tt.wantErr)
			parts := append(keyParts(tt.spec), key1, key2, key3)
			requireSafeError(t, err.Error(), parseErrorForms, parts...)
		})
	}
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	ring := mustParse(t, "k2:"+key2+",k1:"+key1)
	tests := []struct {
		name      string
		plaintext []byte
		context   string
	}{
		{name: "authInfo", plaintext: []byte("Xy7!pQ2z"), context: authInfoContext},
		{name: "empty plaintext", plaintext: nil, context: authInfoContext},
		{name: "empty context", plaintext: []byte("Xy7!pQ2z"), context: ""},
		{name: "binary", plaintext: []byte{0, 1, 2, 0xff, 0xfe}, context: "\x00\xff"},
		{name: "long", plaintext: bytes.Repeat([]byte("abc"), 10000), context: strings.Repeat("c", 1000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sealed := ring.Seal(tt.plaintext, tt.context)
			require.Equal(t, "k2", sealed.KeyID)
			require.Len(t, sealed.Ciphertext, 12+len(tt.plaintext)+16)
			got, err := ring.Open(sealed, tt.context)
			require.NoError(t, err)
			require.Equal(t, string(tt.plaintext), string(got))
		})
	}
}

func TestSealTwiceDiffers(t *testing.T) {
	t.Parallel()
	ring := mustParse(t, key1)
	a := ring.Seal([]byte("Xy7!pQ2z"), authInfoContext)
	b := ring.Seal([]byte("Xy7!pQ2z"), authInfoContext)
	require.NotEqual(t, a.Ciphertext[:12], b.Ciphertext[:12], "nonces")
	require.NotEqual(t, a.Ciphertext[12:], b.Ciphertext[12:], "encrypted values")
}

func TestRotation(t *testing.T) {
	t.Parallel()
	old := mustParse(t, "k1:"+key1)
	rotated := mustParse(t, "k2:"+key2+",k1:"+key1)
	retired := mustParse(t, "k2:"+key2)

	sealedOld := old.Seal([]byte("oldcode1"), authInfoContext)
	require.False(t, old.NeedsRotation(sealedOld))
	require.True(t, rotated.NeedsRotation(sealedOld))
	got, err := rotated.Open(sealedOld, authInfoContext)
	require.NoError(t, err)
	require.Equal(t, "oldcode1", string(got))

	// Re-sealing moves the value to the current key.
	resealed := rotated.Seal(got, authInfoContext)
	require.Equal(t, "k2", resealed.KeyID)
	require.False(t, rotated.NeedsRotation(resealed))
	got, err = retired.Open(resealed, authInfoContext)
	require.NoError(t, err)
	require.Equal(t, "oldcode1", string(got))

	_, err = retired.Open(sealedOld, authInfoContext)
	require.ErrorIs(t, err, secret.ErrUnknownKey)
	require.EqualError(t, err, `unknown secret key id "k1"`)
}

func TestEachKeyOpensItsOwn(t *testing.T) {
	t.Parallel()
	ring := mustParse(t, "k3:"+key3+",k2:"+key2+",k1:"+key1)
	for id, key := range map[string]string{"k1": key1, "k2": key2, "k3": key3} {
		sealed := mustParse(t, id+":"+key).Seal([]byte("code-"+id), authInfoContext)
		require.Equal(t, id, sealed.KeyID)
		got, err := ring.Open(sealed, authInfoContext)
		require.NoError(t, err, id)
		require.Equal(t, "code-"+id, string(got))
	}
}

func TestOpenFails(t *testing.T) {
	t.Parallel()
	ring := mustParse(t, "k2:"+key2+",k1:"+key1)
	sealed := ring.Seal([]byte("Xy7!pQ2z"), authInfoContext)
	with := func(change func(s *secret.Sealed)) secret.Sealed {
		s := secret.Sealed{KeyID: sealed.KeyID, Ciphertext: bytes.Clone(sealed.Ciphertext)}
		change(&s)
		return s
	}
	type openTest struct {
		name    string
		sealed  secret.Sealed
		context string
		wantErr error
	}
	tests := []openTest{
		{name: "other row", sealed: sealed, context: "regsync.transfers/trf_abd/auth_info", wantErr: secret.ErrDecrypt},
		{name: "other field", sealed: sealed, context: "regsync.transfers/trf_abc/note", wantErr: secret.ErrDecrypt},
		{name: "empty context", sealed: sealed, context: "", wantErr: secret.ErrDecrypt},
		{name: "other key of the ring", sealed: with(func(s *secret.Sealed) { s.KeyID = "k1" }), context: authInfoContext, wantErr: secret.ErrDecrypt},
		{name: "unknown key id", sealed: with(func(s *secret.Sealed) { s.KeyID = "k9" }), context: authInfoContext, wantErr: secret.ErrUnknownKey},
		{name: "empty key id", sealed: with(func(s *secret.Sealed) { s.KeyID = "" }), context: authInfoContext, wantErr: secret.ErrUnknownKey},
		{name: "truncated", sealed: with(func(s *secret.Sealed) { s.Ciphertext = s.Ciphertext[:len(s.Ciphertext)-1] }), context: authInfoContext, wantErr: secret.ErrDecrypt},
		{name: "extended", sealed: with(func(s *secret.Sealed) { s.Ciphertext = append(s.Ciphertext, 0) }), context: authInfoContext, wantErr: secret.ErrDecrypt},
		{name: "shorter than nonce and tag", sealed: with(func(s *secret.Sealed) { s.Ciphertext = s.Ciphertext[:27] }), context: authInfoContext, wantErr: secret.ErrDecrypt},
		{name: "empty ciphertext", sealed: with(func(s *secret.Sealed) { s.Ciphertext = nil }), context: authInfoContext, wantErr: secret.ErrDecrypt},
	}
	// Flipping any bit of the nonce, the encrypted value or the tag.
	for i := range len(sealed.Ciphertext) * 8 {
		tests = append(tests, openTest{
			name:    fmt.Sprintf("bit %d flipped", i),
			sealed:  with(func(s *secret.Sealed) { s.Ciphertext[i/8] ^= 1 << (i % 8) }),
			context: authInfoContext,
			wantErr: secret.ErrDecrypt,
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ring.Open(tt.sealed, tt.context)
			require.ErrorIs(t, err, tt.wantErr)
			require.Nil(t, got)
		})
	}
	_, err := ring.Open(with(func(s *secret.Sealed) { s.KeyID = "k9" }), authInfoContext)
	require.EqualError(t, err, `unknown secret key id "k9"`)
	_, err = ring.Open(sealed, "")
	require.Same(t, secret.ErrDecrypt, err)
}

func TestGenerateKey(t *testing.T) {
	t.Parallel()
	a, err := secret.GenerateKey("k2")
	require.NoError(t, err)
	require.Regexp(t, `^k2:[A-Za-z0-9+/]{43}=$`, a)
	b, err := secret.GenerateKey("k1")
	require.NoError(t, err)
	require.NotEqual(t, a[3:], b[3:])

	ring := mustParse(t, a+","+b)
	require.Equal(t, "k2", ring.CurrentKeyID())
	got, err := ring.Open(ring.Seal([]byte("Xy7!pQ2z"), authInfoContext), authInfoContext)
	require.NoError(t, err)
	require.Equal(t, "Xy7!pQ2z", string(got))

	for _, id := range []string{"", "K2", "-k", "k 2", "0123456789abcdefg"} {
		_, err := secret.GenerateKey(id)
		require.EqualError(t, err, fmt.Sprintf("key id %q: id must be 1 to 16 characters of a-z, 0-9, _ and -, starting with a letter or digit", id))
	}
}

func TestKeyringDoesNotPrintKeys(t *testing.T) {
	t.Parallel()
	ring := mustParse(t, "k2:"+key2+",k1:"+key1)
	const want = "secret.Keyring{current: k2, keys: 2}"
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3v"} {
		require.Equal(t, want, fmt.Sprintf(verb, ring), verb)
	}
	require.Equal(t, want, fmt.Sprint(ring))
	require.Equal(t, "ring: "+want, fmt.Errorf("ring: %w", fmt.Errorf("%v", ring)).Error())

	var text, json bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("loaded", "ring", ring)
	slog.New(slog.NewJSONHandler(&json, nil)).Info("loaded", slog.Any("ring", ring))
	require.Contains(t, text.String(), "ring.current=k2 ring.keys=2")
	require.Contains(t, json.String(), `"ring":{"current":"k2","keys":2}`)

	for _, out := range []string{text.String(), json.String()} {
		for _, key := range []string{key1, key2} {
			raw, err := base64.StdEncoding.DecodeString(key)
			require.NoError(t, err)
			require.NotContains(t, out, key)
			require.NotContains(t, out, key[:8])
			require.NotContains(t, out, hex.EncodeToString(raw)[:8])
			require.NotContains(t, out, string(raw[:4]))
		}
	}
}

func FuzzSealOpen(f *testing.F) {
	ring := mustParse(f, "k2:"+key2+",k1:"+key1)
	f.Add([]byte("Xy7!pQ2z"), authInfoContext, "regsync.transfers/trf_abd/auth_info")
	f.Add([]byte{}, "", "\x00")
	f.Add([]byte{0xff, 0}, "a", "a")
	f.Fuzz(func(t *testing.T, plaintext []byte, context, other string) {
		sealed := ring.Seal(plaintext, context)
		require.Len(t, sealed.Ciphertext, 12+len(plaintext)+16)
		got, err := ring.Open(sealed, context)
		require.NoError(t, err)
		require.Equal(t, string(plaintext), string(got))
		if other != context {
			got, err := ring.Open(sealed, other)
			require.ErrorIs(t, err, secret.ErrDecrypt)
			require.Nil(t, got)
		}
	})
}

func FuzzParseKeyring(f *testing.F) {
	for _, spec := range []string{
		"k1:" + key1,
		key1,
		"k2:" + key2 + ",k1:" + key1,
		" k2 : " + key2 + " ,\n k1:" + key1 + "\n",
		"",
		",",
		"k1:",
		":" + key1,
		key1 + ":k1",
		"k2:" + key2 + "," + key1,
		"k1:" + key1 + ",k1:" + key2,
		"k1:" + key1[:40],
		"k1:" + strings.TrimRight(key1, "="),
		"k1:" + key1[:20] + "\n" + key1[20:],
	} {
		f.Add(spec)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		ring, err := secret.ParseKeyring(spec)
		if err != nil {
			require.Nil(t, ring)
			requireSafeError(t, err.Error(), parseErrorForms, keyParts(spec)...)
			return
		}
		require.Regexp(t, `^[a-z0-9][a-z0-9_-]{0,15}$`, ring.CurrentKeyID())
		sealed := ring.Seal([]byte("Xy7!pQ2z"), authInfoContext)
		require.False(t, ring.NeedsRotation(sealed))
		got, err := ring.Open(sealed, authInfoContext)
		require.NoError(t, err)
		require.Equal(t, "Xy7!pQ2z", string(got))
	})
}
