package rdap

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// ErrNoServer means no RDAP server is known for the domain's top-level
// domain: neither an override nor the bootstrap registry names one, or the
// registry names only plain-http servers, which the adapter does not use.
// ReadStatus errors that wrap it also wrap [registrar.ErrInvalidRequest], so
// that the worker does not retry the read, and [registrar.ErrNotCovered], so
// that a caller with another source for the domain's status falls back.
var ErrNoServer = errors.New("no RDAP server for the domain's top-level domain")

// snapshotJSON is the IANA DNS bootstrap registry shipped with the adapter;
// snapshot/README.md says where it comes from.
//
//go:embed snapshot/dns.json
var snapshotJSON []byte

// snapshot parses snapshotJSON once, on first use.
var snapshot = sync.OnceValue(func() *Bootstrap {
	b, err := parseBootstrap(snapshotJSON)
	if err != nil {
		panic("rdap: the embedded bootstrap snapshot does not parse: " + err.Error())
	}
	return b
})

// Snapshot returns the IANA DNS bootstrap registry embedded in the adapter,
// the registry a [Client] uses when [Config.Bootstrap] is empty and until a
// configured URL first loads.
func Snapshot() *Bootstrap { return snapshot() }

// Bootstrap is a parsed RFC 9224 DNS bootstrap registry: which RDAP base
// URLs answer for which DNS labels, usually top-level domains. It is
// immutable and safe for concurrent use.
type Bootstrap struct {
	publication time.Time
	// services maps each entry (lower case, no trailing dot) to its base
	// URLs, https ones first, each ending in "/".
	services map[string][]string
}

// bootstrapFile is the JSON shape of RFC 9224 §3.
type bootstrapFile struct {
	Version     string       `json:"version"`
	Publication string       `json:"publication"`
	Services    [][][]string `json:"services"`
}

// ParseBootstrap parses an RFC 9224 DNS bootstrap registry, such as IANA's
// https://data.iana.org/rdap/dns.json.
//
// A file that is not that JSON shape, or that lists no entry at all, is an
// error: a refresh must not replace a working registry with an empty one.
// Entries are matched case-insensitively and without a trailing dot. A base
// URL that is not an absolute http or https URL is skipped; the others are
// kept with https ones first, in the file's order otherwise. When an entry
// appears in several services, its first service counts.
func ParseBootstrap(data []byte) (*Bootstrap, error) {
	b, err := parseBootstrap(data)
	if err != nil {
		return nil, fmt.Errorf("rdap: %w", err)
	}
	return b, nil
}

// parseBootstrap is [ParseBootstrap] with errors that do not name the
// adapter.
func parseBootstrap(data []byte) (*Bootstrap, error) {
	var f bootstrapFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("bootstrap registry: %w", err)
	}
	b := &Bootstrap{services: make(map[string][]string)}
	if f.Publication != "" {
		b.publication, _ = parseTime(f.Publication)
	}
	for i, s := range f.Services {
		if len(s) != 2 {
			return nil, fmt.Errorf("bootstrap registry: service %d has %d arrays, want 2 (entries and base URLs)", i, len(s))
		}
		var https, other []string
		for _, raw := range s[1] {
			u, err := url.Parse(raw)
			if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "" {
				continue
			}
			base := strings.TrimRight(u.String(), "/") + "/"
			if u.Scheme == "https" {
				https = append(https, base)
			} else {
				other = append(other, base)
			}
		}
		urls := slices.Concat(https, other)
		for _, entry := range s[0] {
			key := normalizeEntry(entry)
			if key == "" {
				continue
			}
			if _, dup := b.services[key]; !dup {
				b.services[key] = urls
			}
		}
	}
	if len(b.services) == 0 {
		return nil, errors.New("bootstrap registry lists no entries")
	}
	return b, nil
}

// Publication returns the registry's publication time, zero when the file
// gave none that parses.
func (b *Bootstrap) Publication() time.Time { return b.publication }

// Len returns how many entries the registry maps.
func (b *Bootstrap) Len() int { return len(b.services) }

// Lookup returns the RDAP base URL, ending in "/", that answers for name:
// the first https URL of the entry matching the most labels at the end of
// name ("co.uk" before "uk" for example.co.uk), compared without regard to
// case or a trailing dot. It fails wrapping [ErrNoServer] when no entry
// matches or when the matching entry lists only plain-http URLs.
func (b *Bootstrap) Lookup(name string) (string, error) {
	base, err := b.lookup(name)
	if err != nil {
		return "", fmt.Errorf("rdap: %w", err)
	}
	return base, nil
}

// lookup is [Bootstrap.Lookup] with errors that do not name the adapter.
func (b *Bootstrap) lookup(name string) (string, error) {
	entry, urls, ok := longestMatch(b.services, name)
	switch {
	case !ok:
		return "", fmt.Errorf("the bootstrap registry has no entry for %q: %w", name, ErrNoServer)
	case len(urls) == 0 || !strings.HasPrefix(urls[0], "https://"):
		return "", fmt.Errorf("the bootstrap registry's entry %q lists no https server (%s): %w", entry, strings.Join(urls, " "), ErrNoServer)
	}
	return urls[0], nil
}

// longestMatch returns the key of m that matches the most labels at the end
// of name, and its value.
func longestMatch[V any](m map[string]V, name string) (string, V, bool) {
	label := normalizeEntry(name)
	for label != "" {
		if v, ok := m[label]; ok {
			return label, v, true
		}
		_, rest, found := strings.Cut(label, ".")
		if !found {
			break
		}
		label = rest
	}
	var zero V
	return "", zero, false
}

// normalizeEntry returns a bootstrap entry or domain name in the form
// entries are compared in: lower case, without surrounding spaces or
// trailing dot.
func normalizeEntry(s string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
}
