// Package store is regsync's Postgres access: domains, their status-sync
// outcomes and the queries behind the sweep and the scrape-time gauges. It
// uses pgx/v5 directly; every write that must be atomic runs in one
// transaction here, so callers never hold a transaction across a registrar
// call.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Errors callers branch on.
var (
	// ErrDomainNotFound means no domain has the given id.
	ErrDomainNotFound = errors.New("domain not found")
	// ErrVersionConflict means a compare-and-set lost: the domain changed
	// since it was read.
	ErrVersionConflict = errors.New("domain changed since it was read")
	// ErrRowLocked means another writer held the row for longer than
	// [LockTimeout]: the write was not made.
	ErrRowLocked = errors.New("row held by another writer")
)

// How long the store waits on the database. Every statement of a sync or
// a transfer retry runs under a server-side statement timeout and lock
// timeout, so that a write either commits or fails within a bound, whatever
// its caller's context says, and a row another writer holds delays only
// the write that needs it.
const (
	// StatementTimeout bounds each statement.
	StatementTimeout = 5 * time.Second
	// LockTimeout bounds the wait for a row another writer holds.
	LockTimeout = 2 * time.Second
	// MaxWaitAfterCancel is the longest a store call takes after its
	// context ended: a call not yet sent returns at once, a statement in
	// flight runs to its end so that the caller never reports a failure
	// for a write that then commits.
	MaxWaitAfterCancel = StatementTimeout + time.Second
)

// beginBounded begins a transaction with the store's timeouts, in one
// round trip.
var beginBounded = pgx.TxOptions{BeginQuery: fmt.Sprintf("BEGIN; SET LOCAL statement_timeout = %d; SET LOCAL lock_timeout = %d",
	StatementTimeout.Milliseconds(), LockTimeout.Milliseconds())}

// inTx runs fn in a transaction bounded by the store's timeouts. It does
// not begin when ctx has ended; once begun, it runs to its end on a context
// of its own, which the database's timeouts bound, so that a caller never
// reports a failure for a write that then commits. A row lock that is not
// granted in time is an error wrapping [ErrRowLocked].
func (s *Store) inTx(ctx context.Context, fn func(context.Context, pgx.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), MaxWaitAfterCancel)
	defer cancel()
	err := pgx.BeginTxFunc(ctx, s.pool, beginBounded, func(tx pgx.Tx) error { return fn(ctx, tx) })
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "55P03" { // lock_not_available
		return fmt.Errorf("%w: %w", ErrRowLocked, err)
	}
	return err
}

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
