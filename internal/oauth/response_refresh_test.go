package oauth

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/testkit"
)

// TestParseTokenResponseRefreshToken: a user-delegated answer's
// refresh_token is kept (RFC 6749 5.1), absent or null is none, and one
// that could not be sent back as it is (RFC 6749 A.17 1*VSCHAR) is set
// aside with the reason, without quoting it: the access token still
// parses (a machine-to-machine grant never sends the refresh token back),
// and only a grant that keeps it refuses the answer (TestMalformedRefreshToken).
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
		if err != nil || got.AccessToken != "at" || got.RefreshToken != c.want {
			t.Errorf("refresh_token %#v: %+v, %v", c.refresh, got, err)
			continue
		}
		bad := got.RefreshTokenErr
		switch {
		case c.err != "" && (bad == nil || !strings.Contains(bad.Error(), c.err) || strings.Contains(bad.Error(), testkit.SecretPart)):
			t.Errorf("refresh_token %#v: reason %v, want %q", c.refresh, bad, c.err)
		case c.err == "" && bad != nil:
			t.Errorf("refresh_token %#v: reason %v, want none", c.refresh, bad)
		}
	}
}

// TestMalformedRefreshToken: an answer whose refresh_token could not be
// sent back fails the grants that keep it (authorization_code, the device
// flow's approval), and costs a client_credentials grant nothing.
func TestMalformedRefreshToken(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	body := testkit.AnswerBody(t, map[string]interface{}{"access_token": "at", "expires_in": 3600, "refresh_token": 42})
	for grant, wantErr := range map[string]bool{
		GrantClientCredentials: false, GrantAuthorizationCode: true, GrantDeviceCode: true,
	} {
		cfg := &Config{Name: "v", GrantType: grant, DefaultTTL: time.Hour,
			TokenField: "access_token", ExpiresInField: "expires_in", TokenTypeField: "token_type"}
		resp := &http.Response{StatusCode: 200, Header: http.Header{}}
		tok, err := tokenOf(cfg, resp, body, nil, now, now, newRedactor(cfg))
		switch {
		case wantErr && (err == nil || !strings.Contains(err.Error(), "refresh_token")):
			t.Errorf("%s: %v, %v; want the answer refused naming refresh_token", grant, tok, err)
		case !wantErr && (err != nil || tok.AccessToken != "at" || tok.RefreshToken != ""):
			t.Errorf("%s: %+v, %v; want the access token, no refresh token", grant, tok, err)
		}
	}
}
