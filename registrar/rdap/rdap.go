// Package rdap is a read-only registrar adapter that reads a domain's
// status from the registry's RDAP server (RFC 9082, RFC 9083), found
// through the IANA bootstrap registry (RFC 9224). It needs no account at
// the registrar: it reads what the registry publishes to everyone.
//
// # The request
//
// [Client.ReadStatus] sends exactly one request per call, plus the
// redirects it follows:
//
//	GET {base}/domain/{name}
//	Accept: application/rdap+json, application/json;q=0.9
//
// where name is the domain's A-label name in lower case and base is the
// RDAP base URL for it: a per-TLD override from [Config.Overrides] when one
// matches, else the bootstrap registry's entry with the most matching
// labels. Only https servers are used: an entry that lists only plain-http
// URLs counts as none, and an https answer that redirects to http is
// refused, because an unauthenticated answer could change a customer's
// domain status. application/json is accepted as a second choice because
// some servers refuse to answer application/rdap+json alone.
//
// RDAP servers redirect (30x) to the authoritative server; the adapter
// follows at most three redirects, each to https. A redirect to http or
// one redirect too many fails wrapping [registrar.ErrBadResponse].
//
// # The answer
//
// A 2xx answer is parsed as an RFC 9083 domain object by [ParseDomain]:
//
//   - status: Raw is the values as received, in the server's order, joined
//     with ", " ([RawSeparator]); the registered values contain no comma.
//     Status maps the values with [registrar.MapRDAP], which ignores
//     their order. Values are case-sensitive in the IANA registry, but
//     some servers send "Client Hold" or the EPP spelling "clientHold";
//     before mapping, a value that is not registered as sent is lowered and
//     its spaces made single, or, when it is an EPP status word, given its
//     RFC 8056 RDAP spelling ("ok" is "active"). Raw keeps what the server
//     sent. A value that neither rule makes registered maps to
//     [registrar.StatusUnknown], as do an absent or empty status array.
//   - events: ExpiresAt is the date of the first event whose eventAction
//     is "expiration", parsed as RFC 3339 and tolerating variants real
//     servers send (fractional seconds, lower-case letters, a space for
//     'T', offsets without a colon, no zone, a bare date: read as UTC).
//     Many ccTLD registries publish no expiration event; ExpiresAt is then
//     zero, as it is when the date does not parse: the expiry is a detail
//     beside the status and never fails the read.
//   - entities: Sponsor is the registrar, the entity with the role
//     "registrar": its public id of type "IANA Registrar ID" (the number of
//     an ICANN-accredited registrar, as gTLD registries publish it), or,
//     when it has none, its handle (ccTLD registries name their own
//     registrars, for example "REG-INTERNET-CZ"). The domain's own entities
//     are looked at first; only when none of them is a registrar with an id
//     or handle are the entities nested in them looked at, down to two
//     levels, so that an abuse contact nested in the registrar entity is
//     never taken for it. Among several registrar entities at the same
//     level the first with an IANA id wins, else the first with a handle.
//     Empty when there is none.
//   - RequestID is the answer's X-Request-Id header, if any; most RDAP
//     servers send none.
//
// The answer must be about the domain asked for: an objectClassName other
// than "domain" or an ldhName (compared without regard to case or a
// trailing dot; unicodeName when ldhName is absent) naming another domain
// fails wrapping [registrar.ErrBadResponse], as does a body that is not
// JSON or exceeds [Config.MaxResponseBytes].
//
// Other answers are [*registrar.APIError] values carrying the HTTP status,
// the RFC 9083 error body's errorCode as Code and its title and
// description as Detail when the body is one, and Retry-After: 404 is
// [registrar.ErrNotFound], 401 [registrar.ErrUnauthorized], 403
// [registrar.ErrForbidden], 429 [registrar.ErrRateLimited], 5xx
// [registrar.ErrUnavailable], other 4xx [registrar.ErrInvalidRequest] and
// anything else [registrar.ErrBadResponse]. RDAP servers rate-limit
// anonymous clients hard; the adapter reports a 429 and its Retry-After
// faithfully and leaves pacing to the worker's shared rate limiter. A
// request that times out, by [Config.Timeout] or the caller's ctx, or that
// cannot reach the server wraps [registrar.ErrUnavailable] together with
// the transport's error, so errors.Is also matches
// [context.DeadlineExceeded] or [context.Canceled] when a context ended it.
//
// A domain under a TLD without an RDAP server fails wrapping [ErrNoServer]
// and [registrar.ErrInvalidRequest] without sending a request.
//
// # The bootstrap registry
//
// Which server answers for a TLD comes from an RFC 9224 DNS bootstrap
// registry. The adapter embeds a snapshot of IANA's (see [Snapshot] and
// snapshot/README.md for its source and date); [Config.Bootstrap] may name
// a file or an https URL (such as https://data.iana.org/rdap/dns.json)
// instead. The parsed registry is cached and refreshed without a
// background goroutine: the first ReadStatus that finds it older than
// [Config.BootstrapRefresh] reloads it from its source, within
// [Config.Timeout] and the caller's ctx, while concurrent reads go on with
// the current one. A refresh that fails keeps the current registry and is
// retried no sooner than [Config.BootstrapRetry] later;
// [Client.BootstrapStatus] reports the last failure. A file is first read
// by [New], which fails when it cannot be read or parsed, then reloaded
// like a URL. A URL is first loaded by the first ReadStatus (or by
// [Client.RefreshBootstrap]); until then, and for as long as it cannot be
// loaded, the embedded snapshot answers. The embedded snapshot alone is
// never refreshed. A reload is a request to the registry's host, not to an
// RDAP server, and does not count as a read's one request. [Config.Overrides] maps TLDs
// (or longer suffixes) to base URLs and wins over the registry for every
// name under them; an override to "" says the TLD has no server.
//
// # Why not github.com/openrdap/rdap
//
// OpenRDAP (v0.10.2) is a complete client, but its behaviour does not fit
// a status adapter, and what would fit is a few dozen lines:
//
//   - rdap.Client.Do tries every base URL the bootstrap lists in turn, so
//     one read can send several requests; it reports any answer other than
//     2xx and 404 only as "no working servers", losing the status and
//     Retry-After that tell a rate limit from an outage from refused
//     access; it reads bodies with io.ReadAll without a limit; and it
//     follows redirects with net/http's defaults (ten, https to http
//     included).
//   - bootstrap.Client is not safe for concurrent use (Lookup writes its
//     map of registries unguarded), retries a failed download on every
//     lookup once its copy has expired, reads the registry without a size
//     limit, and takes a base URL rather than a file or a URL of the
//     registry itself.
//   - bootstrap.NewDNSRegistry alone parses the file and is safe to share,
//     but does not prefer https URLs; the package that holds its response
//     types also holds its command-line tool, which would bring kingpin and
//     more into go.mod and go.sum, files this adapter otherwise leaves
//     alone; and its reflection-based decoder skips type errors silently,
//     where a status array of the wrong type must fail the read.
package rdap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/regsync/regsync/registrar"
)

