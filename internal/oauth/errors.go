package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxVendorMessage bounds how much of a vendor's own words reach an error.
const MaxVendorMessage = 300

// Error is a grant that got no token: the vendor's answer (Status, the
// OAuth error Code when it named one), or none (Status 0; Timeout when it
// did not come in time). Message is the whole text, secrets redacted:
// it may be returned, logged and stored as it is.
type Error struct {
	Status  int
	Code    string
	Timeout bool
	// Rejected: the vendor refused the credentials themselves; asking
	// again with them cannot succeed. Otherwise the failure is transient.
	Rejected bool
	// RetryAfter is how long the vendor asked to be left alone (0: no ask).
	RetryAfter time.Duration
	Message    string
	// RefreshToken is a refused 2xx answer's refresh_token (a secret,
	// never in Message): the vendor answered it, so the caller keeps it.
	RefreshToken string
}

func (e *Error) Error() string { return e.Message }

// Transient: asking again later may succeed.
func (e *Error) Transient() bool { return !e.Rejected }

// GatewayStatus is the HTTP status that reports e to a caller of the
// gateway: 504 when the vendor did not answer in time, else 502.
func (e *Error) GatewayStatus() int {
	if e.Timeout {
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

// vendorStatusError: the vendor answered, with an error or garbage -> 502.
func vendorStatusError(name string, status int, detail string) *Error {
	return &Error{Status: status,
		Message: fmt.Sprintf("vendor config %q: token endpoint answered HTTP %d: %s", name, status, detail)}
}

// vendorGarbageError: a 2xx that is not a usable token -> 502.
func vendorGarbageError(name string, status int, err error) *Error {
	return &Error{Status: status,
		Message: fmt.Sprintf("vendor config %q: token endpoint answered HTTP %d without a usable token: %v", name, status, err)}
}

// transportError: no answer. 504 when it did not come in time, else 502;
// a dial the guard refused says which address and why, since the
// operator's fix is token_url (or its DNS), not the vendor.
func transportError(name string, err error, red *redactor) *Error {
	var refused *dialRefusedError
	if errors.As(err, &refused) {
		return &Error{Message: fmt.Sprintf("vendor config %q: %s", name,
			red.String(fmt.Sprintf("token_url resolves to %s, %s; the plugin never sends credentials there", refused.addr, refused.class)))}
	}
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()) {
		return &Error{Timeout: true,
			Message: fmt.Sprintf("vendor config %q: token endpoint did not answer in time", name)}
	}
	// The text may name hosts the vendor chose (a certificate's names in
	// an x509 error), which are lower-cased: HostText matches any case.
	return &Error{Message: fmt.Sprintf("vendor config %q: token request failed: %s", name, red.HostText(err.Error()))}
}

// statusFailure reads a vendor's non-2xx answer.
func statusFailure(name string, resp *http.Response, body []byte, red *redactor) *Error {
	e := vendorStatusError(name, resp.StatusCode, vendorErrorDetail(body, red))
	e.Rejected = rejectedCredentials(resp.StatusCode, body)
	e.Code = errorCode(body, red)
	if ra, ok := retryAfter(resp, time.Now()); ok {
		e.RetryAfter = ra
	}
	return e
}

// errorCode is the answer's RFC 6749 5.2 error code when it may be named
// (nameableCode), else "".
func errorCode(body []byte, red *redactor) string {
	var doc struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &doc) != nil || !nameableCode(doc.Error, red) {
		return ""
	}
	return doc.Error
}

// rejectedOAuthErrors are the RFC 6749 5.2 codes that mean the credentials
// themselves were refused: asking again with them cannot succeed.
var rejectedOAuthErrors = map[string]bool{
	"invalid_client": true, "invalid_grant": true, "unauthorized_client": true,
}

