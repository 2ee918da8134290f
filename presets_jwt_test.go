package oauthvendor

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// TestSalesforcePreset: iss the consumer key, sub the username, aud the
// login origin (login, test, My Domain), a bare My Domain URL completed
// with /services/oauth2/token, the body the grant alone, and (Salesforce
// answers no expires_in) the token's lifetime is default_ttl.
func TestSalesforcePreset(t *testing.T) {
	cases := []struct{ tokenURL, wantURL, wantAud string }{
		{"", "https://login.salesforce.com/services/oauth2/token", "https://login.salesforce.com"},
		{"https://test.salesforce.com", "https://test.salesforce.com/services/oauth2/token", "https://test.salesforce.com"},
		{"https://acme.my.salesforce.com/", "https://acme.my.salesforce.com/services/oauth2/token", "https://acme.my.salesforce.com"},
	}
	for _, c := range cases {
		t.Run(c.wantAud, func(t *testing.T) {
			env := newTestEnv(t)
			v := installJWTVendor(env, "sf")
			v.reply = func(r *http.Request, form url.Values) (int, string) {
				if _, _, err := v.verified(form.Get("assertion")); err != nil {
					return 400, `{"error":"invalid_grant","error_description":"` + err.Error() + `"}`
				}
				// Salesforce's answer: no expires_in.
				return 200, `{"access_token":"00Dxx!sf","instance_url":"https://acme.my.salesforce.com","token_type":"Bearer","scope":"api","issued_at":"1700000000000"}`
			}
			cfg := map[string]interface{}{"preset": "salesforce", "client_id": "3MVG9consumer", "subject": "integration@acme.com", "default_ttl": "30m"}
			if c.tokenURL != "" {
				cfg["token_url"] = c.tokenURL
			}
			w := env.write("config/sf", cfg)
			if len(w.Warnings) != 1 || strings.Contains(w.Warnings[0], "published token hosts") {
				t.Fatalf("warnings %v: want only the generated key's (a My Domain host is Salesforce's)", w.Warnings)
			}
			kid := w.Data["kid"].(string)
			creds := env.read("creds/sf")
			req, form := v.last()
			if req.URL.String() != c.wantURL || formKeys(form) != "assertion,grant_type" || form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
				t.Fatalf("request %s %v", req.URL, form)
			}
			header, claims := joseParts(t, form.Get("assertion"))
			if header["alg"] != "RS256" || header["typ"] != "JWT" || header["kid"] != kid || len(header) != 3 {
				t.Fatalf("header %v", header)
			}
			checkClaims(t, claims, map[string]interface{}{"iss": "3MVG9consumer", "sub": "integration@acme.com", "aud": c.wantAud}, 300)
			exp, err := time.Parse(time.RFC3339, creds.Data["expires_at"].(string))
			if err != nil || !exp.Equal(env.clock.Now().Add(30*time.Minute)) {
				t.Fatalf("expires_at %v, want default_ttl (30m) from now", creds.Data["expires_at"])
			}
		})
	}
}

// TestSalesforcePresetRefusals: subject is required; a host that is not
// Salesforce's draws the known-host warning.
func TestSalesforcePresetRefusals(t *testing.T) {
	env := newTestEnv(t)
	resp, _ := env.do(logical.UpdateOperation, "config/sf", map[string]interface{}{"preset": "salesforce", "client_id": "ck"})
	if resp == nil || !resp.IsError() || !strings.HasPrefix(resp.Error().Error(), "subject: required with preset salesforce") {
		t.Fatalf("without subject: %v", resp)
	}
	w := env.write("config/sf", map[string]interface{}{"preset": "salesforce", "client_id": "ck", "subject": "u", "token_url": "https://login.example.com"})
	if !strings.Contains(strings.Join(w.Warnings, "\n"), "not one of Salesforce's published token hosts") {
		t.Fatalf("warnings %v", w.Warnings)
	}
}

