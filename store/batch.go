package store

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
)

// maxBatch bounds how many calls share one statement.
const maxBatch = 100

// maxBatchesInFlight bounds how many statements of one kind run at once,
// so that one batch can run while the next gathers.
const maxBatchesInFlight = 1

// batcher runs concurrent calls of one kind as batches, one statement per
// batch: the round trip, the statement's overhead and the commit are paid
// once per batch instead of once per call. No call waits for a timer: a
// batch is what queued while the previous ones ran, so a lone call goes
// out at once. A batch holds at most one call per key, so that no call of
// a batch depends on another of the same batch.
//
// A call whose context ends while it waits to be sent is withdrawn and
// writes nothing; once sent, it waits for its statement, which the
// database bounds with [StatementTimeout], so that a caller never reports
// a failure for a write that then commits.
type batcher[T, R any] struct {
	// key names what a call is about, a domain id for example.
	key func(T) string
	// run runs a batch and returns the results in the calls' order. When
	// it fails it must have written nothing.
	run func(context.Context, []T) ([]R, error)

	mu       sync.Mutex
	pending  []*batchCall[T, R]
	inFlight int
}

type batchCall[T, R any] struct {
	in   T
	out  R
	err  error
	done chan struct{}
	sent bool // taken into a batch; guarded by the batcher's mu
}

// do queues in and returns its result once its batch has run, or ctx's
// error when ctx ends before the call is sent.
func (b *batcher[T, R]) do(ctx context.Context, in T) (R, error) {
	var zero R
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	c := &batchCall[T, R]{in: in, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, c)
	start := b.inFlight < maxBatchesInFlight
	if start {
		b.inFlight++
	}
	b.mu.Unlock()
	if start {
		go b.flush()
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		b.mu.Lock()
		if !c.sent {
			b.pending = slices.DeleteFunc(b.pending, func(p *batchCall[T, R]) bool { return p == c })
			b.mu.Unlock()
			return zero, ctx.Err()
		}
		b.mu.Unlock()
		<-c.done
	}
	return c.out, c.err
}

// flush runs batches until none is pending.
func (b *batcher[T, R]) flush() {
	for {
		b.mu.Lock()
		batch := b.take()
		if len(batch) == 0 {
			b.inFlight--
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		b.runBatch(batch)
	}
}

// take removes the next batch from the pending calls and marks its calls
// sent; b.mu must be held.
func (b *batcher[T, R]) take() []*batchCall[T, R] {
	var batch, rest []*batchCall[T, R]
	keys := make(map[string]bool, min(len(b.pending), maxBatch))
	for _, c := range b.pending {
		k := b.key(c.in)
		if len(batch) == maxBatch || keys[k] {
			rest = append(rest, c)
			continue
		}
		keys[k] = true
		c.sent = true
		batch = append(batch, c)
	}
	b.pending = rest
	return batch
}

// runBatch runs batch and ends its calls. A batch that fails on what one
// of its calls holds (a value the database refuses) is split in halves and
// each half run again, so that only the failing call reports an error, in
// a number of statements logarithmic in the batch. Any other failure
// (a timeout, a lost connection) ends every call of the batch with it: a
// rerun would meet the same trouble, and after a lost connection the
// batch may have committed.
func (b *batcher[T, R]) runBatch(batch []*batchCall[T, R]) {
	in := make([]T, len(batch))
	for i, c := range batch {
		in[i] = c.in
	}
	// The database bounds the statement; the context is cancelled only as
	// a last resort, when the server does not answer at all.
	ctx, cancel := context.WithTimeout(context.Background(), MaxWaitAfterCancel)
	out, err := b.run(ctx, in)
	cancel()
	if err != nil && len(batch) > 1 && isDataError(err) {
		half := len(batch) / 2
		b.runBatch(batch[:half])
		b.runBatch(batch[half:])
		return
	}
	for i, c := range batch {
		if err != nil {
			c.err = err
		} else {
			c.out = out[i]
		}
		close(c.done)
	}
}

// isDataError reports whether err is the database refusing a value: a
// data exception or an integrity constraint violation. Such a statement
// failed as a whole and wrote nothing.
func isDataError(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	class := pgErr.Code[:2]
	return class == "22" || class == "23"
}