// rejectedCredentials: HTTP 401/403, an RFC 6749 error naming the
// credentials (Alation, AgentSync, AlphaSense), or AlertSite's
// "invalid_request - User authentication failed." in errors[].message
// (page 002, which answers a wrong password with a 400).
func rejectedCredentials(status int, body []byte) bool {
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		return true
	}
	var doc struct {
		Error  json.RawMessage `json:"error"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &doc) != nil {
		return false
	}
	var code string
	if json.Unmarshal(doc.Error, &code) == nil && rejectedOAuthErrors[code] {
		return true
	}
	for _, e := range doc.Errors {
		if strings.Contains(strings.ToLower(e.Message), "authentication failed") {
			return true
		}
	}
	return false
}

// vendorErrorDetail extracts the vendor's own explanation from an error body:
// RFC 6749 error/error_description (Alation, AgentSync, AlphaSense),
// AlertSite's errors[].message (page 002), a plain message (model-portfolio),
// or a description of the body when it is none of those.
func vendorErrorDetail(body []byte, red *redactor) string {
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) != nil {
		return describeBody(body)
	}
	for _, extract := range []func(map[string]json.RawMessage) string{oauthError, errorsList, plainMessage} {
		if msg := extract(doc); msg != "" {
			return Clean(withCode(red.String(msg), doc, red))
		}
	}
	return "JSON body without an error field"
}

// withCode: a message withheld whole (a secret's run shows in it, often
// an ordinary word such as "authentication") would hide the OAuth error
// too, and the operator could not tell a wrong secret (invalid_client)
// from anything else. Its error code is put back when it can hold no
// secret: a registered value, or a short token that shares no fragment
// with one.
func withCode(detail string, doc map[string]json.RawMessage, red *redactor) string {
	if detail != withheld {
		return detail
	}
	var code string
	if json.Unmarshal(doc["error"], &code) != nil || !nameableCode(code, red) {
		return detail
	}
	return code + ": " + detail
}

// registeredErrors are the token endpoint's error codes: RFC 6749 5.2,
// RFC 8628 3.5 (device grant), RFC 8693 2.2.2 (token exchange), and
// server_error and temporarily_unavailable (RFC 6749 4.1.2.1, which token
// endpoints answer too). Public words: naming one tells nothing of a
// secret, even one that happens to contain it.
var registeredErrors = map[string]bool{
	"invalid_request": true, "invalid_client": true, "invalid_grant": true, "unauthorized_client": true,
	"unsupported_grant_type": true, "invalid_scope": true,
	"authorization_pending": true, "slow_down": true, "access_denied": true, "expired_token": true,
	"invalid_target": true,
	"server_error":   true, "temporarily_unavailable": true,
}

// maxCodeLen bounds an unregistered code that may be named: a vendor's
// own (invalid_credentials, account_locked), not a sentence.
const maxCodeLen = 40

// nameableCode: registered, or letters and underscores only, short, and
// sharing no fragment with a secret in any case.
func nameableCode(code string, red *redactor) bool {
	if registeredErrors[code] {
		return true
	}
	if code == "" || len(code) > maxCodeLen {
		return false
	}
	for _, c := range code {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && c != '_' {
			return false
		}
	}
	// An encoding of a run of a secret (base64 of it) holds no raw
	// fragment: the redactor, which knows the encodings, must leave it be.
	return !red.sharesFragment(code) && red.String(code) == code
}

func oauthError(doc map[string]json.RawMessage) string {
	var code, desc string
	if json.Unmarshal(doc["error"], &code) != nil || code == "" {
		var nested struct{ Message, Code string }
		if json.Unmarshal(doc["error"], &nested) == nil && nested.Message != "" {
			return strings.TrimSpace(nested.Code + " " + nested.Message)
		}
		return ""
	}
	_ = json.Unmarshal(doc["error_description"], &desc)
	if desc != "" {
		return code + ": " + desc
	}
	return code
}

func errorsList(doc map[string]json.RawMessage) string {
	var list []struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(doc["errors"], &list) != nil {
		return ""
	}
	var msgs []string
	for _, e := range list {
		if e.Message != "" {
			msgs = append(msgs, e.Message)
		}
	}
	return strings.Join(msgs, "; ")
}

func plainMessage(doc map[string]json.RawMessage) string {
	for _, key := range []string{"message", "error_message", "detail"} {
		var msg string
		if json.Unmarshal(doc[key], &msg) == nil && msg != "" {
			return msg
		}
	}
	return ""
}

// Clean keeps a vendor message to one printable line of bounded length.
// strings.Map leaves valid UTF-8 (an invalid byte becomes U+FFFD), and the
// cut backs up to the start of a rune so that it stays valid: a vendor's
// accented or CJK message must not end in half a character, which JSON
// encoders downstream would turn into U+FFFD or refuse.
func Clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, s)
	if len(s) > MaxVendorMessage {
		cut := MaxVendorMessage
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}
