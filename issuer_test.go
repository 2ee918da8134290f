package oauthvendor

import (
	"context"
	"encoding/json"
	"errors"
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
	"github.com/hashicorp/vault/sdk/helper/pluginutil"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
)

const testIssuer = "https://vault.example.com/v1/oauthvendor"

// wellKnown reads one of the issuer's documents as Vault routes a
// relying party's GET: no token.
func wellKnown(env *testEnv, path string) (*logical.Response, error) {
	return env.b.HandleRequest(context.Background(), &logical.Request{
		Operation: logical.ReadOperation, Path: path, Storage: env.storage, Unauthenticated: true,
	})
}

func issuerKeys(t *testing.T, env *testEnv) jose.JSONWebKeySet {
	t.Helper()
	resp, err := wellKnown(env, wellKnownKeys)
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(resp.Data[logical.HTTPRawBody].([]byte), &set); err != nil {
		t.Fatal(err)
	}
	return set
}

// relyingParty is a token endpoint that trusts the mount's issuer the way
// Entra ID or Google STS do: it reads the discovery document, checks iss,
// and verifies the assertion (client_assertion, else assertion, else a
// token exchange's subject_token) against the jwks_uri's keys now, and a
// subject_token beside a client assertion too. It answers with the claims
// it saw.
type relyingParty struct {
	*httptest.Server
	env *testEnv

	mu     sync.Mutex
	forms  []url.Values
	claims []jwt.Claims
	kids   []string
	typs   []string
	// subjects are the verified subject tokens' claims, by request.
	subjects []jwt.Claims
}

func newRelyingParty(t *testing.T, env *testEnv) *relyingParty {
	rp := &relyingParty{env: env}
	rp.Server = httptest.NewServer(http.HandlerFunc(rp.serve))
	t.Cleanup(rp.Close)
	return rp
}

func (rp *relyingParty) serve(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	assertion := r.PostForm.Get("client_assertion")
	for _, field := range []string{"assertion", "subject_token"} {
		if assertion == "" {
			assertion = r.PostForm.Get(field)
		}
	}
	claims, tok, err := rp.verify(assertion)
	subject := claims
	if subjectToken := r.PostForm.Get("subject_token"); err == nil && subjectToken != "" && subjectToken != assertion {
		subject, _, err = rp.verify(subjectToken)
	}
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "error_description": err.Error()})
		return
	}
	rp.mu.Lock()
	rp.forms = append(rp.forms, r.PostForm)
	rp.claims = append(rp.claims, claims)
	rp.kids = append(rp.kids, tok.Headers[0].KeyID)
	typ, _ := tok.Headers[0].ExtraHeaders["typ"].(string)
	rp.typs = append(rp.typs, typ)
	rp.subjects = append(rp.subjects, subject)
	n := len(rp.forms)
	rp.mu.Unlock()
	fmt.Fprintf(w, `{"access_token":"federated-%d","token_type":"Bearer","expires_in":3600}`, n)
}

func (rp *relyingParty) verify(assertion string) (jwt.Claims, *jwt.JSONWebToken, error) {
	var claims jwt.Claims
	tok, err := jwt.ParseSigned(assertion, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		return claims, nil, err
	}
	resp, err := wellKnown(rp.env, wellKnownDiscovery)
	if err != nil {
		return claims, nil, err
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(resp.Data[logical.HTTPRawBody].([]byte), &doc); err != nil {
		return claims, nil, err
	}
	if doc.JWKSURI != doc.Issuer+"/.well-known/keys" {
		return claims, nil, fmt.Errorf("jwks_uri %s", doc.JWKSURI)
	}
	resp, err = wellKnown(rp.env, wellKnownKeys)
	if err != nil {
		return claims, nil, err
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(resp.Data[logical.HTTPRawBody].([]byte), &set); err != nil {
		return claims, nil, err
	}
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		return claims, nil, fmt.Errorf("kid %s not in the issuer's JWKS", tok.Headers[0].KeyID)
	}
	if err := tok.Claims(keys[0].Key, &claims); err != nil {
		return claims, nil, err
	}
	if claims.Issuer != doc.Issuer {
		return claims, nil, fmt.Errorf("iss %s, issuer %s", claims.Issuer, doc.Issuer)
	}
	return claims, tok, nil
}

func (rp *relyingParty) last() (url.Values, jwt.Claims, string, string) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	n := len(rp.forms) - 1
	return rp.forms[n], rp.claims[n], rp.kids[n], rp.typs[n]
}