// DefaultName is the adapter name unless [Config.Name] says otherwise.
const DefaultName = "rdap"

// maxRedirects is how many redirects one read follows at most.
const maxRedirects = 3

// accept is the Accept header of the requests.
const accept = "application/rdap+json, application/json;q=0.9"

// requestIDHeader is the header an answer's request id is read from.
const requestIDHeader = "X-Request-Id"

// Config configures a [Client].
type Config struct {
	// Name is the adapter name stored in a domain's registrar column and
	// prefixed to errors; [DefaultName] by default.
	Name string
	// Bootstrap is where the DNS bootstrap registry is loaded from: empty
	// for the embedded snapshot, an https URL such as
	// "https://data.iana.org/rdap/dns.json", or a file path. A URL or file
	// is reloaded every BootstrapRefresh.
	Bootstrap string
	// BootstrapRefresh is how old the registry may get before a read
	// reloads it from Bootstrap; 24h by default.
	BootstrapRefresh time.Duration
	// BootstrapRetry is how long after a failed reload the next is tried;
	// 1h by default.
	BootstrapRetry time.Duration
	// Overrides maps a TLD (or a longer suffix such as "co.uk") to the base
	// URL of its RDAP server, an absolute https URL, or to "" for none. It
	// wins over the bootstrap registry. Keys are compared without regard
	// to case or a trailing dot. See [ParseOverrides].
	Overrides map[string]string
	// Timeout bounds each request, body read included, and each reload of
	// the registry from a URL; 10s by default.
	Timeout time.Duration
	// MaxResponseBytes is the largest answer body read; 1 MiB by default.
	MaxResponseBytes int64
	// MaxBootstrapBytes is the largest bootstrap registry read; 4 MiB by
	// default (IANA's is about 100 KiB).
	MaxBootstrapBytes int64
	// UserAgent is sent with every request; none when empty.
	UserAgent string
	// HTTPClient sends the requests; [registrar.NewHTTPClient] when nil.
	// The adapter uses a copy whose redirect policy is its own.
	HTTPClient *http.Client
}

