//go:build e2e

package e2e

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// The tests here run the plugin against panva's oidc-provider (an OpenID
// Certified authorization server, e2e/oidc/server.mjs): a grant that works
// here works because a real server's client authentication accepted it.
// Every served token is checked by introspection (RFC 7662), so it is the
// server's and live.

// oidcSecret invents a client secret the leak scans look for. 48 bytes:
// HS256 keys must be at least 32 (RFC 7518 3.2; go-jose refuses shorter).
// The symbols exercise form and Basic encoding (RFC 6749 2.3.1).
func oidcSecret(label, clientID string) string {
	s := "oidc-" + label + "-secret+/=%:&-" + randomHex(16)
	addSecret("oidc "+label+" client_secret", s, clientID)
	return s
}

// client_secret_post is client_auth=body, client_secret_basic is basic
// (oidc-provider takes either secret method for a client registered with
// one: the simulator's tests prove which one the plugin sent). The secret's
// + / = % : & prove the Basic credentials are form-encoded first (RFC 6749
// 2.3.1): oidc-provider decodes them, a '+' sent raw would become a space.
func TestOIDCClientSecretPostAndBasic(t *testing.T) {
	postSecret, basicSecret := oidcSecret("post", "e2e-post"), oidcSecret("basic", "e2e-basic")
	srv := startOIDC(t, oidcConfig{Clients: []map[string]any{
		secretClient("e2e-post", "client_secret_post", postSecret),
		secretClient("e2e-basic", "client_secret_basic", basicSecret),
	}})
	cases := []struct{ clientAuth, clientID, secret string }{
		{"body", "e2e-post", postSecret},
		{"basic", "e2e-basic", basicSecret},
	}
	for _, c := range cases {
		t.Run(c.clientAuth, func(t *testing.T) {
			name := "oidc-" + c.clientAuth
			writeConfig(t, name, map[string]any{"token_url": srv.tokenURL(), "client_auth": c.clientAuth,
				"client_id": c.clientID, "client_secret": c.secret, "verify": true})
			srv.mustBeActive(t, accessToken(t, readCreds(t, name)), c.clientID)
		})
	}
	t.Run("wrong secret", func(t *testing.T) {
		_, err := env.vault.Logical().Write(mountPath+"/config/oidc-wrong-secret", map[string]any{
			"token_url": srv.tokenURL(), "client_id": "e2e-post", "client_secret": basicSecret})
		// The verifying grant gets oidc-provider's 401 invalid_client.
		mustBeRefused(t, "oidc-wrong-secret", err, "invalid_client")
	})
}

// RFC 8707: params=resource=... asks for a token for one resource server;
// oidc-provider answers with an RFC 9068 JWT, whose signature the test
// checks against the server's own JWKS, and whose aud is the resource.
func TestOIDCResourceIndicator(t *testing.T) {
	const resource = "https://api.e2e.test/"
	secret := oidcSecret("resource", "e2e-resource")
	client := secretClient("e2e-resource", "client_secret_post", secret)
	client["scope"] = "api:read"
	srv := startOIDC(t, oidcConfig{Clients: []map[string]any{client},
		Resources: map[string]oidcResource{resource: {Scope: "api:read api:write"}}})
	writeConfig(t, "oidc-resource", map[string]any{"token_url": srv.tokenURL(), "client_id": "e2e-resource",
		"client_secret": secret, "params": map[string]any{"resource": resource}, "scopes": "api:read", "verify": true})
	creds := readCreds(t, "oidc-resource")
	tok := accessToken(t, creds)

	claims := verifyAccessToken(t, srv, tok)
	if claims["aud"] != resource || claims["iss"] != srv.issuer || claims["client_id"] != "e2e-resource" || claims["scope"] != "api:read" {
		t.Fatalf("access token claims: want aud %s, iss %s, client_id e2e-resource, scope api:read; got %v", resource, srv.issuer, claims)
	}
	exp, ok := claims["exp"].(float64)
	if !ok {
		t.Fatalf("access token without exp: %v", claims)
	}
	// The lifetime is counted from when the request was sent: never later
	// than the token's own exp.
	if at := expiresAt(t, creds); at.After(time.Unix(int64(exp), 0)) {
		t.Errorf("expires_at %s is after the JWT's exp %s", at, time.Unix(int64(exp), 0))
	}
}

