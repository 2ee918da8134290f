package oauthvendor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/vault/sdk/logical"
)

// maxVendorMessage bounds how much of a vendor's own words reach an error.
const maxVendorMessage = 300

// vendorStatusError: the vendor answered, with an error or garbage -> 502.
func vendorStatusError(name string, status int, detail string) error {
	return logical.CodedError(http.StatusBadGateway,
		fmt.Sprintf("vendor config %q: token endpoint answered HTTP %d: %s", name, status, detail))
}

// vendorGarbageError: a 2xx that is not a usable token -> 502.
func vendorGarbageError(name string, status int, err error) error {
	return logical.CodedError(http.StatusBadGateway,
		fmt.Sprintf("vendor config %q: token endpoint answered HTTP %d without a usable token: %v", name, status, err))
}

// transportError: no answer. 504 when it did not come in time, else 502;
// a dial the guard refused says which address and why, since the
// operator's fix is token_url (or its DNS), not the vendor.
func transportError(name string, err error, red *redactor) error {
	var refused *dialRefusedError
	if errors.As(err, &refused) {
		return logical.CodedError(http.StatusBadGateway, fmt.Sprintf("vendor config %q: %s", name,
			red.String(fmt.Sprintf("token_url resolves to %s, %s; the plugin never sends credentials there", refused.addr, refused.class))))
	}
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()) {
		return logical.CodedError(http.StatusGatewayTimeout,
			fmt.Sprintf("vendor config %q: token endpoint did not answer in time", name))
	}
	// The text may name hosts the vendor chose (a certificate's names in
	// an x509 error), which are lower-cased: HostText matches any case.
	return logical.CodedError(http.StatusBadGateway,
		fmt.Sprintf("vendor config %q: token request failed: %s", name, red.HostText(err.Error())))
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
			return clean(withCode(red.String(msg), doc, red))
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

// clean keeps a vendor message to one printable line of bounded length.
// strings.Map leaves valid UTF-8 (an invalid byte becomes U+FFFD), and the
// cut backs up to the start of a rune so that it stays valid: a vendor's
// accented or CJK message must not end in half a character, which JSON
// encoders downstream would turn into U+FFFD or refuse.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, s)
	if len(s) > maxVendorMessage {
		cut := maxVendorMessage
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}
