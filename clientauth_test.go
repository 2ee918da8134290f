package oauthvendor

import (
	"crypto"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/testkit"
)

// assertionCapture records the client assertions the fake vendor got.
type assertionCapture struct {
	mu    sync.Mutex
	forms []url.Values
}

func captureAssertions(v *fakeVendor) *assertionCapture {
	c := &assertionCapture{}
	v.capture = func(_ *http.Request, body string) {
		form, _ := url.ParseQuery(body)
		c.mu.Lock()
		c.forms = append(c.forms, form)
		c.mu.Unlock()
	}
	return c
}

func (c *assertionCapture) last(t *testing.T) url.Values {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.forms) == 0 {
		t.Fatal("the vendor got no request")
	}
	return c.forms[len(c.forms)-1]
}

func jwtEnv(t *testing.T) (*testEnv, *fakeVendor, *assertionCapture) {
	env := newTestEnv(t)
	v := newFakeVendor(env.clock)
	v.install(env.b)
	return env, v, captureAssertions(v)
}

func jwtConfig(name string, extra map[string]interface{}) map[string]interface{} {
	cfg := map[string]interface{}{
		"token_url": "http://127.0.0.1/" + name + "/token", "client_id": "id-" + name, "client_auth": "private_key_jwt",
	}
	for k, v := range extra {
		cfg[k] = v
	}
	return cfg
}

// readJWKS reads jwks/<name> as an unauthenticated caller would get it.
func readJWKS(t *testing.T, env *testEnv, name string) (jose.JSONWebKeySet, string) {
	t.Helper()
	resp := env.read(jwksPrefix + name)
	if ct := resp.Data[logical.HTTPContentType]; ct != "application/json" {
		t.Fatalf("content type %v", ct)
	}
	raw := string(resp.Data[logical.HTTPRawBody].([]byte))
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(raw), &set); err != nil {
		t.Fatalf("jwks %s: %v", raw, err)
	}
	return set, raw
}

// verifyAssertion checks an assertion against the JWKS as a server would
// (RFC 7523 3) and returns its claims and kid.
func verifyAssertion(t *testing.T, form url.Values, set jose.JSONWebKeySet, clientID, aud string, algs ...jose.SignatureAlgorithm) (jwt.Claims, string) {
	t.Helper()
	if form.Get("client_assertion_type") != oauth.JWTBearerAssertion || form.Get("client_id") != clientID {
		t.Fatalf("form %v lacks the RFC 7523 fields", form)
	}
	if form.Get("client_secret") != "" {
		t.Fatal("a client_secret was sent with an assertion")
	}
	tok, err := jwt.ParseSigned(form.Get("client_assertion"), algs)
	if err != nil {
		t.Fatalf("assertion: %v", err)
	}
	kid := tok.Headers[0].KeyID
	keys := set.Key(kid)
	if len(keys) != 1 {
		t.Fatalf("kid %q is not in the JWKS (%d keys)", kid, len(set.Keys))
	}
	var claims jwt.Claims
	if err := tok.Claims(keys[0].Key, &claims); err != nil {
		t.Fatalf("signature does not verify with the published key: %v", err)
	}
	if claims.Issuer != clientID || claims.Subject != clientID || len(claims.Audience) != 1 || claims.Audience[0] != aud || claims.ID == "" {
		t.Fatalf("claims %+v", claims)
	}
	if life := claims.Expiry.Time().Sub(claims.IssuedAt.Time()); life <= 0 || life > 5*time.Minute {
		t.Fatalf("exp - iat = %s, want within 5 minutes", life)
	}
	return claims, kid
}