// verifyAccessToken checks tok is a JWT signed by one of the server's keys
// (RS256, typ at+jwt: RFC 9068 2.1) and returns its claims.
func verifyAccessToken(t *testing.T, srv *oidcServer, tok string) map[string]any {
	t.Helper()
	jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("the served token is not a JWS: %v", err)
	}
	h := jws.Signatures[0].Header
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != "at+jwt" {
		t.Errorf("access token typ %q, want at+jwt", typ)
	}
	set := srv.jwks(t)
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("oidc-provider's JWKS has %d keys with kid %q", len(keys), h.KeyID)
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Fatalf("access token signature: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

// client_secret_jwt: an HS256 assertion keyed by the client secret.
func TestOIDCClientSecretJWT(t *testing.T) {
	secret := oidcSecret("hs256", "e2e-hs256")
	client := secretClient("e2e-hs256", "client_secret_jwt", secret)
	client["token_endpoint_auth_signing_alg"] = "HS256"
	srv := startOIDC(t, oidcConfig{Clients: []map[string]any{client}})
	writeConfig(t, "oidc-hs256", map[string]any{"token_url": srv.tokenURL(), "client_auth": "client_secret_jwt",
		"signing_alg": "HS256", "client_id": "e2e-hs256", "client_secret": secret, "verify": true})
	srv.mustBeActive(t, accessToken(t, readCreds(t, "oidc-hs256")), "e2e-hs256")
	grantTwice(t, srv, "oidc-hs256", "e2e-hs256")
}

// grantTwice runs two grants in a row (rotate/<name>), each with a fresh
// assertion: oidc-provider remembers every jti until the assertion
// expires and refuses one it has seen ("client assertion tokens must only
// be used once"), so both succeeding proves a unique jti per request
// (RFC 7523 3 item 7).
func grantTwice(t *testing.T, srv *oidcServer, name, clientID string) {
	t.Helper()
	for i := 1; i <= 2; i++ {
		if _, err := env.vault.Logical().Write(mountPath+"/rotate/"+name, nil); err != nil {
			t.Fatalf("grant %d in a row (rotate/%s): %v", i, name, err)
		}
	}
	srv.mustBeActive(t, accessToken(t, readCreds(t, name)), clientID)
}

// private_key_jwt with a key Vault generates: the vendor knows it from
// jwks/<name> (its jwks_uri), read without a Vault token.
func TestOIDCPrivateKeyJWTGenerated(t *testing.T) {
	cases := []struct{ keyType, alg string }{
		{"rsa", "RS256"},
		{"rsa", "PS256"},
		{"ec", "ES256"},
	}
	var clients []map[string]any
	for _, c := range cases {
		clients = append(clients, jwksURIClient("e2e-gen-"+c.alg, vaultJWKSURL("oidc-gen-"+c.alg)))
	}
	srv := startOIDC(t, oidcConfig{Clients: clients})
	for _, c := range cases {
		t.Run(c.alg, func(t *testing.T) {
			name, clientID := "oidc-gen-"+c.alg, "e2e-gen-"+c.alg
			// A generated key is unknown to the vendor until it fetches
			// the JWKS: such a write cannot be verified.
			writeConfig(t, name, map[string]any{"token_url": srv.tokenURL(), "client_auth": "private_key_jwt",
				"key_type": c.keyType, "signing_alg": c.alg, "client_id": clientID})
			set := readPublicJWKS(t, name)
			if len(set.Keys) != 1 || set.Keys[0].Algorithm != c.alg {
				t.Fatalf("jwks/%s: want one %s key, got %+v", name, c.alg, set.Keys)
			}
			mustReadConfigFlag(t, name, "private_key_set", true)
			srv.mustBeActive(t, accessToken(t, readCreds(t, name)), clientID)
			grantTwice(t, srv, name, clientID)
		})
	}
}

// publicJWKMembers are the members a public JWKS may hold (RFC 7517 4,
// RFC 7518 6.2.1 and 6.3.1); d, p, q, dp, dq, qi, oth and k are private.
var publicJWKMembers = map[string]bool{"kty": true, "kid": true, "use": true, "alg": true, "n": true, "e": true,
	"crv": true, "x": true, "y": true, "x5c": true, "x5t#S256": true, "x5t": true, "key_ops": true}

// readPublicJWKS reads jwks/<name> as a vendor does, with no Vault token,
// and checks it holds public keys only, each with kid = its RFC 7638
// thumbprint.
func readPublicJWKS(t *testing.T, name string) jose.JSONWebKeySet {
	t.Helper()
	set := readJWKS(t, name)
	for _, k := range set.Keys {
		if k.KeyID != thumbprint(t, k) {
			t.Errorf("jwks/%s: want kid = RFC 7638 thumbprint %s, got kid %q", name, thumbprint(t, k), k.KeyID)
		}
	}
	return set
}

// readJWKS reads jwks/<name> as a vendor does, with no Vault token, and
// checks it holds public signing keys only, whatever their kid (key_id
// names a key the vendor assigned: Google's private_key_id).
func readJWKS(t *testing.T, name string) jose.JSONWebKeySet {
	t.Helper()
	resp, err := httpClient(10 * time.Second).Get(vaultJWKSURL(name))
	if err != nil {
		t.Fatalf("jwks/%s: %v", name, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("jwks/%s without a Vault token: HTTP %d: %s", name, resp.StatusCode, body)
	}
	noSecrets(t, "jwks/"+name, string(body))
	var raw struct {
		Keys []map[string]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatalf("jwks/%s is not a raw JWKS: %v: %s", name, err, body)
	}
	for _, k := range raw.Keys {
		for member := range k {
			if !publicJWKMembers[member] {
				t.Errorf("jwks/%s: key member %q is not a public one", name, member)
			}
		}
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatalf("jwks/%s: %v", name, err)
	}
	for _, k := range set.Keys {
		if !k.IsPublic() || k.Use != "sig" {
			t.Errorf("jwks/%s: want a public sig key, got kid %q use %q public %v", name, k.KeyID, k.Use, k.IsPublic())
		}
	}
	return set
}

// thumbprint is the RFC 7638 SHA-256 thumbprint, base64url.
func thumbprint(t *testing.T, k jose.JSONWebKey) string {
	t.Helper()
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

// mustReadConfigFlag reads config/<name> and checks a boolean field.
func mustReadConfigFlag(t *testing.T, name, field string, want bool) map[string]any {
	t.Helper()
	status, body := rawRequest(t, http.MethodGet, mountPath+"/config/"+name, nil)
	if status != http.StatusOK {
		t.Fatalf("read config/%s: %d %s", name, status, body)
	}
	noSecrets(t, "read config/"+name, body)
	var out struct {
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	if out.Data[field] != want {
		t.Errorf("read config/%s: %s = %v, want %v", name, field, out.Data[field], want)
	}
	return out.Data
}

// private_key_jwt with a key the operator supplies (write-only
// private_key) and uploads to the vendor: oidc-provider has the public
// half inline (jwks), kid = its thumbprint as the plugin sends it.
func TestOIDCPrivateKeyJWTSupplied(t *testing.T) {
	cases := []struct {
		name, alg string
		key       crypto.Signer
		der       func(crypto.Signer) ([]byte, string)
	}{
		{"rsa-pkcs8", "RS256", rsaKey(t), pkcs8},
		{"rsa-pkcs1", "RS256", rsaKey(t), func(k crypto.Signer) ([]byte, string) {
			return x509.MarshalPKCS1PrivateKey(k.(*rsa.PrivateKey)), "RSA PRIVATE KEY"
		}},
		{"ec-pkcs8", "ES256", ecKey(t), pkcs8},
		{"ec-sec1", "ES256", ecKey(t), func(k crypto.Signer) ([]byte, string) {
			der, _ := x509.MarshalECPrivateKey(k.(*ecdsa.PrivateKey))
			return der, "EC PRIVATE KEY"
		}},
	}
	var clients []map[string]any
	for _, c := range cases {
		clients = append(clients, jwksClient("e2e-sup-"+c.name, publicJWK(t, c.key, c.alg)))
	}
	srv := startOIDC(t, oidcConfig{Clients: clients})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name, clientID := "oidc-sup-"+c.name, "e2e-sup-"+c.name
			der, typ := c.der(c.key)
			keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
			addKeySecret(t, "oidc "+c.name+" private_key", keyPEM)
			writeConfig(t, name, map[string]any{"token_url": srv.tokenURL(), "client_auth": "private_key_jwt",
				"private_key": keyPEM, "signing_alg": c.alg, "client_id": clientID, "verify": true})
			mustReadConfigFlag(t, name, "private_key_set", true)
			set := readPublicJWKS(t, name)
			if want := publicJWK(t, c.key, c.alg).KeyID; len(set.Keys) != 1 || set.Keys[0].KeyID != want {
				t.Errorf("jwks/%s: want the supplied key's kid %s, got %+v", name, want, set.Keys)
			}
			srv.mustBeActive(t, accessToken(t, readCreds(t, name)), clientID)
			grantTwice(t, srv, name, clientID)
		})
	}
}

func rsaKey(t *testing.T) crypto.Signer {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ecKey(t *testing.T) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pkcs8(k crypto.Signer) ([]byte, string) {
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	return der, "PRIVATE KEY"
}

// publicJWK is what an operator uploads to the vendor: the public half,
// kid = RFC 7638 thumbprint.
func publicJWK(t *testing.T, k crypto.Signer, alg string) jose.JSONWebKey {
	t.Helper()
	jwk := jose.JSONWebKey{Key: k.Public(), Algorithm: alg, Use: "sig"}
	jwk.KeyID = thumbprint(t, jwk)
	return jwk
}

// issuer= discovers token_url from /.well-known/openid-configuration, shows
// it on read, and refuses a client_auth the server does not list.
func TestOIDCDiscovery(t *testing.T) {
	secret := oidcSecret("discovery", "e2e-discovery")
	srv := startOIDC(t, oidcConfig{
		Clients: []map[string]any{secretClient("e2e-discovery", "client_secret_post", secret)},
		// No client_secret_basic: the refusal below.
		ClientAuthMethods: []string{"client_secret_post", "private_key_jwt"},
	})
	writeConfig(t, "oidc-discovery", map[string]any{"issuer": srv.issuer, "client_auth": "body",
		"client_id": "e2e-discovery", "client_secret": secret, "verify": true})
	data := mustReadConfigFlag(t, "oidc-discovery", "client_secret_set", true)
	if want := srv.discovery(t)["token_endpoint"]; data["token_url"] != want || want != srv.tokenURL() {
		t.Errorf("read config: token_url %v, want the discovered %v", data["token_url"], want)
	}
	if data["issuer"] != srv.issuer {
		t.Errorf("read config: issuer %v, want %s", data["issuer"], srv.issuer)
	}
	srv.mustBeActive(t, accessToken(t, readCreds(t, "oidc-discovery")), "e2e-discovery")

	t.Run("client_auth the server does not list", func(t *testing.T) {
		_, err := env.vault.Logical().Write(mountPath+"/config/oidc-discovery-basic", map[string]any{
			"issuer": srv.issuer, "client_auth": "basic", "client_id": "e2e-discovery",
			"client_secret": secret, "verify": false})
		mustBeRefused(t, "oidc-discovery-basic", err, "client_auth")
		if s, err := env.vault.Logical().Read(mountPath + "/config/oidc-discovery-basic"); err != nil || s != nil {
			t.Errorf("the refused write stored something: %v %v", s, err)
		}
	})

	// oidc-provider publishes its issuer exactly as configured (no slash):
	// the exact comparison of OIDC Discovery 4.3 needs no exception for it,
	// and an issuer written with a slash is not the one it publishes.
	t.Run("issuer with a trailing slash the server does not publish", func(t *testing.T) {
		_, err := env.vault.Logical().Write(mountPath+"/config/oidc-discovery-slash", map[string]any{
			"issuer": srv.issuer + "/", "client_auth": "body", "client_id": "e2e-discovery",
			"client_secret": secret, "verify": true})
		mustBeRefused(t, "oidc-discovery-slash", err, "trailing slash")
	})
}
