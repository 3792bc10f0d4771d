package rdap_test

import (
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/rdap"
	"github.com/regsync/regsync/registrar/rdap/rdaptest"
	"github.com/regsync/regsync/registrar/sim"
)

var published = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestParseBootstrapLookup(t *testing.T) {
	t.Parallel()

	b, err := rdap.ParseBootstrap(rdaptest.BootstrapFile(published,
		rdaptest.Service{Entries: []string{"com", "NET"}, URLs: []string{"http://rdap.verisign.example/com/v1/", "https://rdap.verisign.example/com/v1"}},
		rdaptest.Service{Entries: []string{"uk"}, URLs: []string{"https://rdap.nominet.example/uk/"}},
		rdaptest.Service{Entries: []string{"co.uk."}, URLs: []string{"https://rdap.nominet.example/couk/"}},
		rdaptest.Service{Entries: []string{"kg"}, URLs: []string{"http://rdap.cctld.example/"}},
		rdaptest.Service{Entries: []string{"bad"}, URLs: []string{"ftp://rdap.bad.example/", "/relative/", "https://rdap.bad.example/?q=1", "https://rdap.bad.example/#f"}},
		rdaptest.Service{Entries: []string{"two"}, URLs: []string{"https://first.example/", "https://second.example/"}},
		rdaptest.Service{Entries: []string{"com"}, URLs: []string{"https://duplicate.example/"}},
		rdaptest.Service{Entries: []string{"", "  "}, URLs: []string{"https://blank.example/"}},
	))
	require.NoError(t, err)
	require.True(t, published.Equal(b.Publication()))
	require.Equal(t, 7, b.Len())

	for name, want := range map[string]string{
		// https is preferred over an http URL listed first; "/" is added.
		"example.com":  "https://rdap.verisign.example/com/v1/",
		"EXAMPLE.Net.": "https://rdap.verisign.example/com/v1/",
		"example.uk":   "https://rdap.nominet.example/uk/",
		// The entry matching the most labels wins.
		"example.co.uk":     "https://rdap.nominet.example/couk/",
		"www.example.CO.UK": "https://rdap.nominet.example/couk/",
		"example.org.uk":    "https://rdap.nominet.example/uk/",
		// The first of several https URLs.
		"example.two": "https://first.example/",
	} {
		got, err := b.Lookup(name)
		require.NoError(t, err, name)
		require.Equal(t, want, got, name)
	}

	for _, name := range []string{"example.kg", "example.bad", "example.org", "uk.example", "", "."} {
		_, err := b.Lookup(name)
		require.ErrorIs(t, err, rdap.ErrNoServer, name)
		require.Regexp(t, `^rdap: `, err.Error())
	}
	_, err = b.Lookup("example.kg")
	require.ErrorContains(t, err, "http://rdap.cctld.example/")
}

func TestParseBootstrapRejects(t *testing.T) {
	t.Parallel()

	for name, body := range map[string]string{
		"not json":         `<html>`,
		"truncated":        `{"services": [[["com"], ["https://a.example/"]]`,
		"not an object":    `[]`,
		"service of one":   `{"services": [[["com"]]]}`,
		"service of three": `{"services": [[["x"], ["com"], ["https://a.example/"]]]}`,
		"number entry":     `{"services": [[[1], ["https://a.example/"]]]}`,
		"no services":      `{"version": "1.0", "services": []}`,
		"no members":       `{}`,
		"only blank":       `{"services": [[[""], ["https://a.example/"]]]}`,
	} {
		_, err := rdap.ParseBootstrap([]byte(body))
		require.Error(t, err, name)
		require.Regexp(t, `^rdap: `, err.Error(), name)
	}
}

