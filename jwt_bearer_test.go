package oauthvendor

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
)

// bearerVendor is a token endpoint of the JWT bearer grant (RFC 7523 2.1)
// that knows the config's keys only through jwks/<name>, read through the
// backend as Vault routes a vendor's unauthenticated GET: an assertion
// whose signature does not verify against it is invalid_grant. echo makes
// every answer an error that echoes the whole request.
type bearerVendor struct {
	*httptest.Server
	env  *testEnv
	name string
	echo bool

	mu       sync.Mutex
	requests []*http.Request
	forms    []url.Values
}

func newBearerVendor(t *testing.T, env *testEnv, name string) *bearerVendor {
	v := &bearerVendor{env: env, name: name}
	v.Server = httptest.NewServer(http.HandlerFunc(v.serve))
	t.Cleanup(v.Close)
	return v
}

func (v *bearerVendor) serve(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	v.mu.Lock()
	v.requests = append(v.requests, r)
	v.forms = append(v.forms, r.PostForm)
	n := len(v.forms)
	v.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if v.echo {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant",
			"error_description": fmt.Sprintf("bad request: sig=%s auth=%s %s", signatureOf(r.PostForm.Get("assertion")), r.Header.Get("Authorization"), r.PostForm.Encode())})
		return
	}
	if _, err := v.verify(r.PostForm.Get("assertion")); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": err.Error()})
		return
	}
	fmt.Fprintf(w, `{"access_token":"bearer-token-%d","token_type":"Bearer","expires_in":3600}`, n)
}

// signatureOf is a JWT's signature, the part that makes it a credential;
// echoed first, so that no truncation of the message hides it.
func signatureOf(jwt string) string { return jwt[strings.LastIndexByte(jwt, '.')+1:] }

// verify checks an assertion's signature against jwks/<name> now.
func (v *bearerVendor) verify(assertion string) (*jwt.JSONWebToken, error) {
	tok, err := jwt.ParseSigned(assertion, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.PS256})
	if err != nil {
		return nil, err
	}
	resp, err := v.env.b.HandleRequest(context.Background(), &logical.Request{
		Operation: logical.ReadOperation, Path: jwksPrefix + v.name, Storage: v.env.storage, Unauthenticated: true,
	})
	if err != nil {
		return nil, err
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(resp.Data[logical.HTTPRawBody].([]byte), &set); err != nil {
		return nil, err
	}
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		return nil, fmt.Errorf("unknown kid")
	}
	return tok, tok.Claims(keys[0].Key, &jwt.Claims{})
}

func (v *bearerVendor) form(i int) url.Values {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.forms[i]
}

func (v *bearerVendor) count() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.forms)
}

