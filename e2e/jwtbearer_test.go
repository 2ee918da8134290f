//go:build e2e

package e2e

import (
	"crypto/rsa"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/vendorsim"
)

// grant_type=jwt_bearer (RFC 7523 2.1) with a key Vault generates: the
// simulator's AgentSync, in jwt_bearer mode, fetches jwks/<name> from
// Vault over HTTP as its client's key set and checks each assertion as a
// relying party does (signature, iss = client_id, sub, aud = its token
// URL, exp-iat at most 1 h, a jti never seen before). Three grants in a
// row each pass (a fresh jti each), from one JWKS fetch; the body is the
// grant alone (no client credentials without a client_secret).
func TestJWTBearerGeneratedKey(t *testing.T) {
	const name, subject = "jwtb-gen", "e2e-user@example.com"
	vendor := vendorsim.AgentSync
	id := env.creds[vendor].ClientID
	writeConfig(t, name, map[string]any{"token_url": env.sim.tokenURL(vendor), "grant_type": "jwt_bearer",
		"client_id": id, "subject": subject, "assertion_ttl": "2m"})
	env.sim.setKnobs(t, vendor, map[string]any{"jwks_url": vaultJWKSURL(name), "jwt_bearer": map[string]any{"subject": subject}})
	kid := onlyKid(t, name)
	before := env.sim.stats(t, vendor)

	tok := accessToken(t, readCreds(t, name))
	if !env.sim.valid(t, vendor, tok) {
		t.Fatal("creds: not a token the simulator issued")
	}
	for i := 1; i <= 2; i++ {
		mustRotate(t, name)
	}
	if next := accessToken(t, readCreds(t, name)); next == tok || !env.sim.valid(t, vendor, next) {
		t.Errorf("creds after two rotates: same token %v, valid %v", next == tok, env.sim.valid(t, vendor, next))
	}
	got := env.sim.assertions(t, vendor)
	if n := got.AcceptedKIDs[kid]; n != 3 {
		t.Errorf("the vendor accepted %d assertions under kid %s, want 3", n, kid)
	}
	if n := env.sim.stats(t, vendor).JWKSFetches - before.JWKSFetches; n != 1 {
		t.Errorf("the vendor fetched jwks/%s %d times, want once (kept after)", name, n)
	}
	if n := addAssertionSecrets(t, vendor); n < 3 {
		t.Fatalf("the vendor kept %d assertions, want at least 3", n)
	}
	// Guard against a vacuous pass: the scanner finds an assertion in the
	// form body it travels in, echoed in a vendor's JSON error, and its
	// signature alone.
	last := got.Received[len(got.Received)-1]
	form := url.Values{"grant_type": {vendorsim.JWTBearerGrantType}, "assertion": {last}}.Encode()
	scannerSees(t, "the assertion", form, mustJSON(t, map[string]string{"error": mustJSON(t, map[string]string{"body": form})}),
		last[strings.LastIndex(last, ".")+1:])

	d := env.sim.lastRequest(t, vendor)
	if ps := slices.Sorted(maps.Keys(d.Params)); !slices.Equal(ps, []string{"assertion", "grant_type"}) {
		t.Errorf("the token request's parameters %v, want assertion and grant_type only", ps)
	}
	if d.Params["grant_type"] != vendorsim.Digest(vendorsim.JWTBearerGrantType) {
		t.Errorf("grant_type is not %s", vendorsim.JWTBearerGrantType)
	}
	h, c := unverifiedJWT(t, got.Received[len(got.Received)-1])
	if h.KeyID != kid || h.Algorithm != "RS256" || c.Expiry.Time().Sub(c.IssuedAt.Time()) != 2*time.Minute {
		t.Errorf("the last assertion: kid %s alg %s lifetime %s, want kid %s, RS256, assertion_ttl 2m",
			h.KeyID, h.Algorithm, c.Expiry.Time().Sub(c.IssuedAt.Time()), kid)
	}

	data := readConfigData(t, name)
	if data["kid"] != kid || data["private_key_set"] != true || data["private_key"] != nil {
		t.Errorf("read config/%s: kid %v private_key_set %v private_key shown %v", name, data["kid"], data["private_key_set"], data["private_key"] != nil)
	}
	for _, p := range []string{"creds/", "status/", "config/"} {
		_, body := rawRequest(t, http.MethodGet, mountPath+"/"+p+name, nil)
		noSecrets(t, p+name, body)
	}
	scanLogs(t, nil)
}