// TestOIDCIssuerDocuments: 404 until oidc/config is set; then the
// discovery document a relying party needs (issuer as written less its
// trailing slash, jwks_uri under it) and a JWKS of public members only,
// as raw JSON with a Cache-Control, the same bytes request after request
// (built once per key version).
func TestOIDCIssuerDocuments(t *testing.T) {
	env := newTestEnv(t)
	for _, p := range []string{wellKnownDiscovery, wellKnownKeys} {
		if _, err := wellKnown(env, p); codedStatus(err) != http.StatusNotFound || !strings.Contains(err.Error(), "oidc/config") {
			t.Fatalf("%s before oidc/config: %v", p, err)
		}
	}
	if resp, err := env.do(logical.ReadOperation, "oidc/config", nil); err != nil || resp != nil {
		t.Fatalf("read before write: %v %v", resp, err)
	}
	written := env.write("oidc/config", map[string]interface{}{"issuer": testIssuer + "/"}).Data
	read := env.read("oidc/config").Data
	if read["issuer"] != testIssuer || read["kid"] != written["kid"] || read["kid"] == "" || read["signing_alg"] != "RS256" ||
		read["jwks_uri"] != testIssuer+"/.well-known/keys" || read["next_kid"] != nil {
		t.Fatalf("read %v", read)
	}
	resp, err := wellKnown(env, wellKnownDiscovery)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Data[logical.HTTPContentType] != "application/json" || resp.Data[logical.HTTPCacheControlHeader] != discoveryCacheControl {
		t.Fatalf("headers %v", resp.Data)
	}
	var doc map[string]interface{}
	if err := json.Unmarshal(resp.Data[logical.HTTPRawBody].([]byte), &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]interface{}{
		"issuer": testIssuer, "jwks_uri": testIssuer + "/.well-known/keys",
		"response_types_supported": []interface{}{"id_token"}, "subject_types_supported": []interface{}{"public"},
		"id_token_signing_alg_values_supported": []interface{}{"RS256", "ES256"},
	}
	for k, v := range want {
		if fmt.Sprint(doc[k]) != fmt.Sprint(v) {
			t.Fatalf("%s = %v, want %v", k, doc[k], v)
		}
	}
	keys, err := wellKnown(env, wellKnownKeys)
	if err != nil {
		t.Fatal(err)
	}
	body := keys.Data[logical.HTTPRawBody].([]byte)
	if keys.Data[logical.HTTPCacheControlHeader] != keysCacheControl || strings.Contains(string(body), `"d"`) || strings.Contains(string(body), `"p"`) {
		t.Fatalf("keys %s %v", body, keys.Data[logical.HTTPCacheControlHeader])
	}
	set := issuerKeys(t, env)
	if len(set.Keys) != 1 || set.Keys[0].KeyID != read["kid"] || set.Keys[0].Algorithm != "RS256" || set.Keys[0].Use != "sig" || !set.Keys[0].IsPublic() {
		t.Fatalf("JWKS %+v", set.Keys)
	}
	again, _ := wellKnown(env, wellKnownKeys)
	if &again.Data[logical.HTTPRawBody].([]byte)[0] != &body[0] {
		t.Fatal("the JWKS was built again for the same key version")
	}
}

