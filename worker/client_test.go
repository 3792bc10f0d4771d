package worker

import (
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
)

func TestCappedRetryPolicy(t *testing.T) {
	t.Parallel()
	p := &cappedRetryPolicy{max: time.Minute}
	early := p.NextRetry(&rivertype.JobRow{Attempt: 1})
	require.WithinDuration(t, time.Now().Add(time.Second), early, 2*time.Second, "the first retry keeps River's backoff")
	// After 8 errors River's default would wait 9^4 s, about 1.8 h.
	late := p.NextRetry(&rivertype.JobRow{Attempt: 9, Errors: make([]rivertype.AttemptError, 8)})
	require.WithinDuration(t, time.Now().Add(time.Minute), late, time.Second, "later retries are capped")
}
