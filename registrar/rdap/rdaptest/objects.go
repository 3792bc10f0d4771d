package rdaptest

import (
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/regsync/regsync/registrar"
)

// The RFC 9083 objects the server answers, members in the order gTLD
// registries send them.
type (
	domainObject struct {
		ObjectClassName string       `json:"objectClassName"`
		Handle          string       `json:"handle"`
		LDHName         string       `json:"ldhName"`
		Links           []link       `json:"links"`
		Status          []string     `json:"status"`
		Entities        []entity     `json:"entities"`
		Events          []event      `json:"events"`
		SecureDNS       secureDNS    `json:"secureDNS"`
		Nameservers     []nameserver `json:"nameservers"`
		Remarks         []notice     `json:"remarks,omitempty"`
		RDAPConformance []string     `json:"rdapConformance"`
		Notices         []notice     `json:"notices"`
	}
	entity struct {
		ObjectClassName string     `json:"objectClassName"`
		Handle          string     `json:"handle,omitempty"`
		Roles           []string   `json:"roles"`
		PublicIDs       []publicID `json:"publicIds,omitempty"`
		VCardArray      []any      `json:"vcardArray,omitempty"`
		Remarks         []notice   `json:"remarks,omitempty"`
		Entities        []entity   `json:"entities,omitempty"`
	}
	publicID struct {
		Type       string `json:"type"`
		Identifier string `json:"identifier"`
	}
	event struct {
		EventAction string `json:"eventAction"`
		EventDate   string `json:"eventDate"`
	}
	link struct {
		Value string `json:"value,omitempty"`
		Rel   string `json:"rel"`
		Href  string `json:"href"`
		Type  string `json:"type"`
	}
	notice struct {
		Title       string   `json:"title"`
		Description []string `json:"description"`
		Links       []link   `json:"links,omitempty"`
	}
	secureDNS struct {
		DelegationSigned bool `json:"delegationSigned"`
	}
	nameserver struct {
		ObjectClassName string `json:"objectClassName"`
		LDHName         string `json:"ldhName"`
	}
	errorObject struct {
		RDAPConformance []string `json:"rdapConformance"`
		ErrorCode       int      `json:"errorCode"`
		Title           string   `json:"title"`
		Description     []string `json:"description"`
		Notices         []notice `json:"notices"`
	}
)

// Fixed dates of the domains' history; the expiry comes from the simulator.
var (
	registered = time.Date(2019, 3, 14, 8, 21, 7, 0, time.UTC)
	changed    = time.Date(2025, 2, 10, 11, 3, 45, 0, time.UTC)
)

// ianaID matches a sponsor that is an IANA registrar id.
var ianaID = regexp.MustCompile(`^[0-9]+$`)

// domainObject returns the domain object answering a read of the domain
// name with id domainID; a non-empty remark pads it (for !huge).
func (s *Server) domainObject(name, domainID string, r registrar.StatusReading, remark string) domainObject {
	statuses, _ := Statuses(r.Raw)
	s.mu.Lock()
	locked := s.locked[name]
	s.mu.Unlock()
	if locked {
		statuses = slices.Concat(slices.DeleteFunc(slices.Clone(statuses), func(v string) bool { return v == "active" }), locks)
	}

	self := s.URL + "/domain/" + name
	events := []event{{"registration", registered.Format(time.RFC3339)}}
	if !r.ExpiresAt.IsZero() {
		events = append(events, event{"expiration", r.ExpiresAt.UTC().Format(time.RFC3339Nano)})
	}
	events = append(events,
		event{"last changed", changed.Format(time.RFC3339)},
		event{"last update of RDAP database", time.Now().UTC().Format("2006-01-02T15:04:05.000Z")},
	)

	entities := []entity{{
		ObjectClassName: "entity",
		Roles:           []string{"registrant"},
		Remarks: []notice{{
			Title:       "REDACTED FOR PRIVACY",
			Description: []string{"Some of the data in this object has been removed."},
		}},
	}}
	if r.Sponsor != "" {
		registrarEntity := entity{
			ObjectClassName: "entity",
			Handle:          r.Sponsor,
			Roles:           []string{"registrar"},
			VCardArray:      vcard("Registrar "+r.Sponsor, ""),
			Entities: []entity{{
				ObjectClassName: "entity",
				Roles:           []string{"abuse"},
				VCardArray:      vcard("", "abuse@registrar.example"),
			}},
		}
		if ianaID.MatchString(r.Sponsor) {
			registrarEntity.PublicIDs = []publicID{{Type: "IANA Registrar ID", Identifier: r.Sponsor}}
		}
		entities = append(entities, registrarEntity)
	}

	d := domainObject{
		ObjectClassName: "domain",
		Handle:          strings.ToUpper(domainID) + "_DOMAIN-RDAPTEST",
		LDHName:         name,
		Links:           []link{{Value: self, Rel: "self", Href: self, Type: "application/rdap+json"}},
		Status:          statuses,
		Entities:        entities,
		Events:          events,
		SecureDNS:       secureDNS{DelegationSigned: false},
		Nameservers: []nameserver{
			{ObjectClassName: "nameserver", LDHName: "ns1.rdaptest.example"},
			{ObjectClassName: "nameserver", LDHName: "ns2.rdaptest.example"},
		},
		RDAPConformance: []string{"rdap_level_0", "icann_rdap_technical_implementation_guide_1", "icann_rdap_response_profile_1"},
		Notices:         notices(s.URL),
	}
	if remark != "" {
		d.Remarks = []notice{{Title: "Padding", Description: []string{remark}}}
	}
	return d
}

// vcard returns a jCard (RFC 7095) with a formatted name and, when email
// is not empty, an email address.
func vcard(fn, email string) []any {
	props := []any{
		[]any{"version", map[string]any{}, "text", "4.0"},
		[]any{"fn", map[string]any{}, "text", fn},
	}
	if email != "" {
		props = append(props,
			[]any{"tel", map[string]any{"type": "voice"}, "uri", "tel:+1.5555550100"},
			[]any{"email", map[string]any{}, "text", email},
		)
	}
	return []any{"vcard", props}
}

// notices returns the notices gTLD registries attach to every answer.
func notices(base string) []notice {
	return []notice{
		{
			Title:       "Terms of Use",
			Description: []string{"Service subject to Terms of Use."},
			Links:       []link{{Rel: "terms-of-service", Href: base + "/terms", Type: "text/html"}},
		},
		{
			Title:       "Status Codes",
			Description: []string{"For more information on domain status codes, please visit https://icann.org/epp"},
			Links:       []link{{Rel: "glossary", Href: "https://icann.org/epp", Type: "text/html"}},
		},
		{
			Title:       "RDDS Inaccuracy Complaint Form",
			Description: []string{"URL of the ICANN RDDS Inaccuracy Complaint Form: https://icann.org/wicf"},
			Links:       []link{{Rel: "help", Href: "https://icann.org/wicf", Type: "text/html"}},
		},
	}
}
