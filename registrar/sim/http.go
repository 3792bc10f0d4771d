package sim

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/regsync/regsync/registrar"
)

// hugeBodyBytes is roughly the size of a !huge answer on the wire, several
// times the hostup adapter's default response limit.
const hugeBodyBytes = 4 << 20

// Handler serves s over HTTP: domain statuses in the wire format of Hostup
// API v2 and transfers in Hostway's, so that the hostup and hostway adapters
// can be exercised against scripted domains and transfers. Every request
// must carry "Authorization: Bearer <token>"; other requests get a 401
// problem. The routes are:
//
//	POST /api/v2/domains/{id}/actions/status-sync
//	    Reads the domain. The body must be absent or an empty JSON object.
//	    A status entry answers 200 with the documented 15-key object whose
//	    newStatus is the scripted raw value and whose previousStatus is the
//	    status this handler last served for the domain ("unknown" at first).
//	    HTTP faults answer application/problem+json problems with a stable
//	    code and a Retry-After header on 429; !timeout never answers until
//	    the client gives up; !garbage answers 200 with truncated JSON; !huge
//	    answers 200 with a valid object of several MiB.
//	PUT /sim/domains/{id}
//	    Scripts the domain from {"name":"example.com","statuses":["expired","active"],"cycle":false};
//	    204 on success, a 400 problem on bad JSON or an unknown token.
//	GET /sim/domains/{id}
//	    Answers {"reads":N}, the domain's [Sim.Reads].
//	PUT /accounts/{account}/domains/transfers/{domain}
//	    Resets the transfer. The body must be absent or a JSON object whose
//	    optional authInfo is a non-empty string; any other body answers
//	    "404 Bad Request" without reaching the transfer. The answer is the
//	    scripted status with no body, and !timeout never answers.
//	GET /accounts/{account}/domains/transfers/{domain}
//	    Reads the transfer's status. A status entry answers 200 with
//	    {"domainName":"example.com","statusCode":3,"status":"Awaiting response from losing registrar","canBeReset":false};
//	    other entries answer like a reset.
//	PUT /sim/outage
//	    Starts an outage from {"status":401,"for":"8s"}: for that long every
//	    registrar request answers that status's problem, as when the
//	    registrar refuses regsync's credentials; 204 on success.
//	PUT /sim/transfers/{account}/{domain}
//	    Scripts the transfer with [Sim.ScriptTransfer] from
//	    {"owner":"acct1","resets":["409","202"],"statuses":["blocked:resettable","pending"]};
//	    204 on success, a 400 problem on bad JSON or an unknown entry.
//
// The invalid request of Hostway's API page, for a 404bad entry, an invalid
// authInfo or a bad body, is sent with the status line it documents, "404
// Bad Request": net/http cannot write that reason phrase, so the handler
// takes the HTTP/1.1 connection over to write it and closes it. (Over
// HTTP/2, which has no reason phrases, it answers 400 instead.)
//
// Every answer carries its request ID in an X-Request-Id header, and problems
// also in their requestId field. A 429's Retry-After is sent in whole
// seconds, rounded up.
func Handler(s *Sim, token string) http.Handler {
	h := &handler{sim: s, token: token, last: make(map[string]string)}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /sim/outage", h.putOutage)
	mux.HandleFunc("POST /api/v2/domains/{id}/actions/status-sync", h.statusSync)
	mux.HandleFunc("PUT /sim/domains/{id}", h.putScript)
	mux.HandleFunc("GET /sim/domains/{id}", h.getReads)
	mux.HandleFunc("PUT /accounts/{account}/domains/transfers/{domain}", h.resetTransfer)
	mux.HandleFunc("GET /accounts/{account}/domains/transfers/{domain}", h.readTransferStatus)
	mux.HandleFunc("PUT /sim/transfers/{account}/{domain}", h.putTransferScript)
	return h.authorize(h.outage(mux))
}

// handler holds the state of one [Handler].
type handler struct {
	sim   *Sim
	token string

	mu   sync.Mutex
	last map[string]string // domain id -> last raw status served
	// outageStatus is answered to every registrar request until
	// outageUntil: a credentials outage or a registrar down.
	outageStatus int
	outageUntil  time.Time
}

// outageRequest is the body of PUT /sim/outage.
type outageRequest struct {
	Status int    `json:"status"`
	For    string `json:"for"`
}