// DefaultConfig returns the default configuration: the embedded bootstrap
// snapshot, no overrides, and the defaults documented on [Config].
func DefaultConfig() Config {
	return Config{
		Name:              DefaultName,
		BootstrapRefresh:  24 * time.Hour,
		BootstrapRetry:    time.Hour,
		Timeout:           10 * time.Second,
		MaxResponseBytes:  1 << 20,
		MaxBootstrapBytes: 4 << 20,
		UserAgent:         "regsync-rdap (domain status sync)",
	}
}

// Validate reports the first invalid field of c.
func (c Config) Validate() error {
	switch {
	case c.Name == "" || strings.ContainsFunc(c.Name, func(r rune) bool { return r <= ' ' || r == ':' || r == 0x7f }):
		return fmt.Errorf("rdap: name %q is empty or holds spaces, colons or control characters", c.Name)
	case c.BootstrapRefresh <= 0:
		return fmt.Errorf("%s: bootstrap refresh %s is not positive", c.Name, c.BootstrapRefresh)
	case c.BootstrapRetry <= 0:
		return fmt.Errorf("%s: bootstrap retry %s is not positive", c.Name, c.BootstrapRetry)
	case c.Timeout <= 0:
		return fmt.Errorf("%s: timeout %s is not positive", c.Name, c.Timeout)
	case c.MaxResponseBytes <= 0:
		return fmt.Errorf("%s: max response bytes %d is not positive", c.Name, c.MaxResponseBytes)
	case c.MaxBootstrapBytes <= 0:
		return fmt.Errorf("%s: max bootstrap bytes %d is not positive", c.Name, c.MaxBootstrapBytes)
	case strings.ContainsFunc(c.UserAgent, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return fmt.Errorf("%s: user agent holds control characters", c.Name)
	}
	if strings.Contains(c.Bootstrap, "://") {
		if err := checkHTTPS(c.Bootstrap); err != nil {
			return fmt.Errorf("%s: bootstrap url: %w", c.Name, err)
		}
	}
	seen := make(map[string]string, len(c.Overrides))
	for tld, base := range c.Overrides {
		key := normalizeEntry(tld)
		if other, dup := seen[key]; dup {
			return fmt.Errorf("%s: overrides %q and %q are for the same suffix", c.Name, other, tld)
		}
		seen[key] = tld
		if key == "" || strings.ContainsFunc(key, func(r rune) bool { return r <= ' ' || r == '/' || r == ':' || r == '=' || r == ',' }) {
			return fmt.Errorf("%s: override key %q is not a domain suffix", c.Name, tld)
		}
		if base == "" {
			continue
		}
		if err := checkHTTPS(base); err != nil {
			return fmt.Errorf("%s: override for %q: %w", c.Name, tld, err)
		}
	}
	return nil
}

// checkHTTPS checks that raw is an absolute https URL without query or
// fragment.
func checkHTTPS(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return err
	case u.Scheme != "https" || u.Host == "":
		return fmt.Errorf("%q is not an absolute https url", raw)
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%q has a query or fragment", raw)
	}
	return nil
}