// TestOIDCConfigRefusals: a bad issuer or step is a 400 naming the field,
// and nothing is stored.
func TestOIDCConfigRefusals(t *testing.T) {
	env := newTestEnv(t)
	if resp, _ := env.do(logical.UpdateOperation, "oidc/rotate-key", nil); resp == nil || !strings.Contains(resp.Error().Error(), "oidc/config") {
		t.Fatalf("rotate before config: %v", resp)
	}
	for issuer, want := range map[string]string{
		"": "issuer: required",
		"http://vault.example.com/v1/oauthvendor": "must be https",
		testIssuer + "?x=1":                       "query or fragment",
		testIssuer + "#frag":                      "query or fragment",
		"vault.example.com/v1/oauthvendor":        "absolute URL",
	} {
		resp, err := env.do(logical.UpdateOperation, "oidc/config", map[string]interface{}{"issuer": issuer})
		if err != nil || resp == nil || !resp.IsError() || !strings.Contains(resp.Error().Error(), want) {
			t.Fatalf("issuer %q: %v %v, want %q", issuer, resp, err, want)
		}
	}
	if resp, _ := env.do(logical.ReadOperation, "oidc/config", nil); resp != nil {
		t.Fatalf("a refused write stored %v", resp.Data)
	}
	env.write("oidc/config", map[string]interface{}{"issuer": "http://127.0.0.1:8200/v1/oauthvendor"}) // loopback may be http
	refusals := []struct {
		path string
		data map[string]interface{}
		want string
	}{
		{"oidc/config", map[string]interface{}{"key_type": "ec"}, "oidc/rotate-key key_type=ec"},
		{"oidc/rotate-key", map[string]interface{}{"step": "switch"}, "no next key"},
		{"oidc/rotate-key", map[string]interface{}{"step": "cancel"}, "no next key"},
		{"oidc/rotate-key", map[string]interface{}{"step": "switch", "key_type": "ec"}, "key_type: step=switch makes no key"},
	}
	for _, r := range refusals {
		resp, err := env.do(logical.UpdateOperation, r.path, r.data)
		if err != nil || resp == nil || !resp.IsError() || !strings.Contains(resp.Error().Error(), r.want) {
			t.Fatalf("%s %v: %v %v, want %q", r.path, r.data, resp, err, r.want)
		}
	}
	env.write("oidc/rotate-key", nil)
	if resp, _ := env.do(logical.UpdateOperation, "oidc/rotate-key", map[string]interface{}{"step": "publish"}); resp == nil || !strings.Contains(resp.Error().Error(), "already published") {
		t.Fatalf("second publish: %v", resp)
	}
}

// entraConfig is an Entra ID federated identity credential's config:
// private_key_jwt whose client assertion is the issuer's JWT.
func entraConfig(tokenURL string) map[string]interface{} {
	return map[string]interface{}{
		"token_url": tokenURL, "client_id": "00000000-app", "client_auth": "private_key_jwt",
		"assertion_source": "issuer", "assertion_audience": "api://AzureADTokenExchange", "scopes": "https://graph.microsoft.com/.default",
	}
}