// putOutage serves PUT /sim/outage: from now on, for the given time, every
// registrar request (not /sim/ ones) answers the given status's problem.
func (h *handler) putOutage(w http.ResponseWriter, r *http.Request) {
	var req outageRequest
	err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10)).Decode(&req)
	d, parseErr := time.ParseDuration(req.For)
	if _, known := problems[req.Status]; err != nil || parseErr != nil || !known || d <= 0 {
		writeProblem(w, r, http.StatusBadRequest, `Want {"status": a fault status, "for": a positive Go duration}.`, h.sim.newRequestID(), 0, nil)
		return
	}
	h.mu.Lock()
	h.outageStatus, h.outageUntil = req.Status, time.Now().Add(d)
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// outage answers registrar requests with the outage's problem while one
// lasts.
func (h *handler) outage(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		status, active := h.outageStatus, time.Now().Before(h.outageUntil)
		h.mu.Unlock()
		if active && !strings.HasPrefix(r.URL.Path, "/sim/") {
			writeProblem(w, r, status, "", h.sim.newRequestID(), 0, nil)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// syncResponse is the documented 200 answer of status-sync, keys in the
// documented order.
type syncResponse struct {
	ID                    string  `json:"id"`
	Name                  string  `json:"name"`
	PreviousStatus        string  `json:"previousStatus"`
	NewStatus             string  `json:"newStatus"`
	StatusChanged         bool    `json:"statusChanged"`
	StatusChangedToActive bool    `json:"statusChangedToActive"`
	SyncSuccess           bool    `json:"syncSuccess"`
	Info                  *string `json:"info"`
	Error                 *string `json:"error"`
	RevertAttempted       bool    `json:"revertAttempted"`
	RevertSucceeded       bool    `json:"revertSucceeded"`
	RevertError           *string `json:"revertError"`
	DoubleSyncAttempted   bool    `json:"doubleSyncAttempted"`
	DoubleSyncSucceeded   bool    `json:"doubleSyncSucceeded"`
	DoubleSyncError       *string `json:"doubleSyncError"`
}

// scriptRequest is the body of PUT /sim/domains/{id}.
type scriptRequest struct {
	Name     string   `json:"name"`
	Statuses []string `json:"statuses"`
	Cycle    bool     `json:"cycle"`
}

// authorize answers a 401 problem to requests without the bearer token.
func (h *handler) authorize(next http.Handler) http.Handler {
	want := []byte("Bearer " + h.token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			writeProblem(w, r, http.StatusUnauthorized, "", h.sim.newRequestID(), 0, nil)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// statusSync serves POST /api/v2/domains/{id}/actions/status-sync.
func (h *handler) statusSync(w http.ResponseWriter, r *http.Request) {
	if fieldErrs, ok := emptyBody(w, r); !ok {
		writeProblem(w, r, http.StatusBadRequest, "The request body must be absent or an empty JSON object.", h.sim.newRequestID(), 0, fieldErrs)
		return
	}
	id := r.PathValue("id")
	rd, err := h.sim.read(r.Context(), id)
	if err != nil {
		return // the client gave up during the latency
	}
	w.Header().Set("X-Request-Id", rd.requestID)

	switch rd.step.kind {
	case kindTimeout:
		<-r.Context().Done()
	case kindHTTP:
		writeProblem(w, r, rd.step.status, "", rd.requestID, rd.step.retryAfter, nil)
	case kindGarbage:
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"newStatus":"act`)
	case kindHuge:
		info := strings.Repeat("x", hugeBodyBytes)
		prev := h.previous(id, "")
		writeJSON(w, http.StatusOK, syncResponse{ID: id, Name: rd.name, PreviousStatus: prev, NewStatus: prev, SyncSuccess: true, Info: &info})
	case kindHugeError:
		writeProblem(w, r, rd.step.status, hostileDetail(), rd.requestID, 0, nil)
	case kindStatus:
		if sleepCtx(r.Context(), rd.step.delay) != nil {
			return // the client gave up first
		}
		raw := rd.step.raw
		prev := h.previous(id, raw)
		info := "Domain status unchanged."
		if prev != raw {
			info = "Domain status was updated."
		}
		writeJSON(w, http.StatusOK, syncResponse{
			ID:                    id,
			Name:                  rd.name,
			PreviousStatus:        prev,
			NewStatus:             raw,
			StatusChanged:         prev != raw,
			StatusChangedToActive: prev != raw && raw == string(registrar.StatusActive),
			SyncSuccess:           true,
			Info:                  &info,
		})
	}
}

// previous returns the status last served for the domain, "unknown" at
// first, and records raw as the new one unless raw is empty.
func (h *handler) previous(id, raw string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	prev, ok := h.last[id]
	if !ok {
		prev = string(registrar.StatusUnknown)
	}
	if raw != "" {
		h.last[id] = raw
	}
	return prev
}

// emptyBody reports whether the request body is absent or an empty JSON
// object; for an object with members it also returns one field error each.
func emptyBody(w http.ResponseWriter, r *http.Request) ([]registrar.FieldError, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<10))
	if err != nil {
		return nil, false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, true
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil || members == nil {
		return nil, false
	}
	var fieldErrs []registrar.FieldError
	for _, name := range slices.Sorted(maps.Keys(members)) {
		fieldErrs = append(fieldErrs, registrar.FieldError{
			Pointer: "/" + pointerEscaper.Replace(name),
			Detail:  "`" + name + "` is not accepted.",
			Code:    "unknown_field",
		})
	}
	return fieldErrs, len(fieldErrs) == 0
}

// pointerEscaper escapes a member name for a JSON pointer (RFC 6901).
var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// putScript serves PUT /sim/domains/{id}.
func (h *handler) putScript(w http.ResponseWriter, r *http.Request) {
	var req scriptRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeProblem(w, r, http.StatusBadRequest, "Invalid script: "+err.Error(), h.sim.newRequestID(), 0, nil)
		return
	}
	if err := h.sim.Script(r.PathValue("id"), req.Name, req.Statuses, req.Cycle); err != nil {
		writeProblem(w, r, http.StatusBadRequest, err.Error(), h.sim.newRequestID(), 0, nil)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// getReads serves GET /sim/domains/{id}.
func (h *handler) getReads(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]int{"reads": h.sim.Reads(r.PathValue("id"))})
}

// writeJSON answers v as JSON with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeProblem answers an RFC 7807 problem for one of [problems]. An empty
// detail means the status's usual detail; a positive retryAfter is sent as a
// Retry-After header in whole seconds.
func writeProblem(w http.ResponseWriter, r *http.Request, status int, detail, requestID string, retryAfter time.Duration, fieldErrs []registrar.FieldError) {
	p := problems[status]
	if detail == "" {
		detail = p.detail
	}
	w.Header().Set("X-Request-Id", requestID)
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retryAfter.Seconds()))))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(registrar.Problem{
		Type:      "https://developer.hostup.se/errors/" + p.code,
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    detail,
		Code:      p.code,
		Instance:  r.URL.Path,
		RequestID: requestID,
		Timestamp: time.Now().UTC().Format(registrar.ProblemTimestampLayout),
		Errors:    fieldErrs,
	})
}
