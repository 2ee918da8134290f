package vendorsim

import (
	"encoding/json"
	"net/http"
)

// apiError is one error answer before it is laid out in a vendor's shape.
type apiError struct {
	status int
	code   string // RFC 6749 / 6750 error code
	desc   string // human text; never contains a credential
	header map[string]string
}

// oauthError is RFC 6749 section 5.2 (AlphaSense, Alation, AgentSync).
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// messageError is the model-portfolio API's plain {"message": ...}.
type messageError struct {
	Message string `json:"message"`
}

// errorList is AlertSite's {"errors":[{"code":400,"message":"..."}]}
// (002_*.txt), where message is "<code> - <text>".
type errorList struct {
	Errors []errorItem `json:"errors"`
}

type errorItem struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// errorBody lays e out in the vendor's error shape.
func (spec *vendorSpec) errorBody(e apiError) any {
	switch spec.errors {
	case shapeMessage:
		return messageError{Message: e.desc}
	case shapeErrorList:
		return errorList{Errors: []errorItem{{Code: e.status, Message: e.code + " - " + e.desc}}}
	default:
		return oauthError{Error: e.code, Description: e.desc}
	}
}

// writeError answers e in the vendor's shape.
func (spec *vendorSpec) writeError(w http.ResponseWriter, e apiError) {
	for k, v := range e.header {
		w.Header().Set(k, v)
	}
	writeJSON(w, e.status, spec.errorBody(e))
}

// statusCodes names the error code a bare status maps to (FaultStatus).
var statusCodes = map[int]string{
	400: "invalid_request",
	401: "invalid_client",
	403: "access_denied",
	404: "not_found",
	405: "invalid_request",
	429: "rate_limit_exceeded",
	503: "temporarily_unavailable",
}

func errorForStatus(status int) apiError {
	code, ok := statusCodes[status]
	if !ok {
		code = "server_error"
		if status < 500 {
			code = "invalid_request"
		}
	}
	return apiError{status: status, code: code, desc: http.StatusText(status)}
}

// writeJSON answers v as JSON. Token endpoint answers must not be cached
// (RFC 6749 section 5.1), and nothing here benefits from caching.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeRaw(w, status, "application/json", body)
}

func writeRaw(w http.ResponseWriter, status int, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func methodNotAllowed() apiError {
	return apiError{status: http.StatusMethodNotAllowed, code: "invalid_request",
		desc: "method not allowed", header: map[string]string{"Allow": http.MethodPost}}
}
