package epp

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The XML namespaces the client speaks.
const (
	// NamespaceEPP is the namespace of EPP itself (RFC 5730).
	NamespaceEPP = "urn:ietf:params:xml:ns:epp-1.0"
	// NamespaceDomain is the objURI of the domain mapping (RFC 5731).
	NamespaceDomain = "urn:ietf:params:xml:ns:domain-1.0"
	// NamespaceRGP is the extURI of the Registry Grace Period extension
	// (RFC 3915).
	NamespaceRGP = "urn:ietf:params:xml:ns:rgp-1.0"
)

// eppVersion is the only protocol version EPP defines.
const eppVersion = "1.0"

// redacted replaces secrets in frames handed to [Config.Trace].
const redacted = "[redacted]"

// command is one client frame: the bytes sent, the same bytes with every
// secret replaced for tracing, and the clTRID the answer must echo (empty
// for a hello, which has none).
type command struct {
	name     string
	payload  []byte
	redacted []byte
	clTRID   string
}

// builder writes a frame twice, once as sent and once with its secrets
// replaced by [redacted], so that a trace of it can never hold one.
type builder struct {
	sent, traced bytes.Buffer
}

// raw writes markup, the same in both copies.
func (b *builder) raw(s string) {
	b.sent.WriteString(s)
	b.traced.WriteString(s)
}

// text writes escaped character data, the same in both copies. Callers
// check values with [xmlSafe] first: xml.EscapeText would silently replace
// characters XML cannot carry.
func (b *builder) text(s string) {
	_ = xml.EscapeText(&b.sent, []byte(s)) // a bytes.Buffer never fails
	_ = xml.EscapeText(&b.traced, []byte(s))
}

// secret writes escaped character data to the frame sent and [redacted] to
// the traced copy.
func (b *builder) secret(s string) {
	_ = xml.EscapeText(&b.sent, []byte(s))
	b.traced.WriteString(redacted)
}

// xmlHeader starts every frame.
const xmlHeader = `<?xml version="1.0" encoding="UTF-8" standalone="no"?>`

// newCommand wraps body, built by fill, in <epp><command> with clTRID.
func newCommand(name, clTRID string, fill func(b *builder)) command {
	var b builder
	b.raw(xmlHeader + `<epp xmlns="` + NamespaceEPP + `"><command>`)
	fill(&b)
	b.raw(`<clTRID>`)
	b.text(clTRID)
	b.raw(`</clTRID></command></epp>`)
	return command{name: name, payload: b.sent.Bytes(), redacted: b.traced.Bytes(), clTRID: clTRID}
}

// helloCommand is <hello>, which a server answers with its greeting.
func helloCommand() command {
	p := []byte(xmlHeader + `<epp xmlns="` + NamespaceEPP + `"><hello/></epp>`)
	return command{name: "hello", payload: p, redacted: p}
}

// login is what a <login> command carries.
type login struct {
	clientID, password, newPassword string
	lang                            string
	objURIs, extURIs                []string
}

// loginCommand builds <login>; the passwords only go into the frame sent.
func loginCommand(clTRID string, l login) command {
	return newCommand("login", clTRID, func(b *builder) {
		b.raw(`<login><clID>`)
		b.text(l.clientID)
		b.raw(`</clID><pw>`)
		b.secret(l.password)
		b.raw(`</pw>`)
		if l.newPassword != "" {
			b.raw(`<newPW>`)
			b.secret(l.newPassword)
			b.raw(`</newPW>`)
		}
		b.raw(`<options><version>` + eppVersion + `</version><lang>`)
		b.text(l.lang)
		b.raw(`</lang></options><svcs>`)
		for _, u := range l.objURIs {
			b.raw(`<objURI>`)
			b.text(u)
			b.raw(`</objURI>`)
		}
		if len(l.extURIs) > 0 {
			b.raw(`<svcExtension>`)
			for _, u := range l.extURIs {
				b.raw(`<extURI>`)
				b.text(u)
				b.raw(`</extURI>`)
			}
			b.raw(`</svcExtension>`)
		}
		b.raw(`</svcs></login>`)
	})
}

// logoutCommand builds <logout>.
func logoutCommand(clTRID string) command {
	return newCommand("logout", clTRID, func(b *builder) { b.raw(`<logout/>`) })
}

// domainInfoCommand builds <domain:info> for name, asking for no host
// information, which the adapter does not use.
func domainInfoCommand(clTRID, name string) command {
	return newCommand("domain:info", clTRID, func(b *builder) {
		b.raw(`<info><domain:info xmlns:domain="` + NamespaceDomain + `"><domain:name hosts="none">`)
		b.text(name)
		b.raw(`</domain:name></domain:info></info>`)
	})
}