// TestSnapshot checks the embedded IANA registry: its date, its size and a
// few well-known entries. Update it with snapshot/dns.json.
func TestSnapshot(t *testing.T) {
	t.Parallel()

	s := rdap.Snapshot()
	require.Equal(t, time.Date(2026, 1, 30, 0, 0, 1, 0, time.UTC), s.Publication())
	require.Equal(t, 1195, s.Len())
	for name, want := range map[string]string{
		"example.com":               "https://rdap.verisign.com/com/v1/",
		"example.net":               "https://rdap.verisign.com/net/v1/",
		"example.org":               "https://rdap.publicinterestregistry.org/rdap/",
		"example.cz":                "https://rdap.nic.cz/",
		"example.app":               "https://pubapi.registry.google/rdap/",
		"example.co.uk":             "https://rdap.nominet.uk/uk/",
		"xn--bcher-kva.xn--kpry57d": "https://ccrdap.twnic.tw/taiwan/",
	} {
		got, err := s.Lookup(name)
		require.NoError(t, err, name)
		require.Equal(t, want, got, name)
	}
	for _, name := range []string{"example.kg", "example.mg", "example.ng", "example.example", "example.se"} {
		_, err := s.Lookup(name)
		require.ErrorIs(t, err, rdap.ErrNoServer, name)
	}

	c := newClient(t, nil, nil)
	st := c.BootstrapStatus()
	require.Equal(t, "embedded snapshot", st.Source)
	require.Equal(t, s.Publication(), st.Publication)
	require.Equal(t, 1195, st.Entries)
	require.True(t, st.LoadedAt.IsZero())
	require.NoError(t, c.RefreshBootstrap(t.Context()), "the snapshot needs no refresh")
}

// clock is a settable time for the bootstrap refresh.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// backendWith returns a simulator in which domain is active.
func backendWith(t *testing.T, domains ...registrar.Domain) *sim.Sim {
	t.Helper()
	backend, err := sim.New(sim.DefaultConfig())
	require.NoError(t, err)
	for _, d := range domains {
		require.NoError(t, backend.Script(d.ID, d.Name, []string{"active"}, false))
	}
	return backend
}

var testDomain = registrar.Domain{ID: "dom_1", Name: "regsync-example.example"}

func TestBootstrapFile(t *testing.T) {
	t.Parallel()

	srv := rdaptest.NewServer(t, backendWith(t, testDomain))
	path := srv.WriteBootstrap(t, "example")
	clk := newClock()
	c := newClient(t, srv.Client(), func(cfg *rdap.Config) {
		cfg.Bootstrap = path
		cfg.BootstrapRefresh = time.Hour
		cfg.BootstrapRetry = 10 * time.Minute
	})
	// New read the file at the real time; read it again at the test's.
	rdap.SetNow(c, clk.Now)
	require.NoError(t, c.RefreshBootstrap(t.Context()))

	r, err := c.ReadStatus(t.Context(), testDomain)
	require.NoError(t, err)
	require.Equal(t, "active", r.Raw)
	st := c.BootstrapStatus()
	require.Equal(t, path, st.Source)
	require.Equal(t, 1, st.Entries)
	require.False(t, st.LoadedAt.IsZero())

	// A broken file is not loaded when due; the registry in use stays.
	require.NoError(t, os.WriteFile(path, []byte(`{"services": [`), 0o600))
	clk.Advance(time.Hour)
	_, err = c.ReadStatus(t.Context(), testDomain)
	require.NoError(t, err)
	st = c.BootstrapStatus()
	require.Equal(t, 1, st.Entries)
	require.ErrorContains(t, st.LastError, "rdap: loading the bootstrap registry from "+path)
	require.Equal(t, clk.Now(), st.FailedAt)

	// A good file is loaded at the next attempt, a retry interval later.
	moved := rdaptest.BootstrapFile(published, rdaptest.Service{Entries: []string{"other"}, URLs: []string{srv.BaseURL()}})
	require.NoError(t, os.WriteFile(path, moved, 0o600))
	clk.Advance(9 * time.Minute)
	_, err = c.ReadStatus(t.Context(), testDomain)
	require.NoError(t, err, "not retried yet")
	clk.Advance(time.Minute)
	_, err = c.ReadStatus(t.Context(), testDomain)
	require.ErrorIs(t, err, rdap.ErrNoServer, "the new file maps only .other")
	require.ErrorIs(t, err, registrar.ErrInvalidRequest)
	st = c.BootstrapStatus()
	require.NoError(t, st.LastError)
	require.True(t, st.FailedAt.IsZero())
	require.True(t, published.Equal(st.Publication))
}

