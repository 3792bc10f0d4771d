package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
)

// errBadInput is the database refusing a value: a data exception.
var errBadInput = &pgconn.PgError{Code: "22P05", Message: "bad input"}

// recordingBatcher returns a batcher whose batches answer each call with
// its input upper-cased, fail when they hold "bad" (a data error) or
// "down" (a lost connection), and are recorded. Before answering, a batch
// waits for hold, when hold is not nil.
func recordingBatcher(hold <-chan struct{}) (*batcher[string, string], func() [][]string) {
	var mu sync.Mutex
	var batches [][]string
	b := &batcher[string, string]{
		key: func(in string) string { return strings.TrimSuffix(in, "'") },
		run: func(_ context.Context, in []string) ([]string, error) {
			mu.Lock()
			batches = append(batches, append([]string(nil), in...))
			mu.Unlock()
			if hold != nil {
				<-hold
			}
			out := make([]string, len(in))
			for i, s := range in {
				switch s {
				case "bad":
					return nil, errBadInput
				case "down":
					return nil, errors.New("connection lost")
				}
				out[i] = strings.ToUpper(s)
			}
			return out, nil
		},
	}
	return b, func() [][]string {
		mu.Lock()
		defer mu.Unlock()
		return append([][]string(nil), batches...)
	}
}

func pendingCalls[T, R any](b *batcher[T, R]) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.pending)
}

// TestBatcherGathersWhileBusy checks that calls made while a batch runs
// share the next batch, that each gets its own result, and that a batch
// holds at most one call per key.
func TestBatcherGathersWhileBusy(t *testing.T) {
	t.Parallel()

	hold := make(chan struct{})
	b, batches := recordingBatcher(hold)
	results := make(chan string, 2*maxBatch+2)
	var calls sync.WaitGroup
	call := func(in string) {
		calls.Go(func() {
			out, err := b.do(context.Background(), in)
			if err != nil {
				out = err.Error()
			}
			results <- in + "=" + out
		})
	}

	call("first")
	require.Eventually(t, func() bool { return len(batches()) == 1 }, 10*time.Second, time.Millisecond)
	want := map[string]bool{"first=FIRST": true}
	for i := range maxBatch {
		in := fmt.Sprintf("d%d", i)
		call(in)
		want[in+"="+strings.ToUpper(in)] = true
	}
	// Every d call is queued before d0' is made, so d0, queued first,
	// goes in the next batch and d0', with the same key, in the one after.
	require.Eventually(t, func() bool { return pendingCalls(b) == maxBatch }, 10*time.Second, time.Millisecond)
	call("d0'")
	want["d0'=D0'"] = true
	require.Eventually(t, func() bool { return pendingCalls(b) == maxBatch+1 }, 10*time.Second, time.Millisecond)
	close(hold)
	calls.Wait()
	close(results)

	got := map[string]bool{}
	for r := range results {
		got[r] = true
	}
	require.Equal(t, want, got)
	require.Len(t, batches(), 3)
	require.Equal(t, []string{"first"}, batches()[0])
	require.Len(t, batches()[1], maxBatch, "the calls made while the first batch ran share one batch")
	require.Equal(t, []string{"d0'"}, batches()[2])
	require.Zero(t, pendingCalls(b))
}

// TestBatcherIsolatesAFailure checks that when a batch fails on a value
// the database refuses, it is split until the failing call runs alone, so
// that only it reports the error, in a number of statements logarithmic
// in the batch rather than one per call.
func TestBatcherIsolatesAFailure(t *testing.T) {
	t.Parallel()

	hold := make(chan struct{})
	b, batches := recordingBatcher(hold)
	errs := make(map[string]error)
	var mu sync.Mutex
	var calls sync.WaitGroup
	do := func(in string) {
		calls.Go(func() {
			_, err := b.do(context.Background(), in)
			mu.Lock()
			errs[in] = err
			mu.Unlock()
		})
	}
	do("first")
	require.Eventually(t, func() bool { return len(batches()) == 1 }, 10*time.Second, time.Millisecond)
	inputs := []string{"bad"}
	for i := range 63 {
		inputs = append(inputs, fmt.Sprintf("ok%d", i))
	}
	for _, in := range inputs {
		do(in)
	}
	require.Eventually(t, func() bool { return pendingCalls(b) == len(inputs) }, 10*time.Second, time.Millisecond)
	close(hold)
	calls.Wait()

	require.NoError(t, errs["first"])
	for _, in := range inputs[1:] {
		require.NoError(t, errs[in], in)
	}
	require.ErrorIs(t, errs["bad"], errBadInput)
	// The first call, the failed batch of 64, then each half down to the
	// bad call alone: 2 statements per level of 6 levels.
	require.Len(t, batches(), 2+2*6)
	require.Contains(t, batches(), []string{"bad"}, "the failing call ran alone")
}

// TestBatcherFailsABatchThatLostItsConnection checks that a batch failing
// for a reason other than its values ends every call with the error at
// once, without running them again: after a lost connection the batch may
// have committed.
func TestBatcherFailsABatchThatLostItsConnection(t *testing.T) {
	t.Parallel()

	hold := make(chan struct{})
	b, batches := recordingBatcher(hold)
	errs := make(chan error, 4)
	var calls sync.WaitGroup
	for _, in := range []string{"first", "a", "down", "b"} {
		calls.Go(func() {
			_, err := b.do(context.Background(), in)
			errs <- err
		})
		if in == "first" {
			require.Eventually(t, func() bool { return len(batches()) == 1 }, 10*time.Second, time.Millisecond)
		}
	}
	require.Eventually(t, func() bool { return pendingCalls(b) == 3 }, 10*time.Second, time.Millisecond)
	close(hold)
	calls.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			require.EqualError(t, err, "connection lost")
			failed++
		}
	}
	require.Equal(t, 3, failed, "the three calls of the failed batch")
	require.Len(t, batches(), 2, "nothing ran again")
}

// TestBatcherWithdrawsACallWhoseContextEnds checks that a call whose
// context ends while it waits to be sent returns at once and is never
// sent, and that a call already sent waits for its statement's result
// whatever its context says.
func TestBatcherWithdrawsACallWhoseContextEnds(t *testing.T) {
	t.Parallel()

	hold := make(chan struct{})
	b, batches := recordingBatcher(hold)
	sentCtx, cancelSent := context.WithCancel(context.Background())
	sent := make(chan string, 1)
	go func() {
		out, err := b.do(sentCtx, "sent")
		if err != nil {
			out = err.Error()
		}
		sent <- out
	}()
	require.Eventually(t, func() bool { return len(batches()) == 1 }, 10*time.Second, time.Millisecond)

	waitingCtx, cancelWaiting := context.WithCancel(context.Background())
	withdrawn := make(chan error, 1)
	go func() {
		_, err := b.do(waitingCtx, "withdrawn")
		withdrawn <- err
	}()
	require.Eventually(t, func() bool { return pendingCalls(b) == 1 }, 10*time.Second, time.Millisecond)
	cancelWaiting()
	require.ErrorIs(t, <-withdrawn, context.Canceled)
	require.Zero(t, pendingCalls(b))

	cancelSent()
	close(hold)
	require.Equal(t, "SENT", <-sent, "a sent call gets its result")
	require.Equal(t, [][]string{{"sent"}}, batches(), "the withdrawn call was never sent")

	_, err := b.do(waitingCtx, "late")
	require.ErrorIs(t, err, context.Canceled, "a call on an ended context is not queued")
}
