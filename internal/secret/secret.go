// Package secret encrypts the secrets regsync stores, such as a transfer's
// authInfo, with AES-256-GCM under a keyring that supports key rotation.
//
// The keyring comes from REGSYNC_SECRET_KEY or REGSYNC_SECRET_KEY_FILE; the
// caller reads the variable or the file and passes its value to
// [ParseKeyring]. [Keyring.Seal] encrypts with the current key and
// [Keyring.Open] decrypts with whichever key of the ring sealed the value.
//
// To rotate keys:
//
//  1. Make a key with a new id with [GenerateKey] and put it first in the
//     spec, keeping the old key after it: "k2:NEW,k1:OLD". New values are
//     sealed with k2; values sealed with k1 still open.
//  2. Re-seal every stored value for which [Keyring.NeedsRotation] reports
//     true: open it and seal it again.
//  3. Remove the old key from the spec: "k2:NEW".
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
)

// keySize is the size of an AES-256 key in bytes.
const keySize = 32

// bareKeyID is the id of a key given without one.
const bareKeyID = "k1"

// idPattern is the form of a key id.
var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,15}$`)

// errBadID says what a key id must look like. It never quotes the id, which
// may be a key written in the wrong place.
var errBadID = errors.New("id must be 1 to 16 characters of a-z, 0-9, _ and -, starting with a letter or digit")

// ErrUnknownKey is returned by [Keyring.Open] for a value sealed with a key
// id the keyring does not hold, typically an old key removed from the spec
// before every value sealed with it was re-sealed. The error names the id.
var ErrUnknownKey = errors.New("unknown secret key id")

// ErrDecrypt is returned by [Keyring.Open] when a sealed value does not
// decrypt: it was altered, it was sealed for another context, or its key id
// now names a different key. The error gives no further detail.
var ErrDecrypt = errors.New("cannot decrypt secret: wrong key, wrong context or altered ciphertext")

// Sealed is an encrypted secret, as stored.
type Sealed struct {
	// KeyID is the id of the key that sealed the value.
	KeyID string
	// Ciphertext is the 12-byte random nonce followed by the GCM output:
	// the encrypted value and its 16-byte tag.
	Ciphertext []byte
}

// Keyring holds the keys that seal and open secrets. Use [ParseKeyring] to
// make one. It is safe for concurrent use.
//
// A Keyring never prints its keys: fmt, [Keyring.String] and
// [Keyring.LogValue] show only the current key id and the number of keys.
type Keyring struct {
	current string
	aeads   map[string]cipher.AEAD
}

// ParseKeyring parses a key spec: one or more comma-separated entries
// ID:KEY. The first entry is the current key, which [Keyring.Seal] uses;
// the others only open values sealed before a rotation.
//
// An ID is 1 to 16 characters of a-z, 0-9, _ and -, starting with a letter
// or digit; ids must be distinct. A KEY is 32 random bytes in standard
// base64 with padding (44 characters), as printed by [GenerateKey],
// "openssl rand -base64 32" or "head -c 32 /dev/urandom | base64".
//
// A spec of a single KEY without an id is also accepted and means
// "k1:KEY", so that the first rotation can write "k2:NEW,k1:OLD".
//
// Spaces, tabs and newlines around entries, ids and keys are ignored, so a
// key file may hold one entry a line after each comma. An empty entry, as
// after a trailing comma, is an error.
//
// Errors name entries by position and never contain ids or keys.
func ParseKeyring(spec string) (*Keyring, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, errors.New("secret key spec is empty")
	}
	entries := strings.Split(spec, ",")
	k := &Keyring{aeads: make(map[string]cipher.AEAD, len(entries))}
	positions := make(map[string]int, len(entries))
	for i, entry := range entries {
		pos := i + 1
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return nil, fmt.Errorf("secret key entry %d is empty", pos)
		}
		id, key, found := strings.Cut(entry, ":")
		if !found {
			if len(entries) > 1 {
				return nil, fmt.Errorf("secret key entry %d has no id: with more than one key, write each as ID:KEY", pos)
			}
			id, key = bareKeyID, entry
		}
		id, key = strings.TrimSpace(id), strings.TrimSpace(key)
		if !idPattern.MatchString(id) {
			return nil, fmt.Errorf("secret key entry %d: %w", pos, errBadID)
		}
		if prev, ok := positions[id]; ok {
			return nil, fmt.Errorf("secret key entries %d and %d have the same id", prev, pos)
		}
		aead, err := newAEAD(key)
		if err != nil {
			return nil, fmt.Errorf("secret key entry %d: %w", pos, err)
		}
		positions[id] = pos
		k.aeads[id] = aead
		if pos == 1 {
			k.current = id
		}
	}
	return k, nil
}

// newAEAD decodes a base64 key and returns AES-256-GCM with random nonces
// under it. Its errors never contain the key.
func newAEAD(key string) (cipher.AEAD, error) {
	// The decoder skips newlines; a key is one line.
	if strings.ContainsAny(key, "\r\n") {
		return nil, errors.New("key is not standard padded base64: it contains a line break")
	}
	raw, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		return nil, fmt.Errorf("key is not standard padded base64: %w", err)
	}
	if len(raw) != keySize {
		return nil, fmt.Errorf("key is %d bytes, want %d", len(raw), keySize)
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	return aead, nil
}

// GenerateKey returns a key spec entry "ID:KEY" holding a fresh random key
// for [ParseKeyring], such as "k2:3q2+7w...=". The id must be 1 to 16
// characters of a-z, 0-9, _ and -, starting with a letter or digit.
func GenerateKey(id string) (string, error) {
	if !idPattern.MatchString(id) {
		return "", fmt.Errorf("key id %q: %w", id, errBadID)
	}
	key := make([]byte, keySize)
	// crypto/rand.Read never returns an error: it crashes the program if
	// the system's random source fails.
	_, _ = rand.Read(key)
	return id + ":" + base64.StdEncoding.EncodeToString(key), nil
}

// CurrentKeyID returns the id of the key [Keyring.Seal] uses: the first in
// the spec.
func (k *Keyring) CurrentKeyID() string {
	return k.current
}

// Seal encrypts plaintext with the current key and a fresh random 96-bit
// nonce, so sealing the same plaintext twice gives different ciphertexts.
// Random nonces keep a key safe for 2^32 seals (NIST SP 800-38D), far more
// than regsync makes.
//
// The context names where the value is stored, such as
// "regsync.transfers/trf_abc/auth_info". It is authenticated but neither
// encrypted nor stored: [Keyring.Open] must be given the same context, so a
// ciphertext copied to another row or field does not open.
func (k *Keyring) Seal(plaintext []byte, context string) Sealed {
	return Sealed{
		KeyID: k.current,
		// NewGCMWithRandomNonce makes and prepends the nonce itself: the
		// nil nonce here is its contract, not a fixed nonce.
		Ciphertext: k.aeads[k.current].Seal(nil, nil, plaintext, []byte(context)), //nolint:gosec // G407: see above
	}
}

// Open decrypts a value sealed by [Keyring.Seal] with any key of the ring
// and the same context. It returns an error wrapping [ErrUnknownKey] if the
// ring has no key with the value's id, and [ErrDecrypt] if the value does
// not decrypt.
func (k *Keyring) Open(s Sealed, context string) ([]byte, error) {
	aead, ok := k.aeads[s.KeyID]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, s.KeyID)
	}
	plaintext, err := aead.Open(nil, nil, s.Ciphertext, []byte(context))
	if err != nil {
		return nil, ErrDecrypt
	}
	return plaintext, nil
}

// NeedsRotation reports whether s was sealed with a key other than the
// current one and should be re-sealed before that key is retired.
func (k *Keyring) NeedsRotation(s Sealed) bool {
	return s.KeyID != k.current
}

// String describes the keyring without its keys, as
// "secret.Keyring{current: k2, keys: 2}".
func (k *Keyring) String() string {
	return fmt.Sprintf("secret.Keyring{current: %s, keys: %d}", k.current, len(k.aeads))
}

// Format prints [Keyring.String] for every verb, so that no fmt verb, such
// as %#v or %d, can print the keys.
func (k *Keyring) Format(f fmt.State, _ rune) {
	_, _ = io.WriteString(f, k.String())
}

// LogValue describes the keyring to log/slog without its keys: the current
// key id and the number of keys.
func (k *Keyring) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("current", k.current),
		slog.Int("keys", len(k.aeads)),
	)
}