// TestJWTBearerGrant: two grants of a jwt_bearer config, each an assertion
// the vendor verifies against jwks/<name>, with every claim as configured
// and a jti of its own; no client credentials without a client_secret.
func TestJWTBearerGrant(t *testing.T) {
	env := newTestEnv(t)
	v := newBearerVendor(t, env, "sa")
	tokenURL := v.URL + "/token"
	kid := env.write("config/sa", map[string]interface{}{
		"token_url": tokenURL, "grant_type": "jwt_bearer", "client_id": "svc@example", "subject": "alice@example",
		"assertion_ttl": "20m", "assertion_claims": map[string]interface{}{"box_sub_type": "enterprise"}, "scopes": "read",
	}).Data["kid"].(string)
	if got := env.read("creds/sa").Data["access_token"]; got != "bearer-token-1" {
		t.Fatalf("creds %v", got)
	}
	env.write("rotate/sa", nil)
	if v.count() != 2 {
		t.Fatalf("%d token requests, want 2", v.count())
	}
	set, _ := readJWKS(t, env, "sa")
	jtis := map[string]bool{}
	for i := range 2 {
		form := v.form(i)
		if form.Get("grant_type") != oauth.JWTBearerGrantType || form.Get("scope") != "read" {
			t.Fatalf("form %v", form)
		}
		for _, p := range []string{"client_id", "client_secret", "client_assertion"} {
			if form.Has(p) {
				t.Fatalf("%s sent without a client_secret", p)
			}
		}
		tok, err := jwt.ParseSigned(form.Get("assertion"), []jose.SignatureAlgorithm{jose.RS256})
		if err != nil {
			t.Fatal(err)
		}
		if tok.Headers[0].KeyID != kid || len(set.Key(kid)) != 1 {
			t.Fatalf("kid %q, want the read's %q in the JWKS", tok.Headers[0].KeyID, kid)
		}
		var std jwt.Claims
		extra := map[string]interface{}{}
		if err := tok.Claims(set.Key(kid)[0].Key, &std, &extra); err != nil {
			t.Fatalf("signature: %v", err)
		}
		if std.Issuer != "svc@example" || std.Subject != "alice@example" || len(std.Audience) != 1 || std.Audience[0] != tokenURL {
			t.Fatalf("claims %+v", std)
		}
		if d := std.Expiry.Time().Sub(std.IssuedAt.Time()); d != 20*time.Minute {
			t.Fatalf("exp - iat = %s, want assertion_ttl 20m", d)
		}
		if extra["box_sub_type"] != "enterprise" || std.ID == "" || jtis[std.ID] {
			t.Fatalf("extra claims %v, jti %q (seen: %v)", extra, std.ID, jtis)
		}
		jtis[std.ID] = true
	}
	read := env.read("config/sa").Data
	if read["subject"] != "alice@example" || read["assertion_ttl"] != int64(1200) || read["signing_alg"] != "RS256" {
		t.Fatalf("read %v", read)
	}
	if c, _ := read["assertion_claims"].(map[string]string); c["box_sub_type"] != "enterprise" {
		t.Fatalf("read assertion_claims %v", read["assertion_claims"])
	}
}

// TestJWTBearerClientSecret: with a client_secret the client authenticates
// as client_auth says (basic: the header, not the body) beside the
// assertion, and the default assertion_ttl is 5 minutes.
func TestJWTBearerClientSecret(t *testing.T) {
	env := newTestEnv(t)
	v := newBearerVendor(t, env, "box")
	env.write("config/box", map[string]interface{}{
		"token_url": v.URL + "/token", "grant_type": "jwt_bearer", "client_id": "cid", "client_secret": "box-secret-value", "client_auth": "basic",
	})
	env.read("creds/box")
	form := v.form(0)
	v.mu.Lock()
	user, pass, ok := v.requests[0].BasicAuth()
	v.mu.Unlock()
	if !ok || user != "cid" || pass != "box-secret-value" || form.Has("client_secret") || form.Get("assertion") == "" {
		t.Fatalf("basic %v %q, form %v", ok, user, form)
	}
	if got := env.read("config/box").Data["assertion_ttl"]; got != int64(300) {
		t.Fatalf("default assertion_ttl %v", got)
	}
}

// TestJWTBearerRotateKeyAuto: rotate-key step=auto on a jwt_bearer config
// publishes, verifies against the vendor that reads jwks/<name> and
// switches in one call; the next assertion is signed with the new key.
func TestJWTBearerRotateKeyAuto(t *testing.T) {
	env := newTestEnv(t)
	v := newBearerVendor(t, env, "sa")
	old := env.write("config/sa", map[string]interface{}{
		"token_url": v.URL + "/token", "grant_type": "jwt_bearer", "client_id": "svc", "key_type": "ec",
	}).Data["kid"].(string)
	env.read("creds/sa")
	resp := env.write("rotate-key/sa", nil)
	next, _ := resp.Data["current_kid"].(string)
	if next == "" || next == old {
		t.Fatalf("step=auto answered %v (old kid %s)", resp.Data, old)
	}
	if set, _ := readJWKS(t, env, "sa"); len(set.Keys) != 1 || set.Keys[0].KeyID != next {
		t.Fatalf("jwks after step=auto: %v, want only %s", kidsOf(set), next)
	}
	env.write("rotate/sa", nil)
	last := v.form(v.count() - 1)
	tok, err := v.verify(last.Get("assertion"))
	if err != nil || tok.Headers[0].KeyID != next {
		t.Fatalf("the grant after the switch: %v, kid %v", err, tok)
	}
}