// TestIssuerClientAssertion: with assertion_source=issuer the client
// assertion is the issuer's JWT (iss the issuer, sub oauthvendor:<name>,
// aud as configured, kid the issuer key's, typ JWT, two minutes), beside
// client_id; the config has no key of its own (no jwks/<name>, no
// rotate-key/<name>).
func TestIssuerClientAssertion(t *testing.T) {
	env := newTestEnv(t)
	rp := newRelyingParty(t, env)
	kid := env.write("oidc/config", map[string]interface{}{"issuer": testIssuer}).Data["kid"]
	resp := env.write("config/entra", entraConfig(rp.URL+"/token"))
	if resp != nil && resp.Data["kid"] != nil {
		t.Fatalf("a key was generated: %v", resp.Data)
	}
	if got := env.read("creds/entra").Data["access_token"]; got != "federated-1" {
		t.Fatalf("creds %v", got)
	}
	form, claims, gotKid, typ := rp.last()
	if form.Get("client_id") != "00000000-app" || form.Get("client_assertion_type") != oauth.JWTBearerAssertion || form.Has("client_secret") {
		t.Fatalf("form %v", form)
	}
	if claims.Issuer != testIssuer || claims.Subject != "oauthvendor:entra" || len(claims.Audience) != 1 || claims.Audience[0] != "api://AzureADTokenExchange" {
		t.Fatalf("claims %+v", claims)
	}
	if gotKid != kid || typ != "JWT" || claims.Expiry.Time().Sub(claims.IssuedAt.Time()) != 2*time.Minute || claims.ID == "" {
		t.Fatalf("kid %s (issuer's %s), typ %q, claims %+v", gotKid, kid, typ, claims)
	}
	if !claims.IssuedAt.Time().Equal(env.clock.Now()) {
		t.Fatalf("iat %v, clock %v", claims.IssuedAt.Time(), env.clock.Now())
	}
	read := env.read("config/entra").Data
	if read["assertion_source"] != "issuer" || read["private_key_set"] != false || read["kid"] != nil {
		t.Fatalf("read %v", read)
	}
	if _, err := wellKnown(env, "jwks/entra"); codedStatus(err) != http.StatusNotFound || !strings.Contains(err.Error(), ".well-known/keys") {
		t.Fatalf("jwks/entra: %v", err)
	}
	if r, _ := env.do(logical.UpdateOperation, "rotate-key/entra", nil); r == nil || !strings.Contains(r.Error().Error(), "oidc/rotate-key") {
		t.Fatalf("rotate-key/entra: %v", r)
	}
}

// TestIssuerJWTBearerAssertion: jwt_bearer's assertion from the issuer:
// sub the subject written, aud the token URL by default, exp - iat the
// assertion_ttl, extra claims kept.
func TestIssuerJWTBearerAssertion(t *testing.T) {
	env := newTestEnv(t)
	rp := newRelyingParty(t, env)
	env.write("oidc/config", map[string]interface{}{"issuer": testIssuer, "key_type": "ec"})
	env.write("config/dbx", map[string]interface{}{
		"token_url": rp.URL + "/oidc/v1/token", "grant_type": "jwt_bearer", "assertion_source": "issuer",
		"subject": "sp-databricks", "assertion_ttl": "10m", "assertion_claims": map[string]interface{}{"tenant": "t1"},
	})
	env.read("creds/dbx")
	form, claims, _, _ := rp.last()
	if form.Get("grant_type") != oauth.JWTBearerGrantType || form.Has("client_assertion") {
		t.Fatalf("form %v", form)
	}
	if claims.Issuer != testIssuer || claims.Subject != "sp-databricks" || claims.Audience[0] != rp.URL+"/oidc/v1/token" ||
		claims.Expiry.Time().Sub(claims.IssuedAt.Time()) != 10*time.Minute {
		t.Fatalf("claims %+v", claims)
	}
	tok, _ := jwt.ParseSigned(form.Get("assertion"), []jose.SignatureAlgorithm{jose.ES256})
	extra := map[string]interface{}{}
	if tok == nil || tok.UnsafeClaimsWithoutVerification(&extra) != nil || extra["tenant"] != "t1" || tok.Headers[0].Algorithm != "ES256" {
		t.Fatalf("assertion %v %v", tok, extra)
	}
}

