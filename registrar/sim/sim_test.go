package sim_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/sim"
)

func newSim(t *testing.T, cfg sim.Config) *sim.Sim {
	t.Helper()
	s, err := sim.New(cfg)
	require.NoError(t, err)
	return s
}

func dom(id string) registrar.Domain {
	return registrar.Domain{ID: id, Name: id + ".example"}
}

// rawReads reads the domain n times and returns the raw statuses.
func rawReads(t *testing.T, s *sim.Sim, id string, n int) []string {
	t.Helper()
	var raws []string
	for range n {
		r, err := s.ReadStatus(context.Background(), dom(id))
		require.NoError(t, err)
		raws = append(raws, r.Raw)
	}
	return raws
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()

	require.NoError(t, sim.DefaultConfig().Validate())
	for name, mutate := range map[string]func(*sim.Config){
		"empty name":       func(c *sim.Config) { c.Name = "" },
		"negative latency": func(c *sim.Config) { c.Latency = -time.Second },
		"fault rate < 0":   func(c *sim.Config) { c.FaultRate = -0.1 },
		"fault rate > 1":   func(c *sim.Config) { c.FaultRate = 1.1 },
	} {
		cfg := sim.DefaultConfig()
		mutate(&cfg)
		require.Error(t, cfg.Validate(), name)
		_, err := sim.New(cfg)
		require.Error(t, err, name)
	}
}

func TestScriptLastEntryRepeats(t *testing.T) {
	t.Parallel()

	s := newSim(t, sim.DefaultConfig())
	require.NoError(t, s.Script("dom_1", "one.example", []string{"pending", "active", "expired"}, false))
	require.Equal(t, []string{"pending", "active", "expired", "expired", "expired"}, rawReads(t, s, "dom_1", 5))
	require.Equal(t, 5, s.Reads("dom_1"))
}

func TestScriptCycle(t *testing.T) {
	t.Parallel()

	s := newSim(t, sim.DefaultConfig())
	require.NoError(t, s.Script("dom_1", "one.example", []string{"active", "expired"}, true))
	require.Equal(t, []string{"active", "expired", "active", "expired", "active"}, rawReads(t, s, "dom_1", 5))
}

func TestScriptReplacesAndResetsReads(t *testing.T) {
	t.Parallel()

	s := newSim(t, sim.DefaultConfig())
	require.NoError(t, s.Script("dom_1", "one.example", []string{"pending", "active"}, false))
	rawReads(t, s, "dom_1", 2)
	require.NoError(t, s.Script("dom_1", "one.example", []string{"suspended"}, false))
	require.Equal(t, 0, s.Reads("dom_1"))
	require.Equal(t, []string{"suspended"}, rawReads(t, s, "dom_1", 1))
}