// preset=google with credentials_json, a service-account key file made
// here whose token_uri is the simulator: the vendor verifies the assertion
// with the key file's public key, published under its private_key_id as
// Google publishes a service account's keys, with iss = client_email and
// the scopes in the scope claim; a write with verify=true passes (the
// vendor knows the key already). With subject (domain-wide delegation) the
// assertion carries sub, and prn as Google's library sends it. Read shows
// key_id, assertion_issuer and credentials_json_set, never the file.
func TestJWTBearerGoogleKeyFile(t *testing.T) {
	const name, user = "jwtb-google", "admin@e2e.example.com"
	vendor := vendorsim.AgentSync
	kf := newKeyFile(t, env.sim.tokenURL(vendor))
	addKeyFileSecret(t, "google key file", kf)
	// Guard against a vacuous pass: the scanner finds the file in a write's
	// JSON body and form body, and one line of its key's PEM body.
	lines := strings.Split(kf.keyPEM, "\n")
	scannerSees(t, "the key file", mustJSON(t, map[string]string{"credentials_json": kf.json}),
		url.Values{"credentials_json": {kf.json}}.Encode(), "..."+lines[len(lines)-4]+"...")
	scopes := []string{"https://www.googleapis.com/auth/cloud-platform", "https://www.googleapis.com/auth/drive.readonly"}
	rule := map[string]any{"issuer": kf.clientEmail, "scope": strings.Join(scopes, " ")}
	env.sim.setKnobs(t, vendor, map[string]any{"jwks_url": serveKeyFileJWKS(t, kf), "jwt_bearer": rule})

	status, body := rawRequest(t, http.MethodPost, mountPath+"/config/"+name, map[string]any{
		"preset": "google", "credentials_json": kf.json, "scopes": scopes, "verify": true})
	t.Cleanup(func() { _, _ = rawRequest(t, http.MethodDelete, mountPath+"/config/"+name, nil) })
	if status != 200 && status != 204 {
		t.Fatalf("verified write of config/%s with credentials_json: HTTP %d %s", name, status, clip(body))
	}
	noSecrets(t, "write config/"+name, body)
	tok := accessToken(t, readCreds(t, name))
	if !env.sim.valid(t, vendor, tok) {
		t.Fatal("creds: not a token the simulator issued")
	}
	if n := env.sim.assertions(t, vendor).AcceptedKIDs[kf.privateKeyID]; n < 1 {
		t.Fatalf("the vendor accepted %d assertions under kid private_key_id", n)
	}
	d := env.sim.lastRequest(t, vendor)
	if ps := slices.Sorted(maps.Keys(d.Params)); !slices.Equal(ps, []string{"assertion", "grant_type"}) {
		t.Errorf("the token request's parameters %v, want assertion and grant_type only (scopes travel in the assertion)", ps)
	}

	data := readConfigData(t, name)
	for field, want := range map[string]any{"key_id": kf.privateKeyID, "kid": kf.privateKeyID, "assertion_issuer": kf.clientEmail,
		"credentials_json_set": true, "private_key_set": true, "token_url": env.sim.tokenURL(vendor)} {
		if data[field] != want {
			t.Errorf("read config/%s: %s = %v, want %v", name, field, data[field], want)
		}
	}
	for _, f := range []string{"credentials_json", "private_key"} {
		if _, ok := data[f]; ok {
			t.Errorf("read config/%s shows %s", name, f)
		}
	}
	set := readJWKS(t, name)
	if len(set.Keys) != 1 || set.Keys[0].KeyID != kf.privateKeyID || !keyFileKey(kf, set.Keys[0]) {
		t.Fatalf("jwks/%s: want the key file's public key under its private_key_id, got %+v", name, set.Keys)
	}

	// Domain-wide delegation: the Workspace user as sub (and prn).
	rule["subject"] = user
	env.sim.postKnobs(t, vendor, map[string]any{"jwks_url": serveKeyFileJWKS(t, kf), "jwt_bearer": rule})
	writeConfigPartial(t, name, map[string]any{"subject": user})
	mustRotate(t, name)
	got := env.sim.assertions(t, vendor)
	h, c := unverifiedJWT(t, got.Received[len(got.Received)-1])
	var prn struct {
		Prn string `json:"prn"`
	}
	claimsOf(t, got.Received[len(got.Received)-1], &prn)
	if h.KeyID != kf.privateKeyID || c.Subject != user || prn.Prn != user || c.Issuer != kf.clientEmail {
		t.Errorf("delegated assertion: kid %s sub %q prn %q iss %q, want %s, %s, %s, %s", h.KeyID, c.Subject, prn.Prn, c.Issuer,
			kf.privateKeyID, user, user, kf.clientEmail)
	}
	if n := got.AcceptedKIDs[kf.privateKeyID]; n < 2 {
		t.Errorf("the vendor accepted %d assertions, want the first and the delegated one", n)
	}
	addAssertionSecrets(t, vendor)
	for _, p := range []string{"creds/", "status/", "config/"} {
		_, body := rawRequest(t, http.MethodGet, mountPath+"/"+p+name, nil)
		noSecrets(t, p+name, body)
	}
	scanLogs(t, nil)
}

