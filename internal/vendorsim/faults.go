package vendorsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// hugeBodySize is FaultHuge's body size: far above any sane response cap.
const hugeBodySize = 8 << 20

// serveFault answers a token request with plan.fault instead of the
// vendor's normal behaviour. No fault here issues a token.
func (s *Sim) serveFault(w http.ResponseWriter, r *http.Request, spec *vendorSpec, plan tokenPlan, body []byte) {
	k := plan.knobs
	switch plan.fault {
	case FaultStatus:
		spec.writeError(w, errorForStatus(orDefault(k.Status, http.StatusUnauthorized)))
	case FaultHTML:
		writeHTML(w, orDefault(k.Status, http.StatusServiceUnavailable))
	case FaultEmpty:
		writeRaw(w, http.StatusOK, "application/json", nil)
	case FaultInvalidJSON:
		writeRaw(w, http.StatusOK, "application/json", []byte(`{"`+spec.tokenField+`":"truncated`))
	case FaultNoToken:
		writeRaw(w, http.StatusOK, "application/json", encodeObject(dropMember(spec.fakeSuccess(k), spec.tokenField)))
	case FaultNonStringToken:
		ms := replaceMember(spec.fakeSuccess(k), spec.tokenField, spec.nonStringToken)
		writeRaw(w, http.StatusOK, "application/json", encodeObject(ms))
	case FaultHuge:
		writeRaw(w, http.StatusOK, "application/json", spec.hugeBody())
	case FaultEcho:
		spec.writeError(w, apiError{status: http.StatusBadRequest, code: "invalid_request", desc: echoRequest(r, body)})
	case FaultHang:
		hang(w, r, spec, plan.release)
	case FaultRateLimit:
		spec.writeError(w, rateLimited(k.RetryAfter))
	case FaultRedirect:
		redirectAway(w, spec, k.RedirectTo)
	default:
		http.Error(w, fmt.Sprintf("vendorsim: unknown fault %q", plan.fault), http.StatusInternalServerError)
	}
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// fakeSuccess is a success body around a token the sim never issued.
func (spec *vendorSpec) fakeSuccess(k Knobs) []member {
	return spec.successMembers("sim-unissued-"+mintHex(mintInput{}), k.Lifetime, "")
}

// writeHTML is what a load balancer or gateway answers when the vendor's
// backend is down: not the vendor's JSON, not even JSON.
func writeHTML(w http.ResponseWriter, status int) {
	title := fmt.Sprintf("%d %s", status, http.StatusText(status))
	page := "<html>\r\n<head><title>" + title + "</title></head>\r\n<body>\r\n<center><h1>" + title +
		"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
	writeRaw(w, status, "text/html; charset=utf-8", []byte(page))
}

// hugeBody is valid JSON of exactly hugeBodySize bytes: padding first, a
// token-shaped (never issued) value last, so a reader that stops at a sane
// cap sees no token and one that reads everything "succeeds" with a token
// the API will reject.
func (spec *vendorSpec) hugeBody() []byte {
	head := `{"padding":"`
	tail := `","` + spec.tokenField + `":"sim-huge-unissued-token"}`
	var b bytes.Buffer
	b.Grow(hugeBodySize)
	b.WriteString(head)
	b.Write(bytes.Repeat([]byte{'x'}, hugeBodySize-len(head)-len(tail)))
	b.WriteString(tail)
	return b.Bytes()
}

// echoed is what FaultEcho reflects: everything a careless plugin might
// copy into an error message or a log, secrets included. The body comes
// first so that its secrets fall inside any prefix a plugin keeps of a
// vendor message.
type echoed struct {
	Body    string              `json:"body"`
	Form    map[string][]string `json:"form"`
	Headers map[string][]string `json:"headers"`
	Method  string              `json:"method"`
	URI     string              `json:"uri"`
	Host    string              `json:"host"`
}

// echoRequest JSON-encodes the request for FaultEcho's error description.
func echoRequest(r *http.Request, body []byte) string {
	form, _ := url.ParseQuery(string(body))
	b, _ := json.Marshal(echoed{
		Method: r.Method, URI: r.RequestURI, Host: r.Host,
		Headers: r.Header, Body: string(body), Form: form,
	})
	return string(b)
}

// hang holds the request until the client gives up (or Reset releases it).
func hang(w http.ResponseWriter, r *http.Request, spec *vendorSpec, release <-chan struct{}) {
	select {
	case <-r.Context().Done():
	case <-release:
		spec.writeError(w, errorForStatus(http.StatusServiceUnavailable))
	}
}

// rateLimited is AgentSync's 429 rate_limit_exceeded (004_*.txt); AlphaSense
// documents 429 too (000_*.txt). Retry-After may be seconds or an HTTP date.
func rateLimited(retryAfter string) apiError {
	e := apiError{status: http.StatusTooManyRequests, code: "rate_limit_exceeded", desc: "Too many token requests"}
	if retryAfter != "" {
		e.header = map[string]string{"Retry-After": retryAfter}
	}
	return e
}

// redirectAway answers 307, which preserves method and body: a client that
// follows it would post the credentials to another host.
func redirectAway(w http.ResponseWriter, spec *vendorSpec, to string) {
	if to == "" {
		to = "https://redirect.invalid" + spec.tokenPath
	}
	w.Header().Set("Location", to)
	w.Header().Set("Content-Length", strconv.Itoa(0))
	w.WriteHeader(http.StatusTemporaryRedirect)
}