// TestPrivateKeyJWTGeneratedKey: a key generated in Vault signs each
// grant's assertion with a fresh jti; its public half, and nothing else,
// is at jwks/<name>; no read shows the private key.
func TestPrivateKeyJWTGeneratedKey(t *testing.T) {
	env, _, cap := jwtEnv(t)
	resp := env.write("config/okta", jwtConfig("okta", map[string]interface{}{"verify": true}))
	kid, _ := resp.Data["kid"].(string)
	if kid == "" || len(resp.Warnings) == 0 || !strings.Contains(resp.Warnings[len(resp.Warnings)-1], "jwks/okta") {
		t.Fatalf("write answer %+v: want the kid and where to register the key", resp)
	}
	if !strings.Contains(resp.Data["public_key"].(string), "BEGIN PUBLIC KEY") {
		t.Fatal("no public key in the answer")
	}
	read := env.read("config/okta").Data
	if read["private_key_set"] != true || read["kid"] != kid || read["key_type"] != "rsa" || read["signing_alg"] != "RS256" ||
		read["assertion_audience"] != "http://127.0.0.1/okta/token" {
		t.Fatalf("read %v", read)
	}
	if _, ok := read["private_key"]; ok {
		t.Fatal("read returned private_key")
	}
	set, raw := readJWKS(t, env, "okta")
	if len(set.Keys) != 1 || set.Keys[0].KeyID != kid || !set.Keys[0].IsPublic() || set.Keys[0].Algorithm != "RS256" || set.Keys[0].Use != "sig" {
		t.Fatalf("jwks %s", raw)
	}
	for _, private := range []string{`"d"`, `"p"`, `"q"`, `"dp"`, `"dq"`, `"qi"`} {
		if strings.Contains(raw, private) {
			t.Fatalf("jwks %s has the private member %s", raw, private)
		}
	}
	thumb, _ := set.Keys[0].Thumbprint(crypto.SHA256)
	if kid != base64.RawURLEncoding.EncodeToString(thumb) {
		t.Fatal("kid is not the RFC 7638 thumbprint")
	}
	env.read("creds/okta")
	first, _ := verifyAssertion(t, cap.last(t), set, "id-okta", "http://127.0.0.1/okta/token", jose.RS256)
	env.mustOK(logical.UpdateOperation, "rotate/okta", nil)
	second, _ := verifyAssertion(t, cap.last(t), set, "id-okta", "http://127.0.0.1/okta/token", jose.RS256)
	if first.ID == second.ID {
		t.Fatal("two assertions share a jti")
	}
	pemKey := env.b.cached("okta").conn.cfg.PrivateKey
	if !strings.Contains(pemKey, "PRIVATE KEY") {
		t.Fatal("the stored key is not a PEM private key")
	}
	for _, s := range oauth.KeySecrets(pemKey) {
		if strings.Contains(env.logs.String(), s) {
			t.Fatal("the log holds the private key")
		}
	}
}

// TestPrivateKeyJWTSuppliedKeys: PKCS#8, PKCS#1 and SEC1 keys sign with the
// algorithm asked for, verified against the published JWKS; a certificate
// adds x5t#S256.
func TestPrivateKeyJWTSuppliedKeys(t *testing.T) {
	rsaKey, pkcs8 := testkit.RSAKeyPEM(t, 2048, false)
	_, pkcs1 := testkit.RSAKeyPEM(t, 2048, true)
	_, sec1 := testkit.ECKeyPEM(t, elliptic.P256(), true)
	_, ec8 := testkit.ECKeyPEM(t, elliptic.P256(), false)
	cert := testkit.SelfSigned(t, rsaKey, "entra-app")
	certDER, _ := pem.Decode([]byte(cert))
	x5t := sha256.Sum256(certDER.Bytes)
	cases := []struct {
		name  string
		extra map[string]interface{}
		alg   jose.SignatureAlgorithm
		x5t   string
	}{
		{"pkcs8-rs256", map[string]interface{}{"private_key": pkcs8}, jose.RS256, ""},
		{"pkcs1-ps256", map[string]interface{}{"private_key": pkcs1, "signing_alg": "PS256"}, jose.PS256, ""},
		{"sec1-es256", map[string]interface{}{"private_key": sec1}, jose.ES256, ""},
		{"ec8-es256", map[string]interface{}{"private_key": ec8, "key_type": "ec"}, jose.ES256, ""},
		{"entra", map[string]interface{}{"private_key": pkcs8, "certificate": cert, "signing_alg": "PS256", "assertion_audience": "https://login.example/tenant/v2.0"},
			jose.PS256, base64.RawURLEncoding.EncodeToString(x5t[:])},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env, _, cap := jwtEnv(t)
			resp := env.write("config/"+c.name, jwtConfig(c.name, c.extra))
			if resp != nil && resp.Data["kid"] != nil {
				t.Fatal("a supplied key was reported as generated")
			}
			env.read("creds/" + c.name)
			set, raw := readJWKS(t, env, c.name)
			aud := "http://127.0.0.1/" + c.name + "/token"
			if a, ok := c.extra["assertion_audience"].(string); ok {
				aud = a
			}
			verifyAssertion(t, cap.last(t), set, "id-"+c.name, aud, c.alg)
			tok, _ := jwt.ParseSigned(cap.last(t).Get("client_assertion"), []jose.SignatureAlgorithm{c.alg})
			got, _ := tok.Headers[0].ExtraHeaders["x5t#S256"].(string)
			if got != c.x5t {
				t.Fatalf("x5t#S256 %q, want %q", got, c.x5t)
			}
			if c.x5t != "" && !strings.Contains(raw, `"x5c"`) {
				t.Fatalf("jwks %s lacks the certificate", raw)
			}
			for _, s := range oauth.KeySecrets(c.extra["private_key"].(string)) {
				if strings.Contains(raw, s) || strings.Contains(env.logs.String(), s) {
					t.Fatal("private key material in the JWKS or the log")
				}
			}
		})
	}
}

