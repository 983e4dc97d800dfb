package api

import (
	"encoding/json"
	"net/http"
)

// Error codes of the JSON error body.
const (
	codeBadRequest       = "bad_request"
	codeUnauthorized     = "unauthorized"
	codeForbidden        = "forbidden"
	codeNotFound         = "not_found"
	codeMethodNotAllowed = "method_not_allowed"
	codeConflict         = "conflict"
	codeUnprocessable    = "unprocessable"
	codeTooLarge         = "payload_too_large"
	codeMediaType        = "unsupported_media_type"
	codeMisdirected      = "misdirected_request"
	codeInternal         = "internal"
	codeNotImplemented   = "not_implemented"
	codeUnavailable      = "unavailable"
)

// errorBody is the JSON body of every error response:
// {"error":{"code":"...","message":"..."}}, with "diagnostics" added when
// a request body was refused for what it says.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code        string       `json:"code"`
	Message     string       `json:"message"`
	Diagnostics []diagnostic `json:"diagnostics,omitempty"`
}

// diagnostic is one problem in a request body: the field as a JSON path
// (`plugins[0].window`; "" for the document as a whole), what is wrong, and
// the byte offset in the body where it is, when known.
type diagnostic struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	Offset  *int   `json:"offset,omitempty"`
}

// setHeaders sets the headers every API response carries.
func setHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

// writeJSON writes v as the JSON body with status. Everything is encoded
// before the status is sent, so an encoding failure can still become a 500.
func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.log.Error("encode response", "error", err)
		writeError(w, http.StatusInternalServerError, codeInternal, "internal error: could not encode the response")
		return
	}
	setHeaders(w)
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// writeError writes the JSON error body.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeErrorDetail(w, status, errorDetail{Code: code, Message: msg})
}

// writeErrorDetail writes the JSON error body with its diagnostics.
func writeErrorDetail(w http.ResponseWriter, status int, e errorDetail) {
	b, _ := json.Marshal(errorBody{Error: e}) // cannot fail: strings and ints
	setHeaders(w)
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// internalError logs err with the request and answers a 500 that does not
// leak the store's internals to the client.
func (s *Server) internalError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		// The client went away; nobody reads the answer.
		s.log.Debug("request canceled", "method", r.Method, "path", r.URL.Path, "error", err)
		return
	}
	s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	writeError(w, http.StatusInternalServerError, codeInternal, "internal error; see the host log")
}
