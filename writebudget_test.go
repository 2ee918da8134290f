package oauthvendor

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/testkit"
)

// stallingIdP serves OIDC metadata and a token endpoint; either can be
// made to answer nothing until the client gives up (no sleep: the handler
// waits for the request's context).
type stallingIdP struct {
	*httptest.Server
	stallMetadata, stallToken, noMetadata bool
}

func newStallingIdP(t *testing.T, stallMetadata, stallToken, noMetadata bool) *stallingIdP {
	s := &stallingIdP{stallMetadata: stallMetadata, stallToken: stallToken, noMetadata: noMetadata}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			if s.noMetadata {
				http.NotFound(w, r)
				return
			}
			if s.stallMetadata {
				<-r.Context().Done()
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]interface{}{"issuer": s.URL, "token_endpoint": s.URL + "/token",
				"token_endpoint_auth_methods_supported": []string{"client_secret_post"}})
		case "/token":
			if s.stallToken {
				// The body read first: only then does the server notice the
				// client hanging up (and end the request's context).
				_, _ = io.Copy(io.Discard, r.Body)
				<-r.Context().Done()
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"access_token":"budget-token","token_type":"Bearer","expires_in":3600}`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// budgetEnv is a backend whose writes have limit instead of 80 s.
func budgetEnv(t *testing.T, limit time.Duration) *testEnv {
	env := newTestEnv(t)
	env.b.writeLimit = limit
	return env
}

func issuerWrite(srv *stallingIdP) map[string]interface{} {
	// timeout 2s: more than the shortened write limit, so the limit is
	// what ends a stalled step (before the fix, the step ran its timeout).
	return map[string]interface{}{"issuer": srv.URL, "client_id": "c", "client_secret": "s3cret-value",
		"client_auth": "body", "timeout": "2s", "verify": true}
}

// TestWriteLimitEndsDiscovery: discovery that does not answer gets half of
// the write's limit (a verify grant follows) and ends in a 504 that names
// discovery, not in Vault's 500 "context canceled" at 90 s.
func TestWriteLimitEndsDiscovery(t *testing.T) {
	env := budgetEnv(t, 400*time.Millisecond)
	srv := newStallingIdP(t, true, false, false)
	start := time.Now()
	resp, err := env.do(logical.UpdateOperation, "config/x", issuerWrite(srv))
	if codedStatus(err) != http.StatusGatewayTimeout || !strings.Contains(err.Error(), "discovery") ||
		!strings.Contains(err.Error(), "share") || !strings.Contains(err.Error(), "nothing was stored") {
		t.Fatalf("resp %v err %v, want a 504 naming discovery", resp, err)
	}
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Fatalf("the write took %s with a 400ms limit", took)
	}
	if _, err := env.do(logical.ReadOperation, "config/x", nil); codedStatus(err) != http.StatusNotFound {
		t.Fatalf("a write whose discovery ran out stored the config: %v", err)
	}
}

// TestWriteLimitEndsVerifyGrant: a verify grant that does not answer ends
// with the write's limit, in a 504 that names the verify grant.
func TestWriteLimitEndsVerifyGrant(t *testing.T) {
	env := budgetEnv(t, 400*time.Millisecond)
	srv := newStallingIdP(t, false, true, false)
	resp, err := env.do(logical.UpdateOperation, "config/x", issuerWrite(srv))
	if codedStatus(err) != http.StatusGatewayTimeout || !strings.Contains(err.Error(), "the verify grant did not finish") ||
		!strings.Contains(err.Error(), "nothing was stored") {
		t.Fatalf("resp %v err %v, want a 504 naming the verify grant", resp, err)
	}
	if _, err := env.do(logical.ReadOperation, "config/x", nil); codedStatus(err) != http.StatusNotFound {
		t.Fatalf("a write whose verify grant ran out stored the config: %v", err)
	}
}

// TestGivenTokenURLNeedsNoDiscovery: with token_url given, an issuer
// whose metadata cannot be read (none, or too slow) is a warning; the
// write is verified against token_url and stored, and client_auth is not
// checked against a list nobody read. Without token_url it stays a 400.
func TestGivenTokenURLNeedsNoDiscovery(t *testing.T) {
	for _, c := range []struct {
		name        string
		stall, none bool
		why         string
	}{
		{"no metadata", false, true, "no metadata"},
		{"metadata too slow", true, false, "did not finish"},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := budgetEnv(t, 600*time.Millisecond)
			srv := newStallingIdP(t, c.stall, false, c.none)
			data := issuerWrite(srv)
			data["token_url"] = srv.URL + "/token"
			resp, err := env.do(logical.UpdateOperation, "config/x", data)
			if err != nil || resp == nil || resp.IsError() || len(resp.Warnings) != 1 {
				t.Fatalf("resp %v err %v, want the write stored with a warning", resp, err)
			}
			w := resp.Warnings[0]
			if !strings.Contains(w, c.why) || !strings.Contains(w, "client_auth was not checked") || !strings.Contains(w, "token_url given is used") {
				t.Fatalf("warning %q", w)
			}
			if got := env.read("config/x").Data["token_url"]; got != srv.URL+"/token" {
				t.Fatalf("token_url %v", got)
			}
			if tok := env.read("creds/x").Data["access_token"]; tok != "budget-token" {
				t.Fatalf("creds %v", tok)
			}
		})
	}
	env := budgetEnv(t, 600*time.Millisecond)
	srv := newStallingIdP(t, false, false, true)
	resp, err := env.do(logical.UpdateOperation, "config/y", issuerWrite(srv))
	if err != nil || resp == nil || !resp.IsError() || !strings.Contains(resp.Error().Error(), "issuer: no metadata") ||
		!strings.Contains(resp.Error().Error(), "give token_url") {
		t.Fatalf("without token_url: resp %v err %v, want the 400", resp, err)
	}
}

// TestWriteLimitEndsRotateKeyGrant: rotate-key's verifying grant has the
// same limit as a config write's: a vendor that does not answer ends in a
// 504 naming that grant, and the current key keeps signing.
func TestWriteLimitEndsRotateKeyGrant(t *testing.T) {
	env := budgetEnv(t, 400*time.Millisecond)
	srv := newStallingIdP(t, false, true, false)
	_, keyPEM := testkit.RSAKeyPEM(t, 2048, false)
	env.write("config/x", map[string]interface{}{"token_url": srv.URL + "/token", "client_id": "c", "client_auth": "private_key_jwt",
		"private_key": keyPEM, "timeout": "2s", "verify": false})
	kid := env.read("config/x").Data["kid"]
	start := time.Now()
	resp, err := env.do(logical.UpdateOperation, "rotate-key/x", map[string]interface{}{"step": "auto"})
	if codedStatus(err) != http.StatusGatewayTimeout || !strings.Contains(err.Error(), "the grant signed by the new key") ||
		!strings.Contains(err.Error(), "the current key keeps signing") {
		t.Fatalf("resp %v err %v, want a 504 naming the new key's grant", resp, err)
	}
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Fatalf("rotate-key took %s with a 400ms limit", took)
	}
	if got := env.read("config/x").Data["kid"]; got != kid {
		t.Fatalf("kid %v after a rotation that ran out, want %v", got, kid)
	}
}

// TestWriteLimitEndsRotateGrant: rotate/<name>'s grant ends with the
// write's limit (counted from before the lock), in a 504 naming the
// config, not at the config's longer timeout.
func TestWriteLimitEndsRotateGrant(t *testing.T) {
	env := budgetEnv(t, 400*time.Millisecond)
	srv := newStallingIdP(t, false, true, false)
	env.write("config/x", map[string]interface{}{"token_url": srv.URL + "/token", "client_id": "c", "client_secret": "s3cret-value",
		"timeout": "3s", "verify": false})
	start := time.Now()
	_, err := env.do(logical.UpdateOperation, "rotate/x", nil)
	if codedStatus(err) != http.StatusGatewayTimeout || !strings.Contains(err.Error(), `"x"`) {
		t.Fatalf("err %v, want a 504 naming the config", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("rotate took %s with a 400ms limit and a 3s timeout", took)
	}
}