// TestDocuSignPreset: aud the bare account host (developer environment
// here), scope "signature impersonation" as a claim and not in the body,
// iss the integration key, sub the user ID.
func TestDocuSignPreset(t *testing.T) {
	env := newTestEnv(t)
	v := installJWTVendor(env, "ds")
	kid := env.write("config/ds", map[string]interface{}{
		"preset": "docusign", "token_url": "https://account-d.docusign.com/oauth/token", "client_id": "integration-key", "subject": "user-guid",
	}).Data["kid"].(string)
	if got := env.read("creds/ds").Data["access_token"]; got != "tok-1" {
		t.Fatalf("creds %v", got)
	}
	req, form := v.last()
	if req.URL.String() != "https://account-d.docusign.com/oauth/token" || formKeys(form) != "assertion,grant_type" {
		t.Fatalf("request %s %v (no scope in the body: it is a claim)", req.URL, form)
	}
	header, claims := joseParts(t, form.Get("assertion"))
	if header["alg"] != "RS256" || header["typ"] != "JWT" || header["kid"] != kid || len(header) != 3 {
		t.Fatalf("header %v", header)
	}
	checkClaims(t, claims, map[string]interface{}{"iss": "integration-key", "sub": "user-guid", "aud": "account-d.docusign.com", "scope": "signature impersonation"}, 300)
}

// docusignConsent is a DocuSign config whose user never consented: every
// grant is answered {"error":"consent_required"}.
func docusignConsent(t *testing.T, extra map[string]interface{}) (*testEnv, map[string]interface{}) {
	env := newTestEnv(t)
	v := installJWTVendor(env, "ds")
	v.reply = func(*http.Request, url.Values) (int, string) { return 400, `{"error":"consent_required"}` }
	key := rsaKeyPEM(t)
	return env, merged(map[string]interface{}{"preset": "docusign", "client_id": "ik-123", "subject": "user-guid", "private_key": key}, extra)
}

// TestDocuSignConsentRequired: consent_required becomes a message with the
// consent URL to open (400 on a verified write, 502 on a read), or, with
// no redirect_url, the field to set; never the key or the assertion.
func TestDocuSignConsentRequired(t *testing.T) {
	wantURL := "https://account.docusign.com/oauth/auth?response_type=code&scope=signature%20impersonation&client_id=ik-123&redirect_uri=https%3A%2F%2Fapp.example.com%2Fds%2Fcallback"
	env, cfg := docusignConsent(t, map[string]interface{}{"redirect_url": "https://app.example.com/ds/callback", "verify": true})
	resp, err := env.do(logical.UpdateOperation, "config/ds", cfg)
	if err != nil || resp == nil || !resp.IsError() {
		t.Fatalf("verified write: %v %v", resp, err)
	}
	msg := resp.Error().Error()
	if !strings.Contains(msg, "consent_required") || !strings.Contains(msg, "not consented") || !strings.Contains(msg, wantURL) {
		t.Fatalf("write error %q lacks the consent URL %s", msg, wantURL)
	}
	assertNoSecret(t, msg, keySecretsOf(cfg["private_key"].(string)))

	cfg["verify"] = false
	env.write("config/ds", cfg)
	_, err = env.do(logical.ReadOperation, "creds/ds", nil)
	if codedStatus(err) != 502 || !strings.Contains(err.Error(), wantURL) {
		t.Fatalf("read: %v (status %d), want a 502 with the consent URL", err, codedStatus(err))
	}
	for _, text := range []string{err.Error(), env.read("status/ds").Data["last_error"].(string), env.logs.String()} {
		assertNoSecret(t, text, keySecretsOf(cfg["private_key"].(string)))
	}

	env2, cfg2 := docusignConsent(t, nil)
	env2.write("config/ds", cfg2)
	_, err = env2.do(logical.ReadOperation, "creds/ds", nil)
	if codedStatus(err) != 502 || !strings.Contains(err.Error(), "the URL (set redirect_url in the config") || strings.Contains(err.Error(), "/oauth/auth?") {
		t.Fatalf("without redirect_url: %v", err)
	}
}