// ParseOverrides parses per-TLD overrides written as comma-separated
// tld=url pairs, "se=https://rdap.example.se/,nu=https://rdap.example.nu/",
// as an environment variable holds them. Spaces around pairs, keys and
// URLs are ignored; "tld=" names no server. A key given twice, a pair
// without "=", or an invalid key or URL is an error. An empty string gives
// no overrides.
func ParseOverrides(s string) (map[string]string, error) {
	overrides := make(map[string]string)
	for pair := range strings.SplitSeq(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		tld, base, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, fmt.Errorf("rdap: override %q is not tld=url", pair)
		}
		key := normalizeEntry(tld)
		if _, dup := overrides[key]; dup {
			return nil, fmt.Errorf("rdap: override for %q is given twice", key)
		}
		overrides[key] = strings.TrimSpace(base)
	}
	cfg := DefaultConfig()
	cfg.Overrides = overrides
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return overrides, nil
}

// Client reads domain statuses from RDAP servers. It is safe for
// concurrent use.
type Client struct {
	cfg       Config
	http      *http.Client
	overrides map[string]string // normalized keys; values end in "/" or are ""
	source    source            // nil for the embedded snapshot
	now       func() time.Time

	// refreshMu is held by the one caller reloading the registry.
	refreshMu sync.Mutex

	mu       sync.Mutex // guards the fields below
	reg      *Bootstrap
	loadedAt time.Time // when reg was loaded from source; zero for the snapshot
	failedAt time.Time // when the last reload failed; zero after a success
	lastErr  error     // the last reload's error
}

var _ registrar.Registrar = (*Client)(nil)

// New returns a client for cfg. When cfg.Bootstrap is a file, New reads it
// and fails when it cannot be read or parsed; a URL is first loaded on use.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	hc := registrar.NewHTTPClient()
	if cfg.HTTPClient != nil {
		copied := *cfg.HTTPClient
		hc = &copied
	}
	hc.CheckRedirect = checkRedirect

	c := &Client{cfg: cfg, http: hc, overrides: make(map[string]string, len(cfg.Overrides)), now: time.Now, reg: snapshot()}
	for tld, base := range cfg.Overrides {
		if base != "" {
			base = strings.TrimRight(base, "/") + "/"
		}
		c.overrides[normalizeEntry(tld)] = base
	}
	switch {
	case cfg.Bootstrap == "":
	case strings.Contains(cfg.Bootstrap, "://"):
		c.source = urlSource{url: cfg.Bootstrap, client: c}
	default:
		c.source = fileSource{path: cfg.Bootstrap, maxBytes: cfg.MaxBootstrapBytes}
		if err := c.RefreshBootstrap(context.Background()); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Name returns [Config.Name].
func (c *Client) Name() string { return c.cfg.Name }

// errRedirect marks a redirect the adapter refuses to follow.
var errRedirect = errors.New("redirect refused")

// checkRedirect follows at most maxRedirects redirects, each to https.
func checkRedirect(req *http.Request, via []*http.Request) error {
	switch {
	case len(via) > maxRedirects:
		return fmt.Errorf("%w: more than %d redirects", errRedirect, maxRedirects)
	case req.URL.Scheme != "https":
		return fmt.Errorf("%w: to %s, which is not https", errRedirect, req.URL.Redacted())
	}
	return nil
}

// ReadStatus reads the domain's status from the RDAP server for its TLD,
// as the package documentation describes.
func (c *Client) ReadStatus(ctx context.Context, domain registrar.Domain) (registrar.StatusReading, error) {
	name, err := queryName(domain.Name)
	if err != nil {
		return registrar.StatusReading{}, fmt.Errorf("%s: read status of %q: %w: %w", c.cfg.Name, domain.Name, registrar.ErrInvalidRequest, err)
	}
	base, err := c.baseURL(ctx, name)
	if err != nil {
		return registrar.StatusReading{}, fmt.Errorf("%s: read status of %s: %w: %w: %w", c.cfg.Name, name, registrar.ErrInvalidRequest, registrar.ErrNotCovered, err)
	}

	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"domain/"+name, nil)
	if err != nil {
		return registrar.StatusReading{}, fmt.Errorf("%s: read status of %s: %w", c.cfg.Name, name, err)
	}
	req.Header.Set("Accept", accept)
	if c.cfg.UserAgent != "" {
		req.Header.Set("User-Agent", c.cfg.UserAgent)
	}

	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, errRedirect) {
			return registrar.StatusReading{}, fmt.Errorf("%s: read status of %s: %w: %w", c.cfg.Name, name, registrar.ErrBadResponse, err)
		}
		return registrar.StatusReading{}, fmt.Errorf("%s: read status of %s: %w: %w", c.cfg.Name, name, registrar.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxResponseBytes+1))
	if err != nil {
		return registrar.StatusReading{}, fmt.Errorf("%s: read status of %s: reading answer: %w: %w", c.cfg.Name, name, registrar.ErrUnavailable, err)
	}
	tooLarge := int64(len(body)) > c.cfg.MaxResponseBytes
	requestID := resp.Header.Get(requestIDHeader)

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		apiErr := &registrar.APIError{
			Registrar:  c.cfg.Name,
			Status:     resp.StatusCode,
			RequestID:  requestID,
			RetryAfter: registrar.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
		}
		if !tooLarge {
			apiErr.Code, apiErr.Detail = describeError(body)
		}
		return registrar.StatusReading{}, apiErr
	}
	if tooLarge {
		return registrar.StatusReading{}, fmt.Errorf("%s: read status of %s: answer exceeds %d bytes: %w", c.cfg.Name, name, c.cfg.MaxResponseBytes, registrar.ErrBadResponse)
	}
	r, err := ParseDomain(body, name)
	if err != nil {
		if requestID != "" {
			return registrar.StatusReading{}, fmt.Errorf("%s: read status of %s (request %s): %w", c.cfg.Name, name, requestID, err)
		}
		return registrar.StatusReading{}, fmt.Errorf("%s: read status of %s: %w", c.cfg.Name, name, err)
	}
	r.RequestID = requestID
	return r, nil
}

