package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The scopes an API key can hold.
const (
	// ScopeReadDomains allows status syncs of domains.
	ScopeReadDomains = "read:domains"
	// ScopeWriteTransfers allows resets of blocked transfers.
	ScopeWriteTransfers = "write:transfers"
)

// Scopes lists every scope, as regsync.api_keys' CHECK constraint does.
var Scopes = []string{ScopeReadDomains, ScopeWriteTransfers}

// Errors of the API key store.
var (
	// ErrAPIKeyNotFound means no API key has the given id.
	ErrAPIKeyNotFound = errors.New("API key not found")
	// ErrInvalidToken means a token is malformed, names no key, does not
	// match its key, or names a revoked key.
	ErrInvalidToken = errors.New("invalid API token")
)

// tokenPrefix starts every API token: rsk_<26 id characters>_<52 secret
// characters>.
const tokenPrefix = "rsk_"

// apiKeyIDPrefix starts every API key id; the rest is the id part of the
// token.
const apiKeyIDPrefix = "key_"

// tokenEncoding writes random bytes as lower-case base32 without padding:
// 16 bytes of id in 26 characters, 32 bytes of secret in 52.
var tokenEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// tokenPattern is the form of a token; its groups are the id part and the
// secret.
var tokenPattern = regexp.MustCompile(`^rsk_([a-z2-7]{26})_([a-z2-7]{52})$`)

// apiKeyIDPattern is the CHECK constraint on regsync.api_keys.id.
var apiKeyIDPattern = regexp.MustCompile(`^key_[a-z2-7]{26}$`)

// lastUsedResolution is how stale last_used_at may be: a key used more
// often is not written on every request.
const lastUsedResolution = time.Minute

// APIKey is a row of regsync.api_keys, without its token hash.
type APIKey struct {
	ID     string
	Name   string
	Scopes []string
	// CreatedAt is when the key was created; RevokedAt when it was revoked
	// and LastUsedAt when it last authenticated a request, to the minute,
	// both zero when that never happened.
	CreatedAt  time.Time
	RevokedAt  time.Time
	LastUsedAt time.Time
}

// HasScope reports whether the key holds scope.
func (k APIKey) HasScope(scope string) bool { return slices.Contains(k.Scopes, scope) }

// ValidateAPIKeyID returns an error saying what is wrong when id cannot be
// an API key id.
func ValidateAPIKeyID(id string) error {
	if !apiKeyIDPattern.MatchString(id) {
		return fmt.Errorf("invalid API key id %q: want key_ followed by 26 characters of a-z and 2-7", id)
	}
	return nil
}

// CreateAPIKey creates an API key with scopes, each one of [Scopes], and
// returns it with its token. The token is returned only here: regsync
// keeps only a hash of it.
func (s *Store) CreateAPIKey(ctx context.Context, name string, scopes []string) (APIKey, string, error) {
	if name == "" || len(name) > 100 {
		return APIKey{}, "", fmt.Errorf("create API key: the name must be 1 to 100 characters, got %d", len(name))
	}
	if len(scopes) == 0 {
		return APIKey{}, "", errors.New("create API key: no scope given")
	}
	for _, scope := range scopes {
		if !slices.Contains(Scopes, scope) {
			return APIKey{}, "", fmt.Errorf("create API key: unknown scope %q: want %s", scope, strings.Join(Scopes, " or "))
		}
	}
	idPart := tokenEncoding.EncodeToString(randomBytes(16))
	secret := tokenEncoding.EncodeToString(randomBytes(32))
	hash := sha256.Sum256([]byte(secret))
	key := APIKey{ID: apiKeyIDPrefix + idPart, Name: name, Scopes: scopes}
	err := s.pool.QueryRow(ctx, `
		INSERT INTO regsync.api_keys (id, name, token_hash, scopes) VALUES ($1, $2, $3, $4)
		RETURNING created_at`, key.ID, name, hash[:], scopes).Scan(&key.CreatedAt)
	if err != nil {
		return APIKey{}, "", fmt.Errorf("create API key: %w", err)
	}
	return key, tokenPrefix + idPart + "_" + secret, nil
}

// randomBytes returns n bytes from the system's secure random source,
// which never fails.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// AuthenticateAPIKey returns the key a token belongs to. A malformed
// token, one naming no key or not matching its key, and the token of a
// revoked key are errors wrapping [ErrInvalidToken]. The error names the
// key id at most, never the token's secret. It records when the key was
// last used.
func (s *Store) AuthenticateAPIKey(ctx context.Context, token string) (APIKey, error) {
	m := tokenPattern.FindStringSubmatch(token)
	if m == nil {
		return APIKey{}, fmt.Errorf("token is not of the form rsk_<id>_<secret>: %w", ErrInvalidToken)
	}
	key := APIKey{ID: apiKeyIDPrefix + m[1]}
	var storedHash []byte
	var revokedAt, lastUsedAt *time.Time
	err := s.pool.QueryRow(ctx, `
		SELECT name, token_hash, scopes, created_at, revoked_at, last_used_at
		FROM regsync.api_keys WHERE id = $1`, key.ID).Scan(&key.Name, &storedHash, &key.Scopes, &key.CreatedAt, &revokedAt, &lastUsedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return APIKey{}, fmt.Errorf("API key %s does not exist: %w", key.ID, ErrInvalidToken)
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("read API key %s: %w", key.ID, err)
	}
	hash := sha256.Sum256([]byte(m[2]))
	if subtle.ConstantTimeCompare(hash[:], storedHash) != 1 {
		return APIKey{}, fmt.Errorf("token does not match API key %s: %w", key.ID, ErrInvalidToken)
	}
	if revokedAt != nil {
		return APIKey{}, fmt.Errorf("API key %s is revoked: %w", key.ID, ErrInvalidToken)
	}
	key.LastUsedAt = orZero(lastUsedAt)
	_, err = s.pool.Exec(ctx, `
		UPDATE regsync.api_keys SET last_used_at = now()
		WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - $2::interval)`, key.ID, lastUsedResolution)
	if err != nil {
		return APIKey{}, fmt.Errorf("record use of API key %s: %w", key.ID, err)
	}
	return key, nil
}

// RevokeAPIKey revokes the key with the given id, or returns an error
// wrapping [ErrAPIKeyNotFound]. Revoking a revoked key keeps its first
// revocation time.
func (s *Store) RevokeAPIKey(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE regsync.api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("revoke API key %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("API key %s: %w", id, ErrAPIKeyNotFound)
	}
	return nil
}

// APIKeys lists every API key, revoked ones included, oldest first.
func (s *Store) APIKeys(ctx context.Context) ([]APIKey, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, name, scopes, created_at, revoked_at, last_used_at
		FROM regsync.api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (APIKey, error) {
		var k APIKey
		var revokedAt, lastUsedAt *time.Time
		err := row.Scan(&k.ID, &k.Name, &k.Scopes, &k.CreatedAt, &revokedAt, &lastUsedAt)
		k.RevokedAt, k.LastUsedAt = orZero(revokedAt), orZero(lastUsedAt)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	return keys, nil
}

// orZero returns *t, or the zero time for a NULL column.
func orZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