// TestBoxPreset: client_id and client_secret in the body beside the
// assertion; kid the key_id Box assigned (jwks/<name> publishes the key
// under it: the vendor finds it there); iss, sub, box_sub_type, aud the
// token URL, exp 45 s after iat, a jti of 16-128 characters.
func TestBoxPreset(t *testing.T) {
	env := newTestEnv(t)
	v := installJWTVendor(env, "box")
	env.write("config/box", map[string]interface{}{
		"preset": "box", "client_id": "box-client", "client_secret": "box-secret-value", "subject": "987654",
		"assertion_claims": map[string]interface{}{"box_sub_type": "enterprise"},
	})
	// Box shows the uploaded public key's ID; the operator writes it.
	env.write("config/box", map[string]interface{}{"key_id": "k7x2q9"})
	if got := env.read("config/box").Data["kid"]; got != "k7x2q9" {
		t.Fatalf("read kid %v, want key_id", got)
	}
	if set, _ := readJWKS(t, env, "box"); len(set.Keys) != 1 || set.Keys[0].KeyID != "k7x2q9" {
		t.Fatalf("jwks %v", kidsOf(set))
	}
	env.read("creds/box")
	req, form := v.last()
	if req.URL.String() != "https://api.box.com/oauth2/token" || formKeys(form) != "assertion,client_id,client_secret,grant_type" ||
		form.Get("client_id") != "box-client" || form.Get("client_secret") != "box-secret-value" {
		t.Fatalf("request %s %v", req.URL, formKeys(form))
	}
	header, claims, err := v.verified(form.Get("assertion"))
	if err != nil || header.KeyID != "k7x2q9" {
		t.Fatalf("assertion: %v, kid %q", err, header.KeyID)
	}
	_, raw := joseParts(t, form.Get("assertion"))
	checkClaims(t, raw, map[string]interface{}{"iss": "box-client", "sub": "987654", "aud": "https://api.box.com/oauth2/token", "box_sub_type": "enterprise"}, 45)
	if len(claims) != len(raw) {
		t.Fatalf("claims %v", claims)
	}
}

// TestBoxPresetRefusals: Box's rules as 400s naming the field: at most 60 s
// of assertion, box_sub_type enterprise or user, a client_secret and a
// subject.
func TestBoxPresetRefusals(t *testing.T) {
	base := func(extra map[string]interface{}) map[string]interface{} {
		return merged(map[string]interface{}{"preset": "box", "client_id": "c", "client_secret": "s", "subject": "1",
			"assertion_claims": map[string]interface{}{"box_sub_type": "user"}}, extra)
	}
	cases := []struct {
		name string
		cfg  map[string]interface{}
		want string
	}{
		{"ttl 61s", base(map[string]interface{}{"assertion_ttl": "61s"}), "assertion_ttl: must not exceed 1m0s with preset box"},
		{"ttl 1h", base(map[string]interface{}{"assertion_ttl": "1h"}), "assertion_ttl: must not exceed 1m0s"},
		{"no box_sub_type", base(map[string]interface{}{"assertion_claims": map[string]interface{}{"other": "x"}}), "assertion_claims: box_sub_type=<enterprise|user> is required"},
		{"bad box_sub_type", base(map[string]interface{}{"assertion_claims": map[string]interface{}{"box_sub_type": "admin"}}), `assertion_claims: box_sub_type is "admin"`},
		{"no client_secret", base(map[string]interface{}{"client_secret": ""}), "client_secret: required"},
		{"no subject", base(map[string]interface{}{"subject": ""}), "subject: required with preset box"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := newTestEnv(t)
			resp, err := env.do(logical.UpdateOperation, "config/box", c.cfg)
			if err != nil || resp == nil || !resp.IsError() || !strings.HasPrefix(resp.Error().Error(), c.want) {
				t.Fatalf("got %v %v, want %q", resp, err, c.want)
			}
		})
	}
	env := newTestEnv(t)
	env.write("config/box", base(map[string]interface{}{"assertion_ttl": "60s"}))
	if got := env.read("config/box").Data["assertion_ttl"]; got != int64(60) {
		t.Fatalf("assertion_ttl %v", got)
	}
}