// TestClientSecretJWT: HS256 over client_secret, which is never sent.
func TestClientSecretJWT(t *testing.T) {
	env, _, cap := jwtEnv(t)
	secret := "s3cret-that-is-at-least-32-bytes-long!"
	env.write("config/kc", map[string]interface{}{
		"token_url": "http://127.0.0.1/kc/token", "client_id": "id-kc", "client_auth": "client_secret_jwt", "client_secret": secret,
	})
	env.read("creds/kc")
	form := cap.last(t)
	if strings.Contains(form.Encode(), url.QueryEscape(secret)) || strings.Contains(form.Encode(), secret) {
		t.Fatal("client_secret_jwt sent the secret")
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: []byte(secret)}}}
	verifyAssertion(t, form, set, "id-kc", "http://127.0.0.1/kc/token", jose.HS256)
	if _, err := env.do(logical.ReadOperation, "jwks/kc", nil); codedStatus(err) != http.StatusNotFound {
		t.Fatalf("jwks of a client_secret_jwt config: %v, want 404", err)
	}
}

// TestClientAuthValidation: every refusal names its field and never
// quotes a key.
func TestClientAuthValidation(t *testing.T) {
	_, small := testkit.RSAKeyPEM(t, 1024, false)
	rsaKey, good := testkit.RSAKeyPEM(t, 2048, false)
	_, p384 := testkit.ECKeyPEM(t, elliptic.P384(), false)
	ecKey, ec := testkit.ECKeyPEM(t, elliptic.P256(), false)
	otherCert := testkit.SelfSigned(t, ecKey, "other")
	rsaCert := testkit.SelfSigned(t, rsaKey, "client")
	base := func(extra map[string]interface{}) map[string]interface{} { return jwtConfig("v", extra) }
	cases := []struct {
		name string
		data map[string]interface{}
		want string
	}{
		{"unknown client_auth", base(map[string]interface{}{"client_auth": "private_key"}), "client_auth:"},
		{"short rsa", base(map[string]interface{}{"private_key": small}), "private_key: is an RSA key of 1024 bits"},
		{"p384", base(map[string]interface{}{"private_key": p384}), "private_key: is an EC key on P-384"},
		{"not pem", base(map[string]interface{}{"private_key": "hunter2hunter2"}), "private_key: no PEM block found"},
		{"cert as key", base(map[string]interface{}{"private_key": rsaCert}), `private_key: is a "CERTIFICATE" PEM block`},
		{"two blocks", base(map[string]interface{}{"private_key": good + ec}), "private_key: holds more than one PEM block"},
		{"alg vs rsa", base(map[string]interface{}{"private_key": good, "signing_alg": "ES256"}), `signing_alg: "ES256" does not fit an rsa key`},
		{"alg vs ec", base(map[string]interface{}{"private_key": ec, "signing_alg": "RS256"}), `signing_alg: "RS256" does not fit an ec key`},
		{"key_type vs key", base(map[string]interface{}{"private_key": ec, "key_type": "rsa"}), "key_type: rsa, but private_key is an ec key"},
		{"bad key_type", base(map[string]interface{}{"key_type": "dsa"}), `key_type: "dsa" is not one of rsa, ec`},
		{"cert of another key", base(map[string]interface{}{"private_key": good, "certificate": otherCert}), "certificate: is not the certificate of private_key"},
		{"cert without key", base(map[string]interface{}{"certificate": rsaCert}), "certificate: needs the private_key it certifies"},
		{"hs256 short secret", map[string]interface{}{"token_url": "http://127.0.0.1/v/token", "client_id": "c", "client_auth": "client_secret_jwt", "client_secret": "short"},
			"client_secret: is shorter than 32 bytes"},
		{"hs256 alg", map[string]interface{}{"token_url": "http://127.0.0.1/v/token", "client_id": "c", "client_auth": "client_secret_jwt", "client_secret": strings.Repeat("x", 32), "signing_alg": "RS256"},
			`signing_alg: "RS256" does not fit client_auth client_secret_jwt`},
		{"jwt without client_id", map[string]interface{}{"token_url": "http://127.0.0.1/v/token", "client_auth": "private_key_jwt"}, "client_id: required"},
		{"login with jwt", map[string]interface{}{"token_url": "http://127.0.0.1/v/token", "grant_type": "login", "username": "u", "password": "p", "client_auth": "private_key_jwt"},
			"client_auth: private_key_jwt needs an OAuth grant"},
		{"tls without cert", map[string]interface{}{"token_url": "https://127.0.0.1/v/token", "client_id": "c", "client_auth": "tls_client_auth"}, "tls_client_cert: required"},
		{"tls key without cert", map[string]interface{}{"token_url": "https://127.0.0.1/v/token", "client_id": "c", "client_secret": "s", "tls_client_key": good}, "tls_client_cert: required with tls_client_key"},
		{"tls cert without key", map[string]interface{}{"token_url": "https://127.0.0.1/v/token", "client_id": "c", "client_secret": "s", "tls_client_cert": rsaCert}, "tls_client_key: required with tls_client_cert"},
		{"tls mismatch", map[string]interface{}{"token_url": "https://127.0.0.1/v/token", "client_id": "c", "client_secret": "s", "tls_client_cert": rsaCert, "tls_client_key": ec}, "tls_client_key: does not match tls_client_cert"},
		{"tls over http", map[string]interface{}{"token_url": "http://127.0.0.1/v/token", "client_id": "c", "client_secret": "s", "tls_client_cert": rsaCert, "tls_client_key": good}, "tls_client_cert: token_url is http"},
		{"client_assertion param", map[string]interface{}{"token_url": "http://127.0.0.1/v/token", "client_id": "c", "client_secret": "s", "params": map[string]interface{}{"client_assertion": "x"}}, `params: "client_assertion" is set from its own field`},
		{"issuer scheme", map[string]interface{}{"token_url": "http://127.0.0.1/v/token", "client_id": "c", "client_secret": "s", "issuer": "http://auth.example.com"}, "issuer: must be https"},
		{"issuer query", map[string]interface{}{"client_id": "c", "client_secret": "s", "issuer": "https://auth.example.com/?tenant=1"}, "issuer: must not have a query"},
		{"empty private_key", base(map[string]interface{}{"private_key": ""}), "private_key: is empty"},
		{"bad signing_alg", map[string]interface{}{"token_url": "http://127.0.0.1/v/token", "client_id": "c", "client_secret": "s", "signing_alg": "none"}, "signing_alg:"},
		// A bundle pasted whole into a readable field would be shown by
		// every read, key included.
		{"key in tls_client_cert", map[string]interface{}{"token_url": "https://127.0.0.1/v/token", "client_id": "c", "client_secret": "s", "tls_client_cert": rsaCert + good, "tls_client_key": good},
			`tls_client_cert: has a "PRIVATE KEY" PEM block`},
		{"key in certificate", base(map[string]interface{}{"private_key": good, "certificate": rsaCert + good}), `certificate: has a "PRIVATE KEY" PEM block`},
		// certificate is readable whatever client_auth is: a bundle is
		// refused under body, basic and tls_client_auth too (issue 17.2).
		{"key in certificate, client_auth body", map[string]interface{}{"token_url": "https://127.0.0.1/v/token", "client_id": "c", "client_secret": "s", "certificate": rsaCert + good},
			`certificate: has a "PRIVATE KEY" PEM block`},
		{"key in certificate, client_auth basic", map[string]interface{}{"token_url": "https://127.0.0.1/v/token", "client_id": "c", "client_secret": "s", "client_auth": "basic", "certificate": good + rsaCert},
			`certificate: has a "PRIVATE KEY" PEM block`},
		{"key in certificate, client_auth tls_client_auth", map[string]interface{}{"token_url": "https://127.0.0.1/v/token", "client_id": "c", "client_auth": "tls_client_auth", "tls_client_cert": rsaCert, "tls_client_key": good, "certificate": rsaCert + good},
			`certificate: has a "PRIVATE KEY" PEM block`},
		{"text in certificate, client_auth body", map[string]interface{}{"token_url": "https://127.0.0.1/v/token", "client_id": "c", "client_secret": "s", "certificate": "not a certificate"},
			"certificate: holds text outside PEM blocks"},
		{"key in ca_cert", map[string]interface{}{"token_url": "https://127.0.0.1/v/token", "client_id": "c", "client_secret": "s", "ca_cert": rsaCert + good}, `ca_cert: has a "PRIVATE KEY" PEM block`},
		{"bare base64 in ca_cert", map[string]interface{}{"token_url": "https://127.0.0.1/v/token", "client_id": "c", "client_secret": "s", "ca_cert": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n" + rsaCert}, "ca_cert: holds text outside PEM blocks"},
		{"audience off host", base(map[string]interface{}{"assertion_audience": "https://other.example/token"}), "assertion_audience: \"https://other.example/token\" is not on the token endpoint's host"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := newTestEnv(t)
			resp, err := env.do(logical.UpdateOperation, "config/v", c.data)
			if err != nil || resp == nil || !resp.IsError() {
				t.Fatalf("resp %v, err %v: want a 400", resp, err)
			}
			msg := resp.Error().Error()
			if !strings.HasPrefix(msg, c.want) && !strings.Contains(msg, c.want) {
				t.Fatalf("error %q, want %q", msg, c.want)
			}
			for _, k := range []string{good, ec, small, p384} {
				for _, s := range oauth.KeySecrets(k) {
					if strings.Contains(msg, s[:min(len(s), 40)]) {
						t.Fatalf("error %q quotes key material", msg)
					}
				}
			}
		})
	}
}

// TestAssertionRedacted: a vendor that echoes the request puts the
// assertion in its error; no reader or log sees it.
func TestAssertionRedacted(t *testing.T) {
	env, v, cap := jwtEnv(t)
	env.write("config/echo", jwtConfig("echo", nil))
	v.setMode("echo", vendorMode{status: 400, oauthError: "invalid_client", echo: true})
	_, err := env.do(logical.ReadOperation, "creds/echo", nil)
	if err == nil {
		t.Fatal("want the vendor's error")
	}
	assertion := cap.last(t).Get("client_assertion")
	sig := assertion[strings.LastIndexByte(assertion, '.')+1:]
	for _, where := range []string{err.Error(), env.logs.String()} {
		if strings.Contains(where, sig) || strings.Contains(where, url.QueryEscape(assertion)) {
			t.Fatalf("the assertion leaked: %s", where)
		}
	}
	st := env.read("status/echo").Data["last_error"].(string)
	if strings.Contains(st, sig) || !strings.Contains(st, "invalid_client") {
		t.Fatalf("status last_error %q", st)
	}
}

// TestClientAuthAccepted: what the review found refused that must not be.
func TestClientAuthAccepted(t *testing.T) {
	env, _, _ := jwtEnv(t)
	// A public client of the password grant (RFC 6749 4.3) sends no secret.
	env.write("config/public", map[string]interface{}{
		"token_url": "http://127.0.0.1/public/token", "grant_type": "password", "client_id": "pub", "username": "u", "password": "p",
	})
	// openssl ecparam -genkey writes EC PARAMETERS before the key.
	k, ec := testkit.ECKeyPEM(t, elliptic.P256(), true)
	env.write("config/ec", jwtConfig("ec", map[string]interface{}{"private_key": "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n" + ec}))
	if read := env.read("config/ec").Data; read["key_type"] != "ec" || read["signing_alg"] != "ES256" {
		t.Fatalf("read %v", read)
	}
	_ = k
	// A written key replaces a generated one of another type: key_type
	// follows the key unless given.
	env.write("config/gen", jwtConfig("gen", nil))
	env.write("config/gen", map[string]interface{}{"private_key": ec})
	if read := env.read("config/gen").Data; read["key_type"] != "ec" || read["kid"] != kidOf(ec) {
		t.Fatalf("read %v", read)
	}
	// An audience off the token host is signed for when the key is given.
	_, rsaKey := testkit.RSAKeyPEM(t, 2048, false)
	env.write("config/aud", jwtConfig("aud", map[string]interface{}{"private_key": rsaKey, "assertion_audience": "https://tenant.example/"}))
	// ...and a later write moving token_url without the key is refused.
	resp, _ := env.do(logical.UpdateOperation, "config/aud", map[string]interface{}{"token_url": "http://127.0.0.2/aud/token"})
	if resp == nil || !resp.IsError() || !strings.Contains(resp.Error().Error(), "assertion_audience") {
		t.Fatalf("moving token_url under a foreign audience: %v", resp)
	}
	// A body config shows no assertion_audience or kid.
	env.write("config/plain", fakeVendorConfig("plain", "s3cret-value"))
	if read := env.read("config/plain").Data; read["assertion_audience"] != "" || read["kid"] != nil {
		t.Fatalf("read %v", read)
	}
}
