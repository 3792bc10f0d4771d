package httpapi_test

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// readDocument returns the OpenAPI document the package embeds.
func readDocument(t testing.TB) []byte {
	t.Helper()
	doc, err := os.ReadFile("openapi.json")
	require.NoError(t, err)
	return doc
}

// coverage records which documented answers (operation and status) the
// tests saw.
type coverage struct {
	mu         sync.Mutex
	documented map[string]bool // "METHOD /path/{template} STATUS" -> seen
	templates  map[string]*regexp.Regexp
	// ran counts the scenarios run: with fewer than all, as under -run,
	// some answers go unseen by design.
	ran int
}

// newCoverage returns a coverage of the document's answers and, when t
// and its subtests end, fails t unless each was seen, provided all the
// scenarios ran.
func newCoverage(t *testing.T, scenarios int) *coverage {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(readDocument(t), &doc))
	c := &coverage{documented: map[string]bool{}, templates: map[string]*regexp.Regexp{}}
	for path, operations := range doc.Paths {
		c.templates[path] = templatePattern(path)
		for method, op := range operations {
			for status := range op.Responses {
				c.documented[strings.ToUpper(method)+" "+path+" "+status] = false
			}
		}
	}
	t.Cleanup(func() {
		if c.ran < scenarios {
			t.Logf("%d of %d scenarios ran: not checking that every documented answer was seen", c.ran, scenarios)
			return
		}
		var unseen []string
		for answer, seen := range c.documented {
			if !seen {
				unseen = append(unseen, answer)
			}
		}
		slices.Sort(unseen)
		require.Empty(t, unseen, "documented answers no test saw")
	})
	return c
}

// templatePattern returns a pattern matching the escaped paths of an
// OpenAPI path template.
func templatePattern(template string) *regexp.Regexp {
	segments := strings.Split(template, "/")
	for i, s := range segments {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			segments[i] = "[^/]+"
		} else {
			segments[i] = regexp.QuoteMeta(s)
		}
	}
	return regexp.MustCompile("^" + strings.Join(segments, "/") + "$")
}

// started notes that a scenario runs.
func (c *coverage) started() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ran++
}

// record notes the answer status to req; a nil coverage records nothing.
func (c *coverage) record(req *http.Request, status int) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for path, pattern := range c.templates {
		if pattern.MatchString(req.URL.EscapedPath()) {
			c.documented[req.Method+" "+path+" "+strconv.Itoa(status)] = true
		}
	}
}

// TestOpenAPIDocument checks that the document is valid OpenAPI 3.1 and
// that the API serves it, without authentication.
func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	ok, errs := openAPIValidator(t).ValidateDocument()
	require.True(t, ok, "%v", errs)
	var doc struct {
		OpenAPI string `json:"openapi"`
	}
	require.NoError(t, json.Unmarshal(readDocument(t), &doc))
	require.Equal(t, "3.1.0", doc.OpenAPI)

	e := newEnv(t, options{})
	r := e.do(http.MethodGet, "/api/openapi.json", "", "")
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	require.Equal(t, readDocument(t), r.body)
}