func TestBootstrapFileMustLoad(t *testing.T) {
	t.Parallel()

	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.json")
	require.NoError(t, os.WriteFile(broken, []byte(`{"services": []}`), 0o600))
	huge := filepath.Join(dir, "huge.json")
	require.NoError(t, os.WriteFile(huge, rdaptest.BootstrapFile(published, rdaptest.Service{Entries: []string{"com"}, URLs: []string{"https://a.example/"}}), 0o600))

	for name, mutate := range map[string]func(*rdap.Config){
		"missing": func(c *rdap.Config) { c.Bootstrap = filepath.Join(dir, "missing.json") },
		"broken":  func(c *rdap.Config) { c.Bootstrap = broken },
		"too big": func(c *rdap.Config) { c.Bootstrap, c.MaxBootstrapBytes = huge, 10 },
	} {
		cfg := rdap.DefaultConfig()
		mutate(&cfg)
		_, err := rdap.New(cfg)
		require.Error(t, err, name)
		require.Regexp(t, `^rdap: loading the bootstrap registry from `, err.Error(), name)
	}
}

func TestBootstrapURL(t *testing.T) {
	t.Parallel()

	srv := rdaptest.NewServer(t, backendWith(t, testDomain))
	clk := newClock()
	c := newClient(t, srv.Client(), func(cfg *rdap.Config) {
		cfg.Bootstrap = srv.BootstrapURL()
		cfg.BootstrapRefresh = 24 * time.Hour
		cfg.BootstrapRetry = time.Hour
	})
	rdap.SetNow(c, clk.Now)

	// Until the URL first loads, the embedded snapshot answers; New does
	// not fetch.
	require.Equal(t, 0, srv.BootstrapFetches())
	st := c.BootstrapStatus()
	require.Equal(t, srv.BootstrapURL(), st.Source)
	require.Equal(t, rdap.Snapshot().Len(), st.Entries)
	require.True(t, st.LoadedAt.IsZero())

	// The first read fails to load it and goes on with the snapshot,
	// which has no server for .example.
	srv.SetBootstrap(http.StatusServiceUnavailable, nil)
	_, err := c.ReadStatus(t.Context(), testDomain)
	require.ErrorIs(t, err, rdap.ErrNoServer)
	require.Equal(t, 1, srv.BootstrapFetches())
	require.ErrorContains(t, c.BootstrapStatus().LastError, "HTTP 503")

	// Nothing is fetched again before the retry interval.
	srv.SetBootstrap(http.StatusOK, srv.Bootstrap(published, "example"))
	clk.Advance(59 * time.Minute)
	_, err = c.ReadStatus(t.Context(), testDomain)
	require.ErrorIs(t, err, rdap.ErrNoServer)
	require.Equal(t, 1, srv.BootstrapFetches())

	clk.Advance(time.Minute)
	r, err := c.ReadStatus(t.Context(), testDomain)
	require.NoError(t, err)
	require.Equal(t, registrar.StatusActive, r.Status)
	require.Equal(t, 2, srv.BootstrapFetches())
	st = c.BootstrapStatus()
	require.Equal(t, clk.Now(), st.LoadedAt)
	require.NoError(t, st.LastError)
	require.True(t, published.Equal(st.Publication))

	// Reads within the refresh interval use the cached registry.
	for range 3 {
		clk.Advance(time.Hour)
		_, err = c.ReadStatus(t.Context(), testDomain)
		require.NoError(t, err)
	}
	require.Equal(t, 2, srv.BootstrapFetches())

	// A refresh that fails keeps the registry it would have replaced, and
	// so does one that answers something that is not a registry.
	clk.Advance(24 * time.Hour)
	srv.SetBootstrap(http.StatusOK, []byte(`<html>maintenance</html>`))
	_, err = c.ReadStatus(t.Context(), testDomain)
	require.NoError(t, err)
	require.Equal(t, 3, srv.BootstrapFetches())
	require.ErrorContains(t, c.BootstrapStatus().LastError, "bootstrap registry")
	require.True(t, published.Equal(c.BootstrapStatus().Publication))

	// RefreshBootstrap loads at once, whatever the intervals.
	later := published.Add(24 * time.Hour)
	srv.SetBootstrap(http.StatusOK, srv.Bootstrap(later, "example"))
	require.NoError(t, c.RefreshBootstrap(t.Context()))
	require.Equal(t, 4, srv.BootstrapFetches())
	require.True(t, later.Equal(c.BootstrapStatus().Publication))

	// An oversized registry is refused.
	c2 := newClient(t, srv.Client(), func(cfg *rdap.Config) {
		cfg.Bootstrap = srv.BootstrapURL()
		cfg.MaxBootstrapBytes = 64
	})
	require.ErrorContains(t, c2.RefreshBootstrap(t.Context()), "exceeds 64 bytes")
}