// TestJWTBearerValidation: each refusal is a 400 naming its field (and
// the reserved claim).
func TestJWTBearerValidation(t *testing.T) {
	base := func(extra map[string]interface{}) map[string]interface{} {
		return merged(map[string]interface{}{"token_url": "https://vendor.example/token", "grant_type": "jwt_bearer", "client_id": "svc"}, extra)
	}
	cases := []struct {
		name string
		cfg  map[string]interface{}
		want []string
	}{
		{"ttl above 1h", base(map[string]interface{}{"assertion_ttl": "61m"}), []string{"assertion_ttl", "1h"}},
		{"negative ttl", base(map[string]interface{}{"assertion_ttl": -5}), []string{"assertion_ttl"}},
		{"reserved claim", base(map[string]interface{}{"assertion_claims": map[string]interface{}{"aud": "x"}}), []string{"assertion_claims", `"aud"`}},
		{"reserved jti", base(map[string]interface{}{"assertion_claims": map[string]interface{}{"jti": "x"}}), []string{"assertion_claims", `"jti"`}},
		{"missing token_url", base(map[string]interface{}{"token_url": ""}), []string{"token_url", "required"}},
		{"missing client_id", base(map[string]interface{}{"client_id": ""}), []string{"client_id"}},
		{"second assertion", base(map[string]interface{}{"client_auth": "private_key_jwt"}), []string{"client_auth", "jwt_bearer"}},
		{"basic without secret", base(map[string]interface{}{"client_auth": "basic"}), []string{"client_secret"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := newTestEnv(t)
			resp, err := env.do(logical.UpdateOperation, "config/x", c.cfg)
			if err != nil || resp == nil || !resp.IsError() {
				t.Fatalf("accepted: %v %v", resp, err)
			}
			for _, w := range c.want {
				if !strings.Contains(resp.Error().Error(), w) {
					t.Fatalf("error %q does not name %s", resp.Error(), w)
				}
			}
		})
	}
	env := newTestEnv(t)
	env.write("config/ok", base(map[string]interface{}{"assertion_ttl": "1h"}))
}

// TestJWTBearerAssertionNeverLeaks: a vendor echoing the whole request
// shows neither the assertion nor its signature in the error, the status
// or the logs.
func TestJWTBearerAssertionNeverLeaks(t *testing.T) {
	env := newTestEnv(t)
	v := newBearerVendor(t, env, "sa")
	v.echo = true
	env.write("config/sa", map[string]interface{}{
		// An EC key: its signature (86 characters) fits whole in the
		// truncated message, where a leak would show.
		"token_url": v.URL + "/token", "grant_type": "jwt_bearer", "client_id": "svc", "client_secret": "echoed-secret-value", "key_type": "ec",
	})
	_, err := env.do(logical.ReadOperation, "creds/sa", nil)
	if err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("read: %v", err)
	}
	var secrets []string
	for i := range v.count() {
		a := v.form(i).Get("assertion")
		if a == "" {
			t.Fatal("no assertion sent")
		}
		secrets = append(secrets, a, signatureOf(a))
	}
	secrets = append(secrets, "echoed-secret-value")
	if !strings.Contains(err.Error(), "bad request: ") {
		t.Fatalf("the echo did not reach the error: %v", err)
	}
	assertNoSecret(t, err.Error(), secrets)
	assertNoSecret(t, env.read("status/sa").Data["last_error"].(string), secrets)
	assertNoSecret(t, env.logs.String(), secrets)
}
