package oauthvendor

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
)

// The subject token of a token_exchange config with assertion_source=
// issuer or vault_identity (issue 19.3 with 19.4 and 19.5).

const testProvider = "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/vault/providers/oauthvendor"

// stsConfig is a Google-STS-shaped exchange of the issuer's JWT: no
// client authentication, the provider as both the JWT's aud and the
// exchange's audience.
func stsConfig(tokenURL string, extra map[string]interface{}) map[string]interface{} {
	cfg := map[string]interface{}{
		"token_url": tokenURL, "grant_type": "token_exchange", "client_auth": "none",
		"assertion_source": "issuer", "assertion_audience": testProvider, "audience": testProvider,
		"scopes": "https://www.googleapis.com/auth/cloud-platform", "requested_token_type": oauth.TokenTypeAccessToken,
	}
	for k, v := range extra {
		cfg[k] = v
	}
	return cfg
}

// TestIssuerSubjectToken: the body is RFC 8693 2.1's with the issuer's
// JWT as subject_token typed jwt and nothing of a client; the JWT (which
// the relying party verifies against the discovery document's keys) has
// iss the issuer, sub oauthvendor:<name>, aud assertion_audience, the
// issuer key's kid, typ JWT, iat now and exp assertion_ttl (5 m) later. A
// new grant signs a new one (new jti); subject and subject_token_type
// are the operator's when written.
func TestIssuerSubjectToken(t *testing.T) {
	env := newTestEnv(t)
	rp := newRelyingParty(t, env)
	kid := env.write("oidc/config", map[string]interface{}{"issuer": testIssuer}).Data["kid"]
	env.write("config/gcp", stsConfig(rp.URL+"/v1/token", nil))
	if got := env.read("creds/gcp").Data["access_token"]; got != "federated-1" {
		t.Fatalf("creds %v", got)
	}
	form, claims, gotKid, typ := rp.last()
	want := map[string]string{
		"grant_type": oauth.TokenExchangeGrantType, "subject_token_type": oauth.TokenTypeJWT, "audience": testProvider,
		"scope": "https://www.googleapis.com/auth/cloud-platform", "requested_token_type": oauth.TokenTypeAccessToken,
	}
	for k, v := range want {
		if form.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, form.Get(k), v)
		}
	}
	if len(form) != len(want)+1 || form.Get("subject_token") == "" {
		t.Fatalf("body %v: want %v and subject_token only", form, want)
	}
	if claims.Issuer != testIssuer || claims.Subject != "oauthvendor:gcp" || len(claims.Audience) != 1 || claims.Audience[0] != testProvider {
		t.Fatalf("claims %+v", claims)
	}
	if gotKid != kid || typ != "JWT" || claims.ID == "" || !claims.IssuedAt.Time().Equal(env.clock.Now()) ||
		claims.Expiry.Time().Sub(claims.IssuedAt.Time()) != oauth.DefaultAssertionTTL {
		t.Fatalf("kid %s (issuer's %s), typ %q, claims %+v", gotKid, kid, typ, claims)
	}
	if r, _ := env.do(logical.UpdateOperation, "rotate-key/gcp", nil); r == nil || !strings.Contains(r.Error().Error(), "oidc/rotate-key") {
		t.Fatalf("rotate-key/gcp: %v, want a pointer to oidc/rotate-key", r)
	}
	env.clock.Advance(time.Minute)
	env.write("rotate/gcp", nil)
	_, again, _, _ := rp.last()
	if again.ID == claims.ID || !again.IssuedAt.Time().Equal(env.clock.Now()) {
		t.Fatalf("the second grant's JWT %+v, the first's %+v: want a fresh one", again, claims)
	}
	env.write("config/gcp", map[string]interface{}{"subject": "workload-a", "subject_token_type": oauth.TokenTypeIDToken})
	env.read("creds/gcp")
	form, claims, _, _ = rp.last()
	if claims.Subject != "workload-a" || form.Get("subject_token_type") != oauth.TokenTypeIDToken {
		t.Fatalf("sub %q, subject_token_type %q: want the written ones", claims.Subject, form.Get("subject_token_type"))
	}
}

