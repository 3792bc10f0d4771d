package rdap_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/rdap"
)

// FuzzParseDomain checks that any answer either fails wrapping
// ErrBadResponse or gives a reading whose fields keep the parser's
// promises. Its seeds are the fixtures in testdata/.
func FuzzParseDomain(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		body, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body, "regsync-example.example")
	}
	f.Add([]byte(`{"objectClassName":"domain","ldhName":"a.example","status":["clientHold"],"entities":[{"roles":["registrar"],"publicIds":[{"type":"IANA Registrar ID","identifier":1}]}]}`), "a.example")

	f.Fuzz(func(t *testing.T, body []byte, name string) {
		r, err := rdap.ParseDomain(body, name)
		if err != nil {
			if !errors.Is(err, registrar.ErrBadResponse) {
				t.Fatalf("error %v does not wrap ErrBadResponse", err)
			}
			return
		}
		if !r.Status.Valid() || r.Status == registrar.StatusFraud {
			t.Fatalf("status %q", r.Status)
		}
		if r.Raw == "" && r.Status != registrar.StatusUnknown {
			t.Fatalf("no raw values but status %q", r.Status)
		}
		if !r.ExpiresAt.IsZero() && r.ExpiresAt.Location() != time.UTC {
			t.Fatalf("expiry %s is not in UTC", r.ExpiresAt)
		}
		if r.Sponsor != strings.TrimSpace(r.Sponsor) {
			t.Fatalf("sponsor %q has surrounding spaces", r.Sponsor)
		}
		if r.RequestID != "" {
			t.Fatalf("request id %q from a body", r.RequestID)
		}
	})
}

// FuzzParseBootstrap checks that a registry that parses answers lookups
// with https base URLs ending in "/" or errors wrapping ErrNoServer.
func FuzzParseBootstrap(f *testing.F) {
	f.Add([]byte(`{"services":[[["com","NET."],["http://a.example/x","https://b.example/y"]],[["co.uk"],["https://c.example"]]]}`), "www.example.co.uk")
	f.Add([]byte(`{"services":[[["kg"],["http://rdap.example/"]]]}`), "a.kg")

	f.Fuzz(func(t *testing.T, data []byte, name string) {
		b, err := rdap.ParseBootstrap(data)
		if err != nil {
			return
		}
		base, err := b.Lookup(name)
		switch {
		case err != nil && !errors.Is(err, rdap.ErrNoServer):
			t.Fatalf("lookup error %v does not wrap ErrNoServer", err)
		case err == nil && (!strings.HasPrefix(base, "https://") || !strings.HasSuffix(base, "/")):
			t.Fatalf("base url %q", base)
		}
	})
}
