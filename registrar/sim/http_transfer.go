package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"

	"github.com/regsync/regsync/registrar"
)

// transferStatusResponse is the answer of a transfer status read in
// Hostway's wire format, as the hostway adapter reads it.
type transferStatusResponse struct {
	DomainName string `json:"domainName"`
	StatusCode int    `json:"statusCode"`
	Status     string `json:"status"`
	CanBeReset bool   `json:"canBeReset"`
}

// transferScriptRequest is the body of PUT /sim/transfers/{account}/{domain}.
type transferScriptRequest struct {
	Owner    string   `json:"owner"`
	Resets   []string `json:"resets"`
	Statuses []string `json:"statuses"`
}

// pathTransfer is the transfer a request's path names.
func pathTransfer(r *http.Request) registrar.Transfer {
	return registrar.Transfer{Account: r.PathValue("account"), DomainName: r.PathValue("domain")}
}

// resetTransfer serves PUT /accounts/{account}/domains/transfers/{domain}.
func (h *handler) resetTransfer(w http.ResponseWriter, r *http.Request) {
	authInfo, ok := resetBody(w, r)
	if !ok {
		writeBadRequest404(w, h.sim.newRequestID())
		return
	}
	t := pathTransfer(r)
	st, requestID, err := h.sim.reset(r.Context(), t, authInfo, "reset transfer of "+describeTransfer(t))
	if err != nil {
		return // the client gave up during the latency
	}
	writeTransferStep(w, r, t, st, requestID)
}

// resetBody returns the authInfo of a reset's body, empty when the body is
// absent or has none. It reports false for a body that is not a JSON object
// or whose authInfo is present but not a non-empty string.
func resetBody(w http.ResponseWriter, r *http.Request) (string, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<10))
	if err != nil {
		return "", false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return "", true
	}
	var req struct {
		AuthInfo *string `json:"authInfo"`
	}
	if bytes.TrimSpace(body)[0] != '{' || json.Unmarshal(body, &req) != nil {
		return "", false
	}
	if req.AuthInfo == nil {
		return "", true
	}
	return *req.AuthInfo, *req.AuthInfo != ""
}

// readTransferStatus serves GET /accounts/{account}/domains/transfers/{domain}.
func (h *handler) readTransferStatus(w http.ResponseWriter, r *http.Request) {
	t := pathTransfer(r)
	st, requestID, err := h.sim.readTransfer(r.Context(), t, "read transfer status of "+describeTransfer(t))
	if err != nil {
		return // the client gave up during the latency
	}
	writeTransferStep(w, r, t, st, requestID)
}

// writeTransferStep answers st in Hostway's wire format: a status entry as a
// 200 JSON object, any other answer as its status with no body.
func writeTransferStep(w http.ResponseWriter, r *http.Request, t registrar.Transfer, st transferStep, requestID string) {
	switch {
	case st.timeout:
		<-r.Context().Done()
		return
	case st.bad404:
		writeBadRequest404(w, requestID)
		return
	}
	w.Header().Set("X-Request-Id", requestID)
	if st.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(st.retryAfter.Seconds()))))
	}
	if st.state != "" {
		status := transferStatus(st, requestID)
		writeJSON(w, http.StatusOK, transferStatusResponse{
			DomainName: t.DomainName,
			StatusCode: status.Code,
			Status:     status.Description,
			CanBeReset: status.CanBeReset,
		})
		return
	}
	w.WriteHeader(st.status)
}

// writeBadRequest404 answers the invalid request of Hostway's API page with
// the status line it documents, "404 Bad Request", which net/http cannot
// write: the connection is taken over to write it and then closed. Where it
// cannot be taken over (HTTP/2), the answer is a plain 400.
func writeBadRequest404(w http.ResponseWriter, requestID string) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		w.Header().Set("X-Request-Id", requestID)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = fmt.Fprintf(buf, "HTTP/1.1 404 Bad Request\r\nX-Request-Id: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", requestID)
	_ = buf.Flush()
}

// putTransferScript serves PUT /sim/transfers/{account}/{domain}.
func (h *handler) putTransferScript(w http.ResponseWriter, r *http.Request) {
	var req transferScriptRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeProblem(w, r, http.StatusBadRequest, "Invalid transfer script: "+err.Error(), h.sim.newRequestID(), 0, nil)
		return
	}
	if err := h.sim.ScriptTransfer(pathTransfer(r), req.Owner, req.Resets, req.Statuses); err != nil {
		writeProblem(w, r, http.StatusBadRequest, err.Error(), h.sim.newRequestID(), 0, nil)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
