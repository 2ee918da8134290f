package oauthvendor

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// grantFailure is a failed grant as the back-off policy sees it: the error
// readers get, whether the vendor refused the credentials themselves, and
// how long the vendor asked to be left alone.
type grantFailure struct {
	err        error // a CodedError, or a storage error
	rejected   bool
	retryAfter time.Duration
}

func transient(err error) *grantFailure { return &grantFailure{err: err} }

// statusFailure reads a vendor's non-2xx answer.
func (c *connection) statusFailure(resp *http.Response, body []byte) *grantFailure {
	f := &grantFailure{
		err:      vendorStatusError(c.name, resp.StatusCode, vendorErrorDetail(body, c.red)),
		rejected: rejectedCredentials(resp.StatusCode, body),
	}
	if ra, ok := retryAfter(resp, time.Now()); ok {
		f.retryAfter = ra
	}
	return f
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