// TestRotateKeySwitchKeyID: key_id named the old key, so a switch drops
// it, or takes the ID the vendor assigned the new key (Box shows one per
// uploaded key); only step=switch takes key_id.
func TestRotateKeySwitchKeyID(t *testing.T) {
	env := newTestEnv(t)
	v := installJWTVendor(env, "box")
	env.write("config/box", map[string]interface{}{
		"preset": "box", "client_id": "c", "client_secret": "s", "subject": "1", "key_id": "old-id",
		"assertion_claims": map[string]interface{}{"box_sub_type": "user"},
	})
	resp, _ := env.do(logical.UpdateOperation, "rotate-key/box", map[string]interface{}{"step": "publish", "key_id": "new-id"})
	if resp == nil || !resp.IsError() || !strings.HasPrefix(resp.Error().Error(), "key_id: step=publish does not switch keys") {
		t.Fatalf("key_id with publish: %v", resp)
	}
	next := env.write("rotate-key/box", map[string]interface{}{"step": "publish"}).Data["next_kid"].(string)
	if set, _ := readJWKS(t, env, "box"); strings.Join(kidsOf(set), ",") != "old-id,"+next {
		t.Fatalf("jwks while the rotation is pending: %v", kidsOf(set))
	}
	sw := env.write("rotate-key/box", map[string]interface{}{"step": "switch", "key_id": "new-id", "verify": false})
	read := env.read("config/box").Data
	if sw.Data["current_kid"] != "new-id" {
		t.Fatalf("switch answered %v", sw.Data)
	}
	if read["key_id"] != "new-id" || read["kid"] != "new-id" {
		t.Fatalf("after switch: key_id %v kid %v", read["key_id"], read["kid"])
	}
	env.read("creds/box")
	_, form := v.last()
	if h, _, err := v.verified(form.Get("assertion")); err != nil || h.KeyID != "new-id" {
		t.Fatalf("the new key's assertion: %v, kid %q", err, h.KeyID)
	}
	// A switch without key_id names the new key by its thumbprint.
	next = env.write("rotate-key/box", map[string]interface{}{"step": "publish"}).Data["next_kid"].(string)
	env.write("rotate-key/box", map[string]interface{}{"step": "switch", "verify": false})
	if read := env.read("config/box").Data; read["key_id"] != "" || read["kid"] != next {
		t.Fatalf("after a switch without key_id: key_id %v kid %v, want the thumbprint %s", read["key_id"], read["kid"], next)
	}
}

// TestJWTPresetsRead: presets/<name> shows a jwt_bearer preset's
// assertion rules beside its defaults.
func TestJWTPresetsRead(t *testing.T) {
	env := newTestEnv(t)
	ds := env.read("presets/docusign").Data
	a := ds["assertion"].(map[string]interface{})
	if a["audience"] != "token_url's host" || a["scope"] != "assertion scope claim" || a["max_assertion_ttl"] != int64(3600) {
		t.Fatalf("docusign assertion %v", a)
	}
	if h := a["error_hints"].(map[string]string); !strings.Contains(h["consent_required"], "consented") {
		t.Fatalf("docusign hints %v", h)
	}
	if d := ds["defaults"].(map[string]interface{}); d["grant_type"] != "jwt_bearer" || strings.Join(d["scopes"].([]string), " ") != "signature impersonation" {
		t.Fatalf("docusign defaults %v", d)
	}
	box := env.read("presets/box").Data["assertion"].(map[string]interface{})
	if box["max_assertion_ttl"] != int64(60) || strings.Join(box["claim_values"].(map[string][]string)["box_sub_type"], "|") != "enterprise|user" {
		t.Fatalf("box assertion %v", box)
	}
	if sf := env.read("presets/salesforce").Data; sf["assertion"].(map[string]interface{})["audience"] != "token_url's origin (scheme://host)" || sf["token_path"] != "/services/oauth2/token" {
		t.Fatalf("salesforce %v", sf)
	}
	if _, ok := env.read("presets/agentsync").Data["assertion"]; ok {
		t.Fatal("a client_credentials preset shows assertion rules")
	}
}