func TestScriptMapsRawStatus(t *testing.T) {
	t.Parallel()

	s := newSim(t, sim.DefaultConfig())
	require.NoError(t, s.Script("dom_1", "one.example", []string{"active", "fraud", "weird"}, false))
	for _, want := range []registrar.StatusReading{
		{Raw: "active", Status: registrar.StatusActive, RequestID: "sim_1"},
		{Raw: "fraud", Status: registrar.StatusUnknown, RequestID: "sim_2"},
		{Raw: "weird", Status: registrar.StatusUnknown, RequestID: "sim_3"},
	} {
		got, err := s.ReadStatus(context.Background(), dom("dom_1"))
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
}

func TestScriptRejectsBadEntries(t *testing.T) {
	t.Parallel()

	s := newSim(t, sim.DefaultConfig())
	require.Error(t, s.Script("", "x.example", []string{"active"}, false))
	require.Error(t, s.Script("dom_1", "x.example", nil, false))
	for _, entry := range []string{"", "!", "!418", "!nope", "!TIMEOUT", "!429:soon", "!429:-1s", "!429:0s", "!500:5s"} {
		err := s.Script("dom_1", "x.example", []string{"active", entry}, false)
		require.Error(t, err, "entry %q", entry)
		require.Contains(t, err.Error(), "entry 1")
	}
	require.ErrorContains(t, s.Script("dom_1", "x.example", []string{"!teapot"}, false), `unknown fault token "!teapot"`)
}

func TestFaultTokens(t *testing.T) {
	t.Parallel()

	tests := []struct {
		token      string
		sentinel   error
		status     int
		code       string
		retryAfter time.Duration
	}{
		{"!400", registrar.ErrInvalidRequest, 400, "invalid_request", 0},
		{"!401", registrar.ErrUnauthorized, 401, "unauthorized", 0},
		{"!403", registrar.ErrForbidden, 403, "forbidden", 0},
		{"!404", registrar.ErrNotFound, 404, "not_found", 0},
		{"!429", registrar.ErrRateLimited, 429, "rate_limited", time.Second},
		{"!429:5s", registrar.ErrRateLimited, 429, "rate_limited", 5 * time.Second},
		{"!500", registrar.ErrUnavailable, 500, "internal_error", 0},
		{"!502", registrar.ErrUnavailable, 502, "bad_gateway", 0},
		{"!503", registrar.ErrUnavailable, 503, "service_unavailable", 0},
	}
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			t.Parallel()

			s := newSim(t, sim.DefaultConfig())
			require.NoError(t, s.Script("dom_1", "one.example", []string{tt.token}, false))
			_, err := s.ReadStatus(context.Background(), dom("dom_1"))
			require.ErrorIs(t, err, tt.sentinel)
			var apiErr *registrar.APIError
			require.ErrorAs(t, err, &apiErr)
			require.Equal(t, &registrar.APIError{
				Registrar:  "sim",
				Status:     tt.status,
				Code:       tt.code,
				Detail:     apiErr.Detail,
				RequestID:  "sim_1",
				RetryAfter: tt.retryAfter,
			}, apiErr)
			require.NotEmpty(t, apiErr.Detail)
		})
	}

	for _, token := range []string{"!garbage", "!huge"} {
		t.Run(token, func(t *testing.T) {
			t.Parallel()

			s := newSim(t, sim.DefaultConfig())
			require.NoError(t, s.Script("dom_1", "one.example", []string{token}, false))
			_, err := s.ReadStatus(context.Background(), dom("dom_1"))
			require.ErrorIs(t, err, registrar.ErrBadResponse)
			require.False(t, registrar.IsPermanent(err))
			require.Regexp(t, `^sim: `, err.Error())
		})
	}
}

func TestTimeoutBlocksUntilContextDone(t *testing.T) {
	t.Parallel()

	s := newSim(t, sim.DefaultConfig())
	require.NoError(t, s.Script("dom_1", "one.example", []string{"!timeout", "active"}, false))

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.ReadStatus(ctx, dom("dom_1"))
	require.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)
	require.ErrorIs(t, err, registrar.ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "timed out")

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	r, err := s.ReadStatus(ctx, dom("dom_1"))
	require.NoError(t, err, "the script moves past the timeout")
	require.Equal(t, "active", r.Raw)
}

func TestUnscriptedDomainIsNotFound(t *testing.T) {
	t.Parallel()

	s := newSim(t, sim.DefaultConfig())
	_, err := s.ReadStatus(context.Background(), dom("dom_unknown"))
	require.ErrorIs(t, err, registrar.ErrNotFound)
	require.True(t, registrar.IsPermanent(err))
	require.Equal(t, 1, s.Reads("dom_unknown"))
}

func TestLatency(t *testing.T) {
	t.Parallel()

	cfg := sim.DefaultConfig()
	cfg.Latency = 30 * time.Millisecond
	s := newSim(t, cfg)
	require.NoError(t, s.Script("dom_1", "one.example", []string{"active"}, false))
	start := time.Now()
	rawReads(t, s, "dom_1", 1)
	require.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond)

	cfg.Latency = time.Hour
	s = newSim(t, cfg)
	require.NoError(t, s.Script("dom_1", "one.example", []string{"active"}, false))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err := s.ReadStatus(ctx, dom("dom_1"))
	require.Less(t, time.Since(start), 5*time.Second)
	require.ErrorIs(t, err, registrar.ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, 0, s.Reads("dom_1"), "a read abandoned during the latency never reached the registrar")
}

// outcomes reads the domain n times and describes each result.
func outcomes(s *sim.Sim, id string, n int) []string {
	var out []string
	for range n {
		r, err := s.ReadStatus(context.Background(), dom(id))
		if err != nil {
			out = append(out, err.Error())
		} else {
			out = append(out, r.Raw)
		}
	}
	return out
}

