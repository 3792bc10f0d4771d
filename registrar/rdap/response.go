package rdap

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/regsync/regsync/registrar"
)

// RawSeparator joins a domain's RDAP status values into
// [registrar.StatusReading].Raw.
const RawSeparator = ", "

// maxEntityDepth is how deep in nested entities the sponsor is looked for:
// the domain's entities and two levels below them. It bounds the work a
// deeply nested answer can cause.
const maxEntityDepth = 3

// domainAnswer holds the members of an RFC 9083 domain object the adapter
// reads. The status values decide the reading, so they are decoded
// strictly; events and entities only add the expiry and sponsor, so they
// are decoded leniently, one by one, and a malformed one is skipped.
type domainAnswer struct {
	ObjectClassName string          `json:"objectClassName"`
	LDHName         string          `json:"ldhName"`
	UnicodeName     string          `json:"unicodeName"`
	Status          []string        `json:"status"`
	Events          json.RawMessage `json:"events"`
	Entities        json.RawMessage `json:"entities"`
	// ErrorCode and Title are set when the server answered an RFC 9083
	// error object where a domain object belongs.
	ErrorCode *int   `json:"errorCode"`
	Title     string `json:"title"`
}

// event is an RFC 9083 §4.5 event.
type event struct {
	Action string `json:"eventAction"`
	Date   string `json:"eventDate"`
}

// entity is the part of an RFC 9083 §5.1 entity the sponsor rule reads.
type entity struct {
	Handle    flexString      `json:"handle"`
	Roles     []string        `json:"roles"`
	PublicIDs json.RawMessage `json:"publicIds"`
	Entities  json.RawMessage `json:"entities"`
}

// publicID is an RFC 9083 §4.8 public identifier.
type publicID struct {
	Type       string     `json:"type"`
	Identifier flexString `json:"identifier"`
}

// flexString decodes a JSON string or number as a string, and null as "":
// some servers send registrar ids as numbers.
type flexString string

// UnmarshalJSON implements [json.Unmarshaler].
func (s *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*s = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(v)
		return nil
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*s = flexString(n.String())
		return nil
	}
}

// ParseDomain reads an RDAP domain object (RFC 9083 §5.3), the body of a
// successful answer to a query for name, which must be in A-label form.
//
// Raw is the status values as received, in order, joined with
// [RawSeparator]; Status maps them with [registrar.MapRDAP], after
// canonicalizing spellings some servers use instead of the registered ones
// (see the package documentation). ExpiresAt is the date of the first
// "expiration" event that parses, zero when there is none. Sponsor follows
// the registrar entity rule of the package documentation. RequestID is left
// empty: it comes from the answer's headers.
//
// An answer that is not a JSON object, whose objectClassName is not
// "domain", or whose ldhName (or, without one, unicodeName) is not name
// fails wrapping [registrar.ErrBadResponse]. Errors do not name the adapter.
func ParseDomain(body []byte, name string) (registrar.StatusReading, error) {
	var d domainAnswer
	if err := json.Unmarshal(body, &d); err != nil {
		return registrar.StatusReading{}, fmt.Errorf("decoding answer: %w: %w", registrar.ErrBadResponse, err)
	}
	if !strings.EqualFold(d.ObjectClassName, "domain") {
		if d.ErrorCode != nil {
			return registrar.StatusReading{}, fmt.Errorf("answer is an RDAP error object (errorCode %d, %q), not a domain: %w", *d.ErrorCode, d.Title, registrar.ErrBadResponse)
		}
		return registrar.StatusReading{}, fmt.Errorf("answer's objectClassName is %q, not \"domain\": %w", d.ObjectClassName, registrar.ErrBadResponse)
	}
	if err := checkName(d.LDHName, d.UnicodeName, name); err != nil {
		return registrar.StatusReading{}, err
	}
	return registrar.StatusReading{
		Raw:       strings.Join(d.Status, RawSeparator),
		Status:    mapStatuses(d.Status),
		ExpiresAt: expiry(d.Events),
		Sponsor:   sponsor(d.Entities),
	}, nil
}

// checkName checks that the answer is about name: its ldhName, compared
// without regard to case or a trailing dot (Verisign answers in upper
// case), or, when it has none, its unicodeName converted to A-labels.
func checkName(ldhName, unicodeName, name string) error {
	got, member := ldhName, "ldhName"
	if got == "" {
		if unicodeName == "" {
			return fmt.Errorf("answer has neither ldhName nor unicodeName: %w", registrar.ErrBadResponse)
		}
		member = "unicodeName"
		ascii, err := idna.Lookup.ToASCII(strings.TrimSuffix(unicodeName, "."))
		if err != nil {
			return fmt.Errorf("answer's unicodeName %q is not a domain name: %w: %w", unicodeName, registrar.ErrBadResponse, err)
		}
		got = ascii
	}
	if !strings.EqualFold(strings.TrimSuffix(got, "."), name) {
		return fmt.Errorf("answer is about %s %q, not %q: %w", member, got, name, registrar.ErrBadResponse)
	}
	return nil
}