// TestIssuerSubjectCapsTheToken: the subject JWT expires at its exp, so
// expires_with_subject ends the new token there (assertion_ttl 10 m,
// although the vendor says an hour); without it the vendor's hour stands.
// Preset databricks: its path, scope and type, client_id as the service
// principal's federation policy wants.
func TestIssuerSubjectCapsTheToken(t *testing.T) {
	env := newTestEnv(t)
	rp := newRelyingParty(t, env)
	env.write("oidc/config", map[string]interface{}{"issuer": testIssuer})
	env.write("config/capped", stsConfig(rp.URL+"/v1/token", map[string]interface{}{"expires_with_subject": true, "assertion_ttl": "10m"}))
	resp := env.read("creds/capped")
	if resp.Data["expires_at"] != rfc3339(env.clock.Now().Add(10*time.Minute)) || resp.Secret.TTL > 10*time.Minute {
		t.Fatalf("capped: expires %v, lease %s; want the subject JWT's exp, 10 m", resp.Data["expires_at"], resp.Secret.TTL)
	}
	env.write("config/dbx", map[string]interface{}{"preset": "databricks", "token_url": rp.URL,
		"assertion_source": "issuer", "assertion_audience": "acct-1234", "client_id": "sp-uuid"})
	if got := env.read("creds/dbx").Data["expires_at"]; got != rfc3339(env.clock.Now().Add(time.Hour)) {
		t.Fatalf("uncapped: expires %v, want the vendor's hour", got)
	}
	form, claims, _, _ := rp.last()
	if form.Get("client_id") != "sp-uuid" || form.Get("scope") != "all-apis" || form.Get("subject_token_type") != oauth.TokenTypeJWT ||
		form.Has("client_secret") || claims.Audience[0] != "acct-1234" || claims.Subject != "oauthvendor:dbx" {
		t.Fatalf("databricks: body %v, claims %+v", form, claims)
	}
	if got := env.read("config/dbx").Data["token_url"]; got != rp.URL+"/oidc/v1/token" {
		t.Fatalf("databricks token_url %v", got)
	}
}

// TestIssuerSubjectAndClientAssertion: a token_exchange config with
// client_auth=private_key_jwt and assertion_source=issuer takes both JWTs
// from the issuer (README): the client assertion (two minutes) and the
// subject token (assertion_ttl), the same iss, sub and aud, each its own
// jti, both verified against the issuer's keys.
func TestIssuerSubjectAndClientAssertion(t *testing.T) {
	env := newTestEnv(t)
	rp := newRelyingParty(t, env)
	env.write("oidc/config", map[string]interface{}{"issuer": testIssuer})
	env.write("config/both", map[string]interface{}{"token_url": rp.URL + "/token", "grant_type": "token_exchange",
		"client_auth": "private_key_jwt", "client_id": "app", "assertion_source": "issuer"})
	if got := env.read("creds/both").Data["access_token"]; got != "federated-1" {
		t.Fatalf("creds %v", got)
	}
	form, client, _, _ := rp.last()
	subject := rp.subjects[0]
	if form.Get("client_assertion") == "" || form.Get("subject_token") == "" || form.Get("client_assertion") == form.Get("subject_token") {
		t.Fatalf("body %v: want a client assertion and a subject token", form)
	}
	for _, c := range []struct {
		what string
		ttl  time.Duration
		iss  string
		sub  string
		aud  []string
	}{{"client assertion", 2 * time.Minute, client.Issuer, client.Subject, client.Audience}, {"subject token", oauth.DefaultAssertionTTL, subject.Issuer, subject.Subject, subject.Audience}} {
		if c.iss != testIssuer || c.sub != "oauthvendor:both" || len(c.aud) != 1 || c.aud[0] != rp.URL+"/token" {
			t.Errorf("%s: iss %s sub %s aud %v", c.what, c.iss, c.sub, c.aud)
		}
	}
	if client.Expiry.Time().Sub(client.IssuedAt.Time()) != 2*time.Minute || subject.Expiry.Time().Sub(subject.IssuedAt.Time()) != oauth.DefaultAssertionTTL || client.ID == subject.ID {
		t.Fatalf("client %+v, subject %+v", client, subject)
	}
}

