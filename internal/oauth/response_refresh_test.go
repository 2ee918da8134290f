package oauth

import (
	"strings"
	"testing"
	"time"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/testkit"
)

// TestParseTokenResponseRefreshToken: a user-delegated answer's
// refresh_token is kept (RFC 6749 5.1), absent or null is none, and one
// that could not be sent back as it is (RFC 6749 A.17 1*VSCHAR) is refused
// without quoting it.
func TestParseTokenResponseRefreshToken(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := Fields{Token: "access_token", ExpiresIn: "expires_in", TokenType: "token_type"}
	for _, c := range []struct {
		refresh interface{}
		want    string
		err     string
	}{
		{"rt-" + testkit.SecretPart, "rt-" + testkit.SecretPart, ""},
		{nil, "", ""},
		{"", "", ""},
		{"rt-" + testkit.SecretPart + "\r\n", "", `"refresh_token" holds a control character (U+000D)`},
		{42, "", `"refresh_token" is a number, not a string`},
	} {
		members := map[string]interface{}{"access_token": "at", "expires_in": 3600}
		if c.refresh != nil {
			members["refresh_token"] = c.refresh
		}
		got, err := ParseTokenResponse(testkit.AnswerBody(t, members), f, now)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), testkit.SecretPart)):
			t.Errorf("refresh_token %#v: error %v, want %q", c.refresh, err, c.err)
		case c.err == "" && (err != nil || got.RefreshToken != c.want):
			t.Errorf("refresh_token %#v: %+v, %v", c.refresh, got, err)
		}
	}
}