// TestIssuerRotation: publish puts the next key in the JWKS while the
// current one keeps signing; switch makes it sign at the configs' next
// assertion, with no config write, and keeps the old key published until
// its assertions have expired; auto does both. The key that signs is in
// the JWKS at every step.
func TestIssuerRotation(t *testing.T) {
	env := newTestEnv(t)
	rp := newRelyingParty(t, env)
	first := env.write("oidc/config", map[string]interface{}{"issuer": testIssuer}).Data["kid"].(string)
	env.write("config/entra", entraConfig(rp.URL+"/token"))
	grantKid := func() string {
		t.Helper()
		env.write("rotate/entra", nil)
		_, _, kid, _ := rp.last()
		if got := kidsOf(issuerKeys(t, env)); !strings.Contains(strings.Join(got, " "), kid) {
			t.Fatalf("signing kid %s not in the JWKS %v", kid, got)
		}
		return kid
	}
	if grantKid() != first {
		t.Fatal("not signed by the first key")
	}
	next := env.write("oidc/rotate-key", map[string]interface{}{"step": "publish", "key_type": "ec"}).Data["next_kid"].(string)
	if got := kidsOf(issuerKeys(t, env)); len(got) != 2 || got[0] != first || got[1] != next {
		t.Fatalf("after publish %v", got)
	}
	if grantKid() != first {
		t.Fatal("the published key signed before the switch")
	}
	resp := env.write("oidc/rotate-key", map[string]interface{}{"step": "switch"}).Data
	if resp["kid"] != next || resp["next_kid"] != nil || resp["signing_alg"] != "ES256" {
		t.Fatalf("switch %v", resp)
	}
	if grantKid() != next {
		t.Fatal("the configs did not see the switch")
	}
	if got := kidsOf(issuerKeys(t, env)); len(got) != 2 || got[0] != next || got[1] != first {
		t.Fatalf("after switch %v: the old key must stay published", got)
	}
	env.clock.Advance(retiredKeyKept - time.Second)
	if got := kidsOf(issuerKeys(t, env)); len(got) != 2 {
		t.Fatalf("old key dropped early: %v", got)
	}
	env.clock.Advance(2 * time.Second)
	if got := kidsOf(issuerKeys(t, env)); len(got) != 1 || got[0] != next {
		t.Fatalf("old key still published after %s: %v", retiredKeyKept, got)
	}
	third := env.write("oidc/rotate-key", map[string]interface{}{"step": "auto"}).Data["kid"].(string)
	if third == next || grantKid() != third {
		t.Fatalf("auto: kid %s", third)
	}
	env.write("oidc/rotate-key", nil)
	env.write("oidc/rotate-key", map[string]interface{}{"step": "cancel"})
	if got := kidsOf(issuerKeys(t, env)); len(got) != 2 || got[0] != third {
		t.Fatalf("after cancel %v (third and the retired second)", got)
	}
}