func TestFaultRateIsDeterministic(t *testing.T) {
	t.Parallel()

	cfg := sim.DefaultConfig()
	cfg.FaultRate = 0.5
	cfg.Seed = 42
	run := func(seed int64) []string {
		cfg.Seed = seed
		s := newSim(t, cfg)
		require.NoError(t, s.Script("dom_1", "one.example", []string{"active"}, false))
		return outcomes(s, "dom_1", 200)
	}

	first := run(42)
	require.Equal(t, first, run(42))
	require.NotEqual(t, first, run(43))

	var faults int
	for _, o := range first {
		if o != "active" {
			faults++
			require.Regexp(t, `^sim: HTTP (500|502|503|429) `, o)
		}
	}
	require.InDelta(t, 100, faults, 30)
}

func TestRandomFaultsDoNotAdvanceScript(t *testing.T) {
	t.Parallel()

	cfg := sim.DefaultConfig()
	cfg.FaultRate = 0.5
	s := newSim(t, cfg)
	require.NoError(t, s.Script("dom_1", "one.example", []string{"pending", "active", "expired"}, false))

	var statuses []string
	for _, o := range outcomes(s, "dom_1", 100) {
		if !strings.HasPrefix(o, "sim: ") {
			statuses = append(statuses, o)
		}
	}
	require.Less(t, len(statuses), 100, "some reads failed")
	require.Equal(t, []string{"pending", "active", "expired"}, statuses[:3])
}

func TestFaultRateOneAlwaysFails(t *testing.T) {
	t.Parallel()

	cfg := sim.DefaultConfig()
	cfg.FaultRate = 1
	s := newSim(t, cfg)
	require.NoError(t, s.Script("dom_1", "one.example", []string{"active"}, false))
	for range 50 {
		_, err := s.ReadStatus(context.Background(), dom("dom_1"))
		require.Error(t, err)
		require.False(t, registrar.IsPermanent(err))
	}
}

func TestConcurrentReads(t *testing.T) {
	t.Parallel()

	s := newSim(t, sim.DefaultConfig())
	const domains, reads = 16, 50
	for i := range domains {
		require.NoError(t, s.Script(fmt.Sprintf("dom_%d", i), "x.example", []string{"pending", "active"}, i%2 == 0))
	}

	var wg sync.WaitGroup
	for i := range domains {
		for range 2 {
			wg.Go(func() {
				for range reads {
					_, err := s.ReadStatus(context.Background(), dom(fmt.Sprintf("dom_%d", i)))
					if err != nil {
						t.Error(err)
					}
				}
			})
		}
	}
	wg.Go(func() {
		for i := range reads {
			_ = s.Reads(fmt.Sprintf("dom_%d", i%domains))
		}
	})
	wg.Wait()

	for i := range domains {
		require.Equal(t, 2*reads, s.Reads(fmt.Sprintf("dom_%d", i)))
	}
	r, err := s.ReadStatus(context.Background(), dom("dom_1"))
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("sim_%d", domains*2*reads+1), r.RequestID, "request ids are unique")
}

// TestInfoAndLookupByName checks that a domain's registry facts come with
// every successful read, and that a rescripted domain is found under its
// new name only.
func TestInfoAndLookupByName(t *testing.T) {
	t.Parallel()

	s := newSim(t, sim.DefaultConfig())
	require.NoError(t, s.Script("dom_info", "old-name.example", []string{"active", "!503"}, false))
	require.NoError(t, s.Script("dom_info", "info.example", []string{"active", "!503"}, false))
	_, ok := s.DomainByName("old-name.example")
	require.False(t, ok, "the old name is forgotten")
	d, ok := s.DomainByName("info.example")
	require.True(t, ok)
	require.Equal(t, registrar.Domain{ID: "dom_info", Name: "info.example"}, d)

	expires := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	s.SetInfo("dom_info", sim.DomainInfo{ExpiresAt: expires, Sponsor: "1234"})
	r, err := s.ReadStatus(context.Background(), d)
	require.NoError(t, err)
	require.Equal(t, expires, r.ExpiresAt)
	require.Equal(t, "1234", r.Sponsor)
	_, err = s.ReadStatus(context.Background(), d)
	require.ErrorIs(t, err, registrar.ErrUnavailable)
}