// TestBootstrapRefreshOnce checks that concurrent reads that find the
// registry due load it once.
func TestBootstrapRefreshOnce(t *testing.T) {
	t.Parallel()

	srv := rdaptest.NewServer(t, backendWith(t, testDomain))
	srv.SetBootstrap(http.StatusOK, srv.Bootstrap(published, "example"))
	c := newClient(t, srv.Client(), func(cfg *rdap.Config) { cfg.Bootstrap = srv.BootstrapURL() })
	rdap.SetNow(c, newClock().Now)

	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			// Reads that overtake the refresh use the snapshot and fail;
			// only the number of fetches is checked.
			_, _ = c.ReadStatus(t.Context(), testDomain)
		})
	}
	wg.Wait()
	require.Equal(t, 1, srv.BootstrapFetches())
	_, err := c.ReadStatus(t.Context(), testDomain)
	require.NoError(t, err)
}

func TestOverrides(t *testing.T) {
	t.Parallel()

	d := registrar.Domain{ID: "dom_1", Name: "regsync-example.co.example"}
	srv := rdaptest.NewServer(t, backendWith(t, d))
	elsewhere := "https://rdap.invalid/"

	for name, tt := range map[string]struct {
		bootstrap []string // TLDs the bootstrap file maps to srv
		overrides map[string]string
		err       error
	}{
		"override wins over the bootstrap": {
			bootstrap: []string{"co.example"},
			overrides: map[string]string{"example": srv.URL},
		},
		"longest override wins": {
			overrides: map[string]string{"example": elsewhere, "CO.example.": srv.URL + "/"},
		},
		"override applies to every name under it": {
			overrides: map[string]string{"example": srv.URL},
		},
		"empty override means no server": {
			bootstrap: []string{"example"},
			overrides: map[string]string{"example": ""},
			err:       rdap.ErrNoServer,
		},
		"no override, bootstrap answers": {
			bootstrap: []string{"example"},
			overrides: map[string]string{"other": elsewhere},
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()

			c := newClient(t, srv.Client(), func(cfg *rdap.Config) {
				if tt.bootstrap != nil {
					cfg.Bootstrap = srv.WriteBootstrap(t, tt.bootstrap...)
				}
				cfg.Overrides = tt.overrides
			})
			r, err := c.ReadStatus(t.Context(), d)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				require.ErrorIs(t, err, registrar.ErrInvalidRequest)
				require.True(t, registrar.IsPermanent(err))
				return
			}
			require.NoError(t, err)
			require.Equal(t, "active", r.Raw)
		})
	}
}

func TestParseOverrides(t *testing.T) {
	t.Parallel()

	got, err := rdap.ParseOverrides(" se=https://rdap.example.se/ , NU.=https://rdap.example.nu,co.uk=, ")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"se": "https://rdap.example.se/", "nu": "https://rdap.example.nu", "co.uk": ""}, got)

	got, err = rdap.ParseOverrides("")
	require.NoError(t, err)
	require.Empty(t, got)

	for _, s := range []string{
		"se", // no "="
		"se=https://a.example/,SE=https://b.example/", // twice
		"=https://a.example/",                         // no key
		"se=http://rdap.example.se/",                  // not https
		"se=rdap.example.se",                          // not absolute
		"se=https://rdap.example.se/?x=1",             // query
		"s e=https://rdap.example.se/",                // space in key
	} {
		_, err := rdap.ParseOverrides(s)
		require.Error(t, err, s)
		require.Regexp(t, `^rdap: `, err.Error(), s)
	}
}