// TestAssertionSourceRefusals: what a config with another assertion
// source cannot be, each a 400 naming the field; a key config switched to
// the issuer loses its own key.
func TestAssertionSourceRefusals(t *testing.T) {
	env := newTestEnv(t)
	base := entraConfig("https://login.example.com/token")
	with := func(extra map[string]interface{}) map[string]interface{} {
		out := map[string]interface{}{}
		for k, v := range base {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	expectRefused := func(data map[string]interface{}, want string) {
		t.Helper()
		resp, err := env.do(logical.UpdateOperation, "config/x", data)
		if err != nil || resp == nil || !resp.IsError() || !strings.Contains(resp.Error().Error(), want) {
			t.Fatalf("%v: %v %v, want %q", data, resp, err, want)
		}
	}
	expectRefused(base, "write oidc/config issuer=")
	env.write("oidc/config", map[string]interface{}{"issuer": testIssuer})
	expectRefused(with(map[string]interface{}{"client_auth": "body", "client_secret": "s"}), "assertion_source: issuer supplies private_key_jwt's client assertion")
	expectRefused(with(map[string]interface{}{"private_key": testKeyPEM(t)}), "private_key: a config with assertion_source=issuer has no key of its own")
	expectRefused(with(map[string]interface{}{"assertion_source": "nope"}), "assertion_source")
	expectRefused(with(map[string]interface{}{"assertion_source": "vault_identity"}), "identity_token_audience: required")
	expectRefused(with(map[string]interface{}{"assertion_source": "vault_identity", "identity_token_audience": "a", "identity_token_ttl": "2h"}), "identity_token_ttl")

	kid := env.write("config/k", map[string]interface{}{"token_url": "https://login.example.com/token", "client_id": "c", "client_auth": "private_key_jwt"}).Data["kid"].(string)
	resp := env.write("config/k", map[string]interface{}{"assertion_source": "issuer"})
	if resp == nil || !strings.Contains(strings.Join(resp.Warnings, " "), "kid "+kid+") was discarded") {
		t.Fatalf("warnings %v", resp)
	}
	read := env.read("config/k").Data
	if read["private_key_set"] != false || read["kid"] != nil {
		t.Fatalf("read %v", read)
	}
	raw, _ := loadConfig(context.Background(), env.storage, "k")
	if raw.PrivateKey != "" || raw.KeyType != "" {
		t.Fatal("the stored key was kept")
	}
}

// testKeyPEM is a fresh EC key.
func testKeyPEM(t *testing.T) string {
	t.Helper()
	k, err := oauth.GenerateKey(keyEC)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// identitySys is a SystemView whose GenerateIdentityToken answers as
// scripted, and remembers what it was asked.
type identitySys struct {
	logical.SystemView
	mu    sync.Mutex
	err   error
	token string
	asked []pluginutil.IdentityTokenRequest
}

func (s *identitySys) GenerateIdentityToken(_ context.Context, req *pluginutil.IdentityTokenRequest) (*pluginutil.IdentityTokenResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, *req)
	if s.err != nil {
		return nil, s.err
	}
	return &pluginutil.IdentityTokenResponse{Token: pluginutil.IdentityToken(s.token), TTL: req.TTL}, nil
}

// TestVaultIdentityCommunity: community Vault's refusal, as text after
// the gRPC hop, makes the write a 400 saying it needs Vault Enterprise;
// any other refusal a 400 quoting Vault. Nothing is stored.
func TestVaultIdentityCommunity(t *testing.T) {
	sys := &identitySys{}
	env := newTestEnvSys(t, &logical.InmemStorage{}, newFakeClock(), func(s *logical.StaticSystemView) logical.SystemView {
		sys.SystemView = s
		return sys
	})
	data := map[string]interface{}{
		"token_url": "https://login.example.com/token", "client_id": "c", "client_auth": "private_key_jwt",
		"assertion_source": "vault_identity", "identity_token_audience": "api://AzureADTokenExchange",
	}
	for text, want := range map[string]string{
		// What community Vault 1.21 answers an external plugin (seen in the e2e suite).
		"rpc error: code = Internal desc = failed to generate plugin identity token: plugin workload identity not supported in Vault community edition": "needs Vault Enterprise (plugin identity tokens; this Vault says: failed to generate plugin identity token: plugin workload identity not supported in Vault community edition)",
		"no key named \"default\"": "Vault did not mint a plugin identity token: no key named",
		// A server without the call (OpenBao): gRPC's Unimplemented.
		"rpc error: code = Unimplemented desc = unknown method GenerateIdentityToken for service pb.SystemView": "needs Vault Enterprise",
	} {
		sys.err = errors.New(text)
		resp, err := env.do(logical.UpdateOperation, "config/wif", data)
		if err != nil || resp == nil || !resp.IsError() || !strings.Contains(resp.Error().Error(), want) || !strings.Contains(resp.Error().Error(), "assertion_source") {
			t.Fatalf("%q: %v %v, want %q", text, resp, err, want)
		}
		if r, _ := env.do(logical.ReadOperation, "config/wif", nil); r != nil {
			t.Fatal("a refused write was stored")
		}
	}
	if len(sys.asked) != 3 || sys.asked[0].Audience != "api://AzureADTokenExchange" || sys.asked[0].TTL != defaultIdentityTokenTTL {
		t.Fatalf("asked %+v", sys.asked)
	}
}

// newIdentityEnv is a backend on Vault "Enterprise" whose plugin identity
// token is token, and a token endpoint that answers every request with a
// token and keeps its forms.
func newIdentityEnv(t *testing.T, clock *fakeClock, token string) (*testEnv, *identitySys, *formServer) {
	sys := &identitySys{token: token}
	env := newTestEnvSys(t, &logical.InmemStorage{}, clock, func(s *logical.StaticSystemView) logical.SystemView {
		sys.SystemView = s
		return sys
	})
	srv := &formServer{}
	srv.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		srv.mu.Lock()
		srv.forms = append(srv.forms, r.PostForm)
		srv.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"wif","token_type":"Bearer","expires_in":3600}`)
	}))
	t.Cleanup(srv.Close)
	return env, sys, srv
}

type formServer struct {
	*httptest.Server
	mu    sync.Mutex
	forms []url.Values
}

func (s *formServer) received() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url.Values(nil), s.forms...)
}

// TestVaultIdentityAssertion: on Enterprise the plugin identity token is
// the client assertion, fetched per grant with identity_token_audience and
// identity_token_ttl.
func TestVaultIdentityAssertion(t *testing.T) {
	env, sys, srv := newIdentityEnv(t, newFakeClock(), "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwbHVnaW4ifQ.c2lnbmF0dXJl")
	env.write("config/wif", map[string]interface{}{
		"token_url": srv.URL + "/token", "client_id": "c", "client_auth": "private_key_jwt",
		"assertion_source": "vault_identity", "identity_token_audience": "aud-1", "identity_token_ttl": "90s",
	})
	env.read("creds/wif")
	env.write("rotate/wif", nil)
	if forms := srv.received(); len(forms) != 2 || forms[1].Get("client_assertion") != sys.token || forms[1].Get("client_id") != "c" {
		t.Fatalf("forms %v", forms)
	}
	if len(sys.asked) != 3 || sys.asked[2].Audience != "aud-1" || sys.asked[2].TTL != 90*time.Second { // the write's probe, then one per grant
		t.Fatalf("asked %+v", sys.asked)
	}
	if strings.Contains(env.logs.String(), signatureOf(sys.token)) {
		t.Fatal("the identity token's signature is in the logs")
	}
}

// TestIssuerInvalidate: a node that did not make the write (a standby)
// serves its built documents until Vault invalidates oidc/config, then
// the active node's new key.
func TestIssuerInvalidate(t *testing.T) {
	active := newTestEnv(t)
	standby := newTestEnvWith(t, active.storage, active.clock)
	active.write("oidc/config", map[string]interface{}{"issuer": testIssuer})
	first := kidsOf(issuerKeys(t, standby))
	active.write("oidc/rotate-key", nil)
	if got := kidsOf(issuerKeys(t, standby)); len(got) != 1 || got[0] != first[0] {
		t.Fatalf("standby rebuilt without an invalidation: %v", got)
	}
	standby.b.invalidate(context.Background(), oidcConfigKey)
	if got := kidsOf(issuerKeys(t, standby)); len(got) != 2 || got[0] != first[0] {
		t.Fatalf("standby after the invalidation: %v, want %s and the published key", got, first[0])
	}
}

// TestIssuerAssertionRedacted: an issuer-signed assertion is a credential
// like a key-signed one: a vendor that echoes the request back shows it in
// no error, status or log line (an EC key: the whole signature fits the
// truncated message).
func TestIssuerAssertionRedacted(t *testing.T) {
	env := newTestEnv(t)
	v := newBearerVendor(t, env, "echo")
	v.echo = true
	env.write("oidc/config", map[string]interface{}{"issuer": testIssuer, "key_type": "ec"})
	env.write("config/echo", map[string]interface{}{"token_url": v.URL + "/token", "grant_type": "jwt_bearer", "assertion_source": "issuer"})
	_, err := env.do(logical.ReadOperation, "creds/echo", nil)
	if err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("creds against the echoing vendor: %v", err)
	}
	assertion := v.form(0).Get("assertion")
	sig := signatureOf(assertion)
	if sig == "" || sig == assertion {
		t.Fatalf("no assertion sent: %v", v.form(0))
	}
	status := fmt.Sprint(env.read("status/echo").Data)
	for what, text := range map[string]string{"error": err.Error(), "status": status, "logs": env.logs.String()} {
		if strings.Contains(text, sig) {
			t.Fatalf("the assertion's signature is in the %s", what)
		}
	}
}