// expiry returns the date of the first "expiration" event that parses.
func expiry(raw json.RawMessage) time.Time {
	for _, item := range lenientArray(raw) {
		var e event
		if json.Unmarshal(item, &e) != nil || !strings.EqualFold(strings.TrimSpace(e.Action), "expiration") {
			continue
		}
		if t, ok := parseTime(e.Date); ok {
			return t
		}
	}
	return time.Time{}
}

// sponsor applies the registrar entity rule: among the entities with the
// role "registrar", those at the shallowest depth that gives a value
// count, and of those the first one's "IANA Registrar ID" public id, else
// the first one's handle.
func sponsor(raw json.RawMessage) string {
	level := lenientArray(raw)
	for depth := 1; depth <= maxEntityDepth && len(level) > 0; depth++ {
		var next []json.RawMessage
		var ianaID, handle string
		for _, item := range level {
			var e entity
			if json.Unmarshal(item, &e) != nil {
				continue
			}
			if depth < maxEntityDepth {
				next = append(next, lenientArray(e.Entities)...)
			}
			if !hasRole(e.Roles, "registrar") {
				continue
			}
			if id := ianaRegistrarID(e.PublicIDs); id != "" && ianaID == "" {
				ianaID = id
			}
			if h := strings.TrimSpace(string(e.Handle)); h != "" && handle == "" {
				handle = h
			}
		}
		if ianaID != "" {
			return ianaID
		}
		if handle != "" {
			return handle
		}
		level = next
	}
	return ""
}

// ianaRegistrarID returns the identifier of the first public id of type
// "IANA Registrar ID", compared without regard to case.
func ianaRegistrarID(raw json.RawMessage) string {
	for _, item := range lenientArray(raw) {
		var p publicID
		if json.Unmarshal(item, &p) != nil || !strings.EqualFold(strings.TrimSpace(p.Type), "IANA Registrar ID") {
			continue
		}
		if id := strings.TrimSpace(string(p.Identifier)); id != "" {
			return id
		}
	}
	return ""
}

// hasRole reports whether roles holds role, compared without regard to case.
func hasRole(roles []string, role string) bool {
	for _, r := range roles {
		if strings.EqualFold(strings.TrimSpace(r), role) {
			return true
		}
	}
	return false
}

// lenientArray returns the elements of a JSON array, or nothing when raw is
// absent or not an array.
func lenientArray(raw json.RawMessage) []json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil
	}
	return items
}

// timeLayouts are the date forms accepted in eventDate, after parseTime
// has upper-cased the value and put a 'T' between date and time. RFC 3339
// (which in Go also accepts fractional seconds) comes first; the others
// are variants real servers send.
var timeLayouts = []struct {
	layout string
	// utc says the layout has no zone, so the time is read as UTC.
	utc bool
}{
	{time.RFC3339, false},
	{"2006-01-02T15:04:05Z0700", false}, // +0000, no colon
	{"2006-01-02T15:04:05Z07", false},   // +00, hours only
	{"2006-01-02T15:04Z07:00", false},   // no seconds
	{"2006-01-02T15:04:05", true},       // no zone
	{"2006-01-02", true},                // date only
}

// parseTime parses an RDAP date. RFC 9083 asks for RFC 3339; parseTime
// also accepts lower-case 't' and 'z', a space instead of 'T', fractional
// seconds of any length, offsets without a colon or minutes, no seconds,
// and, read as UTC, no zone at all or a bare date. The result is in UTC.
func parseTime(s string) (time.Time, bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if len(s) > len("2006-01-02") && s[len("2006-01-02")] == ' ' {
		s = s[:len("2006-01-02")] + "T" + s[len("2006-01-02")+1:]
	}
	for _, l := range timeLayouts {
		var t time.Time
		var err error
		if l.utc {
			t, err = time.ParseInLocation(l.layout, s, time.UTC)
		} else {
			t, err = time.Parse(l.layout, s)
		}
		if err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// rdapError is an RFC 9083 §6 error response.
type rdapError struct {
	ErrorCode   *int     `json:"errorCode"`
	Title       string   `json:"title"`
	Description []string `json:"description"`
}

// describeError returns the code and detail of an RFC 9083 error body, or
// empty strings when body is not one.
func describeError(body []byte) (code, detail string) {
	var e rdapError
	if json.Unmarshal(body, &e) != nil {
		return "", ""
	}
	if e.ErrorCode != nil {
		code = strconv.Itoa(*e.ErrorCode)
	}
	var parts []string
	if t := strings.TrimSpace(e.Title); t != "" {
		parts = append(parts, t)
	}
	if d := strings.TrimSpace(strings.Join(e.Description, " ")); d != "" {
		parts = append(parts, d)
	}
	return code, truncate(strings.Join(parts, ": "), maxDetail)
}

// maxDetail bounds the server's words an error repeats, in bytes.
const maxDetail = 512

// truncate shortens s to at most n bytes, on a rune boundary, marking the
// cut with an ellipsis.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