// TestIssuerSubjectRedacted: the issuer's subject token is a credential:
// a vendor that echoes the request shows it (whole, or its signature) in
// no error, status or log line.
func TestIssuerSubjectRedacted(t *testing.T) {
	env := newTestEnv(t)
	v := newBearerVendor(t, env, "echo")
	v.echo = true
	env.write("oidc/config", map[string]interface{}{"issuer": testIssuer, "key_type": "ec"})
	env.write("config/echo", stsConfig(v.URL+"/token", nil))
	_, err := env.do(logical.ReadOperation, "creds/echo", nil)
	if err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("creds against the echoing vendor: %v", err)
	}
	subject := v.form(0).Get("subject_token")
	if strings.Count(subject, ".") != 2 {
		t.Fatalf("no subject JWT sent: %v", v.form(0))
	}
	status := fmt.Sprint(env.read("status/echo").Data)
	for what, text := range map[string]string{"error": err.Error(), "status": status, "logs": env.logs.String()} {
		if strings.Contains(text, signatureOf(subject)) {
			t.Fatalf("the subject token's signature is in the %s", what)
		}
	}
}

// TestIssuerSubjectRefusals: a token_exchange config has exactly one
// source of its subject token, and the issuer's JWT an audience.
func TestIssuerSubjectRefusals(t *testing.T) {
	env := newTestEnv(t)
	base := map[string]interface{}{"token_url": "https://sts.example.com/v1/token", "grant_type": "token_exchange", "client_auth": "none"}
	with := func(extra map[string]interface{}) map[string]interface{} {
		out := map[string]interface{}{}
		for _, m := range []map[string]interface{}{base, extra} {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	refused := func(data map[string]interface{}, want ...string) {
		t.Helper()
		resp, err := env.do(logical.UpdateOperation, "config/x", data)
		if err != nil || resp == nil || !resp.IsError() {
			t.Fatalf("%v: accepted (%v)", data, err)
		}
		for _, w := range want {
			if !strings.Contains(resp.Error().Error(), w) {
				t.Fatalf("%v: %q, want %q", data, resp.Error(), w)
			}
		}
		if r, _ := env.do(logical.ReadOperation, "config/x", nil); r != nil {
			t.Fatal("a refused write was stored")
		}
	}
	refused(with(map[string]interface{}{"assertion_source": "issuer", "assertion_audience": "aud"}), "assertion_source: issuer needs the mount's issuer", "oidc/config")
	env.write("oidc/config", map[string]interface{}{"issuer": testIssuer})
	env.write("config/B", map[string]interface{}{"token_url": "https://idp.example.com/token", "client_id": "b", "client_secret": "s", "exchange_urls": "https://sts.example.com"})
	refused(base, "subject_config", "assertion_source", "required")
	refused(with(map[string]interface{}{"assertion_source": "issuer"}), "assertion_audience: required")
	refused(with(map[string]interface{}{"assertion_source": "issuer", "assertion_audience": "aud", "subject_config": "B"}), "subject_config", "assertion_source=issuer are two sources")
	refused(with(map[string]interface{}{"assertion_source": "vault_identity"}), "identity_token_audience: required")
	refused(with(map[string]interface{}{"assertion_source": "issuer", "assertion_audience": "aud", "private_key": testKeyPEM(t)}), "private_key: a config with assertion_source=issuer has no key of its own")
	env.write("config/x", with(map[string]interface{}{"assertion_source": "issuer", "assertion_audience": "aud"}))
	resp, err := env.do(logical.UpdateOperation, "config/x", map[string]interface{}{"subject_config": "B"})
	if err != nil || resp == nil || !resp.IsError() || !strings.Contains(resp.Error().Error(), "two sources") {
		t.Fatalf("adding subject_config to an issuer exchange: %v %v", resp, err)
	}
	env.write("config/x", map[string]interface{}{"subject_config": "B", "assertion_source": "key"})
	if got := env.read("config/x").Data; got["subject_config"] != "B" || got["assertion_source"] != "key" {
		t.Fatalf("switched to subject_config: %v", got)
	}
}

// fakeJWT is an unsigned-looking JWT whose exp is exp (what Vault's
// plugin identity token looks like to the plugin: it never verifies it).
func fakeJWT(exp time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","kid":"vault"}`)) + "." + enc([]byte(fmt.Sprintf(`{"sub":"plugin","exp":%d}`, exp.Unix()))) + "." + enc([]byte("vault-signature"))
}

// TestVaultIdentitySubject: with assertion_source=vault_identity the
// plugin identity token is the subject token, asked per grant with
// identity_token_audience and identity_token_ttl, typed jwt, its exp
// capping the new token with expires_with_subject.
func TestVaultIdentitySubject(t *testing.T) {
	clock := newFakeClock()
	env, sys, srv := newIdentityEnv(t, clock, fakeJWT(clock.Now().Add(90*time.Second)))
	env.write("config/wif", map[string]interface{}{"token_url": srv.URL + "/token", "grant_type": "token_exchange", "client_auth": "none",
		"assertion_source": "vault_identity", "identity_token_audience": "acct-1", "identity_token_ttl": "90s", "expires_with_subject": true})
	resp := env.read("creds/wif")
	if resp.Data["access_token"] != "wif" || resp.Data["expires_at"] != rfc3339(clock.Now().Add(90*time.Second)) {
		t.Fatalf("creds %v: want the vendor's token capped at the identity token's exp", resp.Data)
	}
	if forms := srv.received(); len(forms) != 1 || forms[0].Get("subject_token") != sys.token || forms[0].Get("subject_token_type") != oauth.TokenTypeJWT {
		t.Fatalf("forms %v", forms)
	}
	if len(sys.asked) != 2 || sys.asked[1].Audience != "acct-1" || sys.asked[1].TTL != 90*time.Second { // the write's probe, then the grant
		t.Fatalf("asked %+v", sys.asked)
	}
}

// TestIssuerSubjectChain: A exchanges B's token, and B is itself an
// exchange of the issuer's JWT: a read of A runs B's grant first (through
// B's cache), A's endpoint gets B's token.
func TestIssuerSubjectChain(t *testing.T) {
	env := newTestEnv(t)
	rp := newRelyingParty(t, env)
	var got []string
	var mu sync.Mutex
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		got = append(got, r.PostForm.Get("subject_token"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"a-of-%s","token_type":"Bearer","expires_in":600}`, r.PostForm.Get("subject_token"))
	}))
	t.Cleanup(a.Close)
	env.write("oidc/config", map[string]interface{}{"issuer": testIssuer})
	env.write("config/B", stsConfig(rp.URL+"/v1/token", map[string]interface{}{"exchange_urls": a.URL}))
	env.write("config/A", map[string]interface{}{"token_url": a.URL + "/token", "grant_type": "token_exchange", "client_auth": "none", "subject_config": "B"})
	if tok := env.read("creds/A").Data["access_token"]; tok != "a-of-federated-1" {
		t.Fatalf("creds/A %v", tok)
	}
	if tok := env.read("creds/B").Data["access_token"]; tok != "federated-1" || len(got) != 1 {
		t.Fatalf("creds/B %v (A asked %d times): want B's one cached token", tok, len(got))
	}
}

// TestIssuerSubjectREADMERecipes: the README's secretless Google STS and
// Databricks lines are accepted as written (verify=false: no vendor
// here), and read back with the preset's request fields.
func TestIssuerSubjectREADMERecipes(t *testing.T) {
	env := newTestEnv(t)
	env.write("oidc/config", map[string]interface{}{"issuer": testIssuer})
	env.write("config/gcp-sts", map[string]interface{}{"preset": "google-sts", "assertion_source": "issuer", "assertion_ttl": "1h",
		"audience": testProvider, "assertion_audience": testProvider, "verify": false})
	gcp := env.read("config/gcp-sts").Data
	if gcp["token_url"] != "https://sts.googleapis.com/v1/token" || gcp["client_auth"] != "none" || gcp["subject_token_type"] != oauth.TokenTypeJWT ||
		gcp["expires_with_subject"] != true || gcp["assertion_audience"] != testProvider || gcp["assertion_source"] != "issuer" {
		t.Fatalf("config/gcp-sts %v", gcp)
	}
	env.write("config/databricks", map[string]interface{}{"preset": "databricks", "assertion_source": "issuer",
		"token_url": "https://dbc-1234.cloud.databricks.com", "client_id": "sp-uuid", "assertion_audience": "acct-1", "verify": false})
	dbx := env.read("config/databricks").Data
	if dbx["token_url"] != "https://dbc-1234.cloud.databricks.com/oidc/v1/token" || dbx["subject_token_type"] != oauth.TokenTypeJWT || dbx["assertion_audience"] != "acct-1" {
		t.Fatalf("config/databricks %v", dbx)
	}
}
