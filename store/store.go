// Package store is regsync's Postgres access: domains, their status-sync
// outcomes and the queries behind the sweep and the scrape-time gauges. It
// uses pgx/v5 directly; every write that must be atomic runs in one
// transaction here, so callers never hold a transaction across a registrar
// call.
package store

import (
	"errors"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Errors callers branch on.
var (
	// ErrDomainNotFound means no domain has the given id.
	ErrDomainNotFound = errors.New("domain not found")
	// ErrVersionConflict means a compare-and-set lost: the domain changed
	// since it was read.
	ErrVersionConflict = errors.New("domain changed since it was read")
)

// Store reads and writes regsync's tables through a connection pool.
type Store struct {
	pool *pgxpool.Pool
	// domainReads and syncWrites batch the reads and writes of concurrent
	// syncs.
	domainReads *batcher[string, Domain]
	syncWrites  *batcher[syncWrite, syncWritten]
}

// New returns a Store using pool.
func New(pool *pgxpool.Pool) *Store {
	s := &Store{pool: pool}
	s.domainReads = newDomainReads(s)
	s.syncWrites = newSyncWrites(s)
	return s
}

// Pool returns the pool the store uses, for callers that share its
// transactions (the sweep inserts jobs in the transaction that claims
// domains).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }
