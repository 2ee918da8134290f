package oauth

import (
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzParseTokenResponse: no input panics, and an accepted answer always
// holds a non-empty printable token within the storage cap, a Bearer-or-
// vendor type of RFC 6749 A.13 characters, and a lifetime in range that
// never outlasts the token's own exp. No error quotes the token, and a
// vendor message is valid UTF-8 of bounded length.
// Seeds are the five vendor pages' example answers, and hostile variants.
func FuzzParseTokenResponse(f *testing.F) {
	seeds := []string{
		`{"access_token": "123456-1234-12...", "token_type": "Bearer", "expires_in": 86400}`, // page 000
		`{"accessTtoken": "x", "expiresIn": 86400, "tokenType": "bearer"}`,                   // page 001, its typo
		`{"accessToken": "x", "expiresIn": 86400, "tokenType": "bearer"}`,
		`{"access_token": "695573df9519132454d3f461179aaaf9"}`,                                                                               // page 002
		`{"errors": [{"code": 400, "message": "invalid_request - User authentication failed."}]}`,                                            // page 002
		`{"access_token": "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjE5MDAwMDAwMDB9.c2ln", "token_type": "Bearer", "expires_in": 3600}`, // page 004
		`{"error": "invalid_token", "error_description": "The access token is expired or invalid"}`,                                          // page 004
		`{"access_token":"x","expires_in":"3600"}`, `{"access_token":"x","expires_in":1e308}`, `<html></html>`, ``,
		`{"access_token":"abcdefghijklmnopqrstuvwxyz\r\nX-Evil: 1","token_type":"Bearer\u2028"}`,
		`{"access_token":"eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjE3NjcyMjU2MDB9.c2ln","expires_in":86400}`, // exp 2026-01-01T00:00:00Z: now
		`{"access_token":"eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjE3NjcyMjU2MTB9.c2ln","expires_in":86400}`, // exp 10 s after now
		`{"error":"invalid_client","error_description":"` + strings.Repeat("日", 120) + `"}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), "access_token", "expires_in")
		f.Add([]byte(s), "accessToken", "expiresIn")
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte, tokenField, expField string) {
		got, err := ParseTokenResponse(body, Fields{Token: tokenField, ExpiresIn: expField, TokenType: "token_type"}, now)
		detail := vendorErrorDetail(body, newRedactor(&Config{ClientSecret: "s"}))
		if !utf8.ValidString(detail) || len(detail) > MaxVendorMessage+len("...") {
			t.Fatalf("vendor message of %d bytes, valid UTF-8 %v", len(detail), utf8.ValidString(detail))
		}
		if err != nil {
			if tok := fuzzToken(body, tokenField); len(tok) >= 24 && !strings.Contains(tok, " ") &&
				!strings.Contains(tokenField+expField+strconv.Quote(tokenField)+strconv.Quote(expField), tok) &&
				strings.Contains(err.Error(), tok) {
				t.Fatalf("error quotes the token: %v", err)
			}
			return
		}
		if strings.TrimSpace(got.AccessToken) == "" || got.TokenType == "" {
			t.Fatalf("accepted an empty token or type: %+v", got)
		}
		if len(got.AccessToken) > maxAccessTokenBytes || len(got.TokenType) > maxTokenTypeBytes {
			t.Fatalf("accepted a token of %d bytes, a type of %d", len(got.AccessToken), len(got.TokenType))
		}
		if _, r, bad := firstInvalid(got.AccessToken, isVSCHAR); bad {
			t.Fatalf("accepted a token holding %U", r)
		}
		if _, r, bad := firstInvalid(got.TokenType, isTokenTypeChar); bad {
			t.Fatalf("accepted a token type holding %U", r)
		}
		if got.Lifetime != 0 && (got.Lifetime < MinLifetime || got.Lifetime > MaxLifetime) {
			t.Fatalf("accepted lifetime %s out of range", got.Lifetime)
		}
		if exp, ok, _ := jwtExpiry(got.AccessToken); ok {
			if got.Lifetime == 0 || got.Lifetime.Seconds() > exp-float64(now.Unix())+1e-6 {
				t.Fatalf("lifetime %s outlasts exp %g", got.Lifetime, exp)
			}
		} else if got.FromJWT {
			t.Fatal("FromJWT without a JWT exp")
		}
	})
}

// fuzzToken is the token member of a body as a string, "" when none.
func fuzzToken(body []byte, field string) string {
	doc, err := decodeObject(body)
	if err != nil {
		return ""
	}
	v, _ := lookup(doc, field)
	s, _ := v.(string)
	return s
}
