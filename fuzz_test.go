package oauthvendor

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// FuzzParseTokenResponse: no input panics, and an accepted answer always
// holds a non-empty token, a Bearer-or-vendor type and a lifetime in range.
// Seeds are the five vendor pages' example answers.
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
	}
	for _, s := range seeds {
		f.Add([]byte(s), "access_token", "expires_in")
		f.Add([]byte(s), "accessToken", "expiresIn")
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte, tokenField, expField string) {
		got, err := parseTokenResponse(body, tokenField, expField, "token_type", now)
		_ = vendorErrorDetail(body, newRedactor(&vendorConfig{ClientSecret: "s"}))
		if err != nil {
			return
		}
		if strings.TrimSpace(got.AccessToken) == "" || got.TokenType == "" {
			t.Fatalf("accepted an empty token or type: %+v", got)
		}
		if got.Lifetime != 0 && (got.Lifetime < minLifetime || got.Lifetime > maxLifetime) {
			t.Fatalf("accepted lifetime %s out of range", got.Lifetime)
		}
	})
}

// FuzzConfigValidate: any write either stores a config that validates, or
// is refused with nothing stored; never a panic.
func FuzzConfigValidate(f *testing.F) {
	f.Add("alphasense", "https://api.alpha-sense.com/auth", "password", "form", "body", "cid", "sec", "u", "p", "key", "x-api-key", "Accept", "application/json", "read", 3600)
	f.Add("", "http://127.0.0.1:9/oauth/token", "client_credentials", "json", "body", "cid", "sec", "", "", "", "", "Accept", "application/json; version=1.0.0", "", 0) // page 001
	f.Add("alertsite", "https://api.alertsite.com/api/v3/access-tokens", "login", "json", "", "", "", "u", "passw0rd", "", "", "", "", "", 0)                           // page 002
	f.Add("alation", "https://acme.alationcloud.com", "", "", "basic", "cid", "sec", "", "", "", "", "", "", "", -1)                                                    // page 003
	f.Add("agentsync", "https://auth.sandbox.agentsync.io/oauth/token", "", "", "", "cid", "sec", "", "", "", "", "X-A", "a\r\nb", "a b", 0)                            // page 004
	f.Fuzz(func(t *testing.T, preset, tokenURL, grant, format, auth, cid, secret, user, pass, key, keyHeader, hName, hValue, scope string, ttl int) {
		env := newTestEnv(t)
		data := map[string]interface{}{
			"preset": preset, "token_url": tokenURL, "grant_type": grant, "body_format": format, "client_auth": auth,
			"client_id": cid, "client_secret": secret, "username": user, "password": pass, "api_key": key,
			"api_key_header": keyHeader, "headers": map[string]interface{}{hName: hValue}, "scopes": scope, "default_ttl": ttl,
		}
		for k, v := range data {
			if v == "" {
				delete(data, k)
			}
		}
		resp, err := env.b.HandleRequest(context.Background(), &logical.Request{
			Operation: logical.CreateOperation, Path: "config/f", Data: data, Storage: env.storage,
		})
		stored, _ := loadConfig(context.Background(), env.storage, "f")
		refused := err != nil || (resp != nil && resp.IsError())
		if refused && stored != nil {
			t.Fatalf("refused write stored a config: %v %v", err, resp)
		}
		if !refused {
			if stored == nil {
				t.Fatal("accepted write stored nothing")
			}
			if verr := validate(stored, stored.effective()); verr != nil {
				t.Fatalf("stored config does not validate: %v", verr)
			}
			if _, cerr := newHTTPClient(stored.effective(), nil); cerr != nil {
				t.Fatalf("stored config cannot build a client: %v", cerr)
			}
		}
	})
}