// transferQueryCommand builds <transfer op="query"> for name.
func transferQueryCommand(clTRID, name string) command {
	return newCommand("transfer query", clTRID, func(b *builder) {
		b.raw(`<transfer op="query"><domain:transfer xmlns:domain="` + NamespaceDomain + `"><domain:name>`)
		b.text(name)
		b.raw(`</domain:name></domain:transfer></transfer>`)
	})
}

// transferRequestCommand builds <transfer op="request"> for name with the
// authInfo, which only goes into the frame sent.
func transferRequestCommand(clTRID, name, authInfo string) command {
	return newCommand("transfer request", clTRID, func(b *builder) {
		b.raw(`<transfer op="request"><domain:transfer xmlns:domain="` + NamespaceDomain + `"><domain:name>`)
		b.text(name)
		b.raw(`</domain:name><domain:authInfo><domain:pw>`)
		b.secret(authInfo)
		b.raw(`</domain:pw></domain:authInfo></domain:transfer></transfer>`)
	})
}

// xmlSafe reports whether s is valid UTF-8 made only of characters XML 1.0
// can carry, so that it reaches the server exactly as given.
func xmlSafe(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
		case r >= 0x20 && r <= 0xD7FF:
		case r >= 0xE000 && r <= 0xFFFD:
		case r >= 0x10000 && r <= 0x10FFFF:
		default:
			return false
		}
	}
	return true
}

// secretPattern finds the content of <pw> and <newPW> elements, in any
// namespace, in a frame a server sent: a registry includes a domain's
// authInfo in an info answer to its sponsor.
var secretPattern = regexp.MustCompile(`(?s)(<(?:[A-Za-z_][\w.\-]*:)?(?:pw|newPW)(?:\s[^>]*)?>)(.*?)(</(?:[A-Za-z_][\w.\-]*:)?(?:pw|newPW)\s*>)`)

// redactFrame returns frame with the content of every <pw> and <newPW>
// element, and every occurrence of the given secrets as sent, replaced.
func redactFrame(frame []byte, secrets ...string) []byte {
	out := secretPattern.ReplaceAll(frame, []byte("${1}"+redacted+"${3}"))
	for _, s := range secrets {
		if s == "" {
			continue
		}
		out = bytes.ReplaceAll(out, []byte(s), []byte(redacted))
		var esc bytes.Buffer
		_ = xml.EscapeText(&esc, []byte(s))
		if esc.String() != s {
			out = bytes.ReplaceAll(out, esc.Bytes(), []byte(redacted))
		}
	}
	return out
}

// redactText replaces every occurrence of the secrets in s, text a server
// sent, before it goes into an error.
func redactText(s string, secrets ...string) string {
	for _, secret := range secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, redacted)
		}
	}
	return s
}

// message is a frame a server sends: a greeting or a response.
type message struct {
	XMLName  xml.Name
	Greeting *greeting `xml:"urn:ietf:params:xml:ns:epp-1.0 greeting"`
	Response *response `xml:"urn:ietf:params:xml:ns:epp-1.0 response"`
}

// greeting is the part of a <greeting> the client uses.
type greeting struct {
	SvID     string   `xml:"svID"`
	SvDate   string   `xml:"svDate"`
	Versions []string `xml:"svcMenu>version"`
	Langs    []string `xml:"svcMenu>lang"`
	ObjURIs  []string `xml:"svcMenu>objURI"`
	ExtURIs  []string `xml:"svcMenu>svcExtension>extURI"`
}

// response is the part of a <response> the client uses.
type response struct {
	Results   []result  `xml:"result"`
	ResData   resData   `xml:"resData"`
	Extension extension `xml:"extension"`
	ClTRID    string    `xml:"trID>clTRID"`
	SvTRID    string    `xml:"trID>svTRID"`
}

// result is one <result>.
type result struct {
	Code      string     `xml:"code,attr"`
	Msg       string     `xml:"msg"`
	ExtValues []extValue `xml:"extValue"`
}

// extValue is a result's <extValue>; only its reason is kept.
type extValue struct {
	Reason string `xml:"reason"`
}

// resData holds the domain mapping's answers.
type resData struct {
	DomainInfo     *domainInfData `xml:"urn:ietf:params:xml:ns:domain-1.0 infData"`
	DomainTransfer *domainTrnData `xml:"urn:ietf:params:xml:ns:domain-1.0 trnData"`
}

// extension holds the RGP extension's answer.
type extension struct {
	RGPInfo *rgpInfData `xml:"urn:ietf:params:xml:ns:rgp-1.0 infData"`
}