// queryName returns name as it is queried: lower case, without a trailing
// dot, checked to be an LDH domain name (letters, digits and hyphens in
// labels of 1 to 63 octets, at most 253 octets in all), as A-labels are.
func queryName(name string) (string, error) {
	n := strings.TrimSuffix(strings.ToLower(name), ".")
	switch {
	case n == "":
		return "", errors.New("domain name is empty")
	case len(n) > 253:
		return "", errors.New("domain name is longer than 253 octets")
	}
	for label := range strings.SplitSeq(n, ".") {
		if label == "" || len(label) > 63 {
			return "", fmt.Errorf("domain name has a label of %d octets", len(label))
		}
		if strings.ContainsFunc(label, func(r rune) bool { return (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' }) {
			return "", errors.New("domain name is not in A-label form: labels hold only letters, digits and hyphens")
		}
	}
	return n, nil
}

// baseURL returns the RDAP base URL, ending in "/", that answers for name.
func (c *Client) baseURL(ctx context.Context, name string) (string, error) {
	if entry, base, ok := longestMatch(c.overrides, name); ok {
		if base == "" {
			return "", fmt.Errorf("the override for %q names no server: %w", entry, ErrNoServer)
		}
		return base, nil
	}
	return c.registry(ctx).lookup(name)
}

// registry returns the bootstrap registry, first reloading it when it is
// due and no other caller is reloading it already.
func (c *Client) registry(ctx context.Context) *Bootstrap {
	if c.source != nil && c.refreshDue() && c.refreshMu.TryLock() {
		if c.refreshDue() { // another caller may have just reloaded it
			_ = c.refreshLocked(ctx)
		}
		c.refreshMu.Unlock()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reg
}

// refreshDue reports whether the registry is older than the refresh
// interval and the last failed reload, if any, is older than the retry
// interval.
func (c *Client) refreshDue() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if !c.loadedAt.IsZero() && now.Sub(c.loadedAt) < c.cfg.BootstrapRefresh {
		return false
	}
	return c.failedAt.IsZero() || now.Sub(c.failedAt) >= c.cfg.BootstrapRetry
}

// RefreshBootstrap reloads the bootstrap registry from [Config.Bootstrap]
// now, waiting for a reload in progress first. On failure the current
// registry stays in use and the error is returned. With the embedded
// snapshot it does nothing.
func (c *Client) RefreshBootstrap(ctx context.Context) error {
	if c.source == nil {
		return nil
	}
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	return c.refreshLocked(ctx)
}

// refreshLocked reloads the registry; c.refreshMu must be held.
func (c *Client) refreshLocked(ctx context.Context) error {
	data, err := c.source.load(ctx)
	var reg *Bootstrap
	if err == nil {
		reg, err = parseBootstrap(data)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.failedAt = c.now()
		c.lastErr = fmt.Errorf("%s: loading the bootstrap registry from %s: %w", c.cfg.Name, c.source, err)
		return c.lastErr
	}
	c.reg, c.loadedAt, c.failedAt, c.lastErr = reg, c.now(), time.Time{}, nil
	return nil
}

// BootstrapStatus describes the bootstrap registry a [Client] uses.
type BootstrapStatus struct {
	// Source is where the registry is loaded from: "embedded snapshot", a
	// file path or a URL.
	Source string
	// Publication is the publication time of the registry in use.
	Publication time.Time
	// Entries is how many entries the registry in use maps.
	Entries int
	// LoadedAt is when the registry in use was loaded from Source; zero
	// while the embedded snapshot is in use.
	LoadedAt time.Time
	// FailedAt is when the last reload failed; zero when the last one
	// succeeded or none failed.
	FailedAt time.Time
	// LastError is the error of the last reload when it failed.
	LastError error
}

// BootstrapStatus reports which bootstrap registry is in use and how its
// last reload went.
func (c *Client) BootstrapStatus() BootstrapStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := BootstrapStatus{
		Source:      "embedded snapshot",
		Publication: c.reg.Publication(),
		Entries:     c.reg.Len(),
		LoadedAt:    c.loadedAt,
		FailedAt:    c.failedAt,
		LastError:   c.lastErr,
	}
	if c.source != nil {
		s.Source = c.source.String()
	}
	return s
}

// source is where a bootstrap registry is loaded from.
type source interface {
	fmt.Stringer
	load(ctx context.Context) ([]byte, error)
}

// fileSource loads the registry from a file.
type fileSource struct {
	path     string
	maxBytes int64
}

func (s fileSource) String() string { return s.path }

func (s fileSource) load(context.Context) ([]byte, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, s.maxBytes)
}

// urlSource loads the registry over https with the client's HTTP client,
// redirect policy, timeout and size limit.
type urlSource struct {
	url    string
	client *Client
}

func (s urlSource) String() string { return s.url }

func (s urlSource) load(ctx context.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.client.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if ua := s.client.cfg.UserAgent; ua != "" {
		req.Header.Set("User-Agent", ua)
	}
	resp, err := s.client.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return readLimited(resp.Body, s.client.cfg.MaxBootstrapBytes)
}

// readLimited reads r to the end, failing when it holds more than max
// bytes.
func readLimited(r io.Reader, maxBytes int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > maxBytes {
		return nil, fmt.Errorf("bootstrap registry exceeds %d bytes", maxBytes)
	}
	return data, nil
}