// rotate-key step=auto on a jwt_bearer config while four readers loop on
// creds/<name> and a fifth forces a grant every second: no read or grant
// fails, the vendor (which refetches jwks/<name> on an unknown kid, once)
// accepts assertions under the old kid and then the new one, and
// jwks/<name> drops the old kid once the new one signs.
func TestJWTBearerRotateKeyWhileReading(t *testing.T) {
	const name = "jwtb-rot"
	vendor := vendorsim.AgentSync
	writeConfig(t, name, map[string]any{"token_url": env.sim.tokenURL(vendor), "grant_type": "jwt_bearer",
		"client_id": env.creds[vendor].ClientID})
	env.sim.setKnobs(t, vendor, map[string]any{"jwks_url": vaultJWKSURL(name), "jwt_bearer": map[string]any{}})
	old := onlyKid(t, name)
	before := env.sim.stats(t, vendor)
	accessToken(t, readCreds(t, name))

	r := startReaderLoops(t, name, 4)
	waitFor(t, "reads and a grant under the old key", 10*time.Second, func() error {
		if reads, grants := r.counts(); reads < 20 || grants < 1 {
			return fmt.Errorf("%d reads, %d grants", reads, grants)
		}
		return nil
	})
	s, err := rotateKey(name, nil)
	if err != nil {
		r.finish(t)
		t.Fatalf("rotate-key/%s step=auto: %v", name, err)
	}
	newKid := kidField(t, s, "current_kid")
	if newKid == old {
		t.Fatalf("rotate-key left kid %s signing", old)
	}
	waitFor(t, "grants under the new key", 10*time.Second, func() error {
		if n := env.sim.assertions(t, vendor).AcceptedKIDs[newKid]; n < 2 {
			return fmt.Errorf("%d assertions accepted under %s", n, newKid)
		}
		return nil
	})
	r.finish(t)

	// (A refused assertion would have failed a grant: finish checked.)
	kids := env.sim.assertions(t, vendor).AcceptedKIDs
	if kids[old] < 2 || kids[newKid] < 2 {
		t.Errorf("assertions accepted by kid %v: want at least 2 under the old %s and 2 under the new %s", kids, old, newKid)
	}
	if n := env.sim.stats(t, vendor).JWKSFetches - before.JWKSFetches; n != 2 {
		t.Errorf("the vendor fetched jwks/%s %d times, want 2 (the first grant, the new kid)", name, n)
	}
	if got := onlyKid(t, name); got != newKid {
		t.Fatalf("jwks/%s after the switch: kid %s, want only the new %s", name, got, newKid)
	}
	addAssertionSecrets(t, vendor)
}

// unverifiedJWT reads a JWS's header and registered claims without
// verifying it (the simulator did).
func unverifiedJWT(t *testing.T, raw string) (jose.Header, jwt.Claims) {
	t.Helper()
	var c jwt.Claims
	tok := claimsOf(t, raw, &c)
	if c.Expiry == nil || c.IssuedAt == nil {
		t.Fatalf("assertion without exp or iat")
	}
	return tok.Headers[0], c
}

func claimsOf(t *testing.T, raw string, out any) *jwt.JSONWebToken {
	t.Helper()
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256})
	if err != nil || len(tok.Headers) != 1 {
		t.Fatalf("not a signed JWT: %v", err)
	}
	if err := tok.UnsafeClaimsWithoutVerification(out); err != nil {
		t.Fatal(err)
	}
	return tok
}

// keyFileKey: k is the key file's public key.
func keyFileKey(kf keyFile, k jose.JSONWebKey) bool {
	pub, ok := k.Key.(*rsa.PublicKey)
	return ok && pub.Equal(kf.key.Public())
}

// scannerSees fails the test unless the leak scanner finds a registered
// secret in each carrier.
func scannerSees(t *testing.T, what string, carriers ...string) {
	t.Helper()
	for i, c := range carriers {
		if len(env.findSecrets(c)) == 0 {
			t.Fatalf("the scanner misses %s in carrier %d (%d bytes)", what, i, len(c))
		}
	}
}

// writeConfigPartial updates a stored config (verify=false).
func writeConfigPartial(t *testing.T, name string, data map[string]any) {
	t.Helper()
	if status, body := rawRequest(t, http.MethodPost, mountPath+"/config/"+name, withVerify(data, false)); status != 200 && status != 204 {
		t.Fatalf("update config/%s: HTTP %d %s", name, status, clip(body))
	}
}

// waitFor polls f until it returns nil, failing the test at the deadline.
func waitFor(t *testing.T, what string, limit time.Duration, f func() error) {
	t.Helper()
	if _, err := eventually(limit, f); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}