// statusValue is a <domain:status> or <rgp:rgpStatus>: its s attribute.
type statusValue struct {
	S string `xml:"s,attr"`
}

// domainInfData is the part of <domain:infData> the client uses.
type domainInfData struct {
	Name     string        `xml:"urn:ietf:params:xml:ns:domain-1.0 name"`
	Statuses []statusValue `xml:"urn:ietf:params:xml:ns:domain-1.0 status"`
	ClID     string        `xml:"urn:ietf:params:xml:ns:domain-1.0 clID"`
	ExDate   string        `xml:"urn:ietf:params:xml:ns:domain-1.0 exDate"`
}

// rgpInfData is <rgp:infData>.
type rgpInfData struct {
	Statuses []statusValue `xml:"urn:ietf:params:xml:ns:rgp-1.0 rgpStatus"`
}

// domainTrnData is <domain:trnData>.
type domainTrnData struct {
	Name     string `xml:"urn:ietf:params:xml:ns:domain-1.0 name"`
	TrStatus string `xml:"urn:ietf:params:xml:ns:domain-1.0 trStatus"`
	ReID     string `xml:"urn:ietf:params:xml:ns:domain-1.0 reID"`
	ReDate   string `xml:"urn:ietf:params:xml:ns:domain-1.0 reDate"`
	AcID     string `xml:"urn:ietf:params:xml:ns:domain-1.0 acID"`
	AcDate   string `xml:"urn:ietf:params:xml:ns:domain-1.0 acDate"`
	ExDate   string `xml:"urn:ietf:params:xml:ns:domain-1.0 exDate"`
}

// errMalformed is wrapped by every error of the parsers below; the caller
// wraps it with [registrar.ErrBadResponse].
var errMalformed = errors.New("malformed EPP message")

// parseMessage decodes a server's frame: one <epp> element in the EPP
// namespace holding a greeting or a response. encoding/xml expands no
// external or custom entities and bounds nesting depth, and the frame's
// size is bounded by [ReadFrame] before it gets here.
func parseMessage(payload []byte) (*message, error) {
	var m message
	if err := xml.Unmarshal(payload, &m); err != nil {
		return nil, fmt.Errorf("%w: %w", errMalformed, err)
	}
	if m.XMLName.Space != NamespaceEPP || m.XMLName.Local != "epp" {
		return nil, fmt.Errorf("%w: root element is {%s}%s, not {%s}epp", errMalformed, m.XMLName.Space, m.XMLName.Local, NamespaceEPP)
	}
	if (m.Greeting == nil) == (m.Response == nil) {
		return nil, fmt.Errorf("%w: want exactly one of greeting and response", errMalformed)
	}
	return &m, nil
}

// parseResponse decodes a frame that must be a <response>.
func parseResponse(payload []byte) (*response, error) {
	m, err := parseMessage(payload)
	if err != nil {
		return nil, err
	}
	if m.Response == nil {
		return nil, fmt.Errorf("%w: a greeting where a response was expected", errMalformed)
	}
	if _, _, err := m.Response.result(); err != nil {
		return nil, err
	}
	return m.Response, nil
}

// parseGreeting decodes a frame that must be a <greeting>.
func parseGreeting(payload []byte) (*greeting, error) {
	m, err := parseMessage(payload)
	if err != nil {
		return nil, err
	}
	if m.Greeting == nil {
		return nil, fmt.Errorf("%w: a response where a greeting was expected", errMalformed)
	}
	return m.Greeting, nil
}

// result returns the response's result code, from 1000 to 2999, and its
// first result; RFC 5730 gives every result of one response the same code
// class, and several only to list several errors.
func (r *response) result() (int, result, error) {
	if len(r.Results) == 0 {
		return 0, result{}, fmt.Errorf("%w: response has no result", errMalformed)
	}
	res := r.Results[0]
	code, err := strconv.Atoi(strings.TrimSpace(res.Code))
	if err != nil || code < 1000 || code > 2999 {
		return 0, result{}, fmt.Errorf("%w: result code %q is not an EPP result code", errMalformed, res.Code)
	}
	return code, res, nil
}

// reason returns the first non-empty extValue reason of the result.
func (r result) reason() string {
	for _, v := range r.ExtValues {
		if s := strings.TrimSpace(v.Reason); s != "" {
			return s
		}
	}
	return ""
}

// parseDateTime parses an XML Schema dateTime as EPP servers send it: RFC
// 3339 with optional fractional seconds, or, as some servers write it, with
// no time zone, read as UTC.
func parseDateTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02T15:04:05.999999999", s, time.UTC); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%w: %q is not an XML Schema dateTime", errMalformed, s)
}
