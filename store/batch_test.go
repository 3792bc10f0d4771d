package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// recordingBatcher returns a batcher whose batches answer each call with
// its input upper-cased, fail when they hold "bad", and are recorded.
// Before answering, a batch waits for hold, when hold is not nil.
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
				if s == "bad" {
					return nil, errors.New("bad input")
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
			out, err := b.do(in)
			require.NoError(t, err)
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
	call("d0'") // the same key as d0: it must wait for a later batch
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

// TestBatcherIsolatesAFailure checks that when a batch fails, its calls
// run alone, so that only the failing call reports an error.
func TestBatcherIsolatesAFailure(t *testing.T) {
	t.Parallel()

	hold := make(chan struct{})
	b, batches := recordingBatcher(hold)
	errs := make(map[string]error)
	var mu sync.Mutex
	var calls sync.WaitGroup
	for _, in := range []string{"first", "a", "bad", "b"} {
		calls.Go(func() {
			_, err := b.do(in)
			mu.Lock()
			errs[in] = err
			mu.Unlock()
		})
		if in == "first" {
			require.Eventually(t, func() bool { return len(batches()) == 1 }, 10*time.Second, time.Millisecond)
		}
	}
	require.Eventually(t, func() bool { return pendingCalls(b) == 3 }, 10*time.Second, time.Millisecond)
	close(hold)
	calls.Wait()

	require.NoError(t, errs["first"])
	require.NoError(t, errs["a"])
	require.NoError(t, errs["b"])
	require.EqualError(t, errs["bad"], "bad input")
	require.Len(t, batches(), 5, "the first call, the failed batch of three, then each of its calls alone")
	require.ElementsMatch(t, []string{"a", "bad", "b"}, batches()[1])
}
