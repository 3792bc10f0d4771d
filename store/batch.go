package store

import (
	"context"
	"sync"
	"time"
)

// maxBatch bounds how many calls share one statement.
const maxBatch = 100

// maxBatchesInFlight bounds how many statements of one kind run at once,
// so that one batch can run while the next gathers.
const maxBatchesInFlight = 1

// batchTimeout bounds one batch's statement. A caller waits for its call's
// result whatever its own context says: for a write, that keeps a caller
// from reporting a failure for a row that is then committed.
const batchTimeout = 30 * time.Second

// batcher runs concurrent calls of one kind as batches, one statement per
// batch: the round trip, the statement's overhead and the commit are paid
// once per batch instead of once per call. No call waits for a timer: a
// batch is what queued while the previous ones ran, so a lone call goes
// out at once. A batch holds at most one call per key, so that no call of
// a batch depends on another of the same batch.
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
}

// do queues in and returns its result once its batch has run.
func (b *batcher[T, R]) do(in T) (R, error) {
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
	<-c.done
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

// take removes the next batch from the pending calls.
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
		batch = append(batch, c)
	}
	b.pending = rest
	return batch
}

// runBatch runs batch and ends its calls. When the batch fails, each call
// runs alone, so that only a failing one reports an error.
func (b *batcher[T, R]) runBatch(batch []*batchCall[T, R]) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	in := make([]T, len(batch))
	for i, c := range batch {
		in[i] = c.in
	}
	out, err := b.run(ctx, in)
	if err != nil && len(batch) > 1 {
		for _, c := range batch {
			b.runBatch([]*batchCall[T, R]{c})
		}
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
