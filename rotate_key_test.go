package oauthvendor

import (
	"context"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/testkit"
)

func kidsOf(set jose.JSONWebKeySet) []string {
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.KeyID)
	}
	return out
}

func assertionKid(t *testing.T, form url.Values) string {
	t.Helper()
	tok, err := jwt.ParseSigned(form.Get("client_assertion"), []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.PS256})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Headers[0].KeyID
}

// TestRotateKeyPublishSwitch: publish puts the next key in the JWKS while
// the current one signs; a verified switch signs with the new key and
// unpublishes the old; the cached token keeps serving throughout.
func TestRotateKeyPublishSwitch(t *testing.T) {
	env, v, cap := jwtEnv(t)
	old := env.write("config/app", jwtConfig("app", nil)).Data["kid"].(string)
	env.read("creds/app")
	pub := env.write("rotate-key/app", map[string]interface{}{"step": "publish", "key_type": "ec"}).Data
	next := pub["next_kid"].(string)
	if pub["current_kid"] != old || next == "" || next == old || !strings.Contains(pub["next_public_key"].(string), "PUBLIC KEY") {
		t.Fatalf("publish answered %v", pub)
	}
	if jwk := pub["next_jwk"].(map[string]interface{}); jwk["kid"] != next || jwk["d"] != nil {
		t.Fatalf("next_jwk %v", jwk)
	}
	set, _ := readJWKS(t, env, "app")
	if got := kidsOf(set); len(got) != 2 || got[0] != old || got[1] != next {
		t.Fatalf("jwks kids %v, want [%s %s]", got, old, next)
	}
	if read := env.read("config/app").Data; read["kid"] != old || read["next_kid"] != next {
		t.Fatalf("read %v", read)
	}
	before := len(v.requests("app"))
	env.mustOK(logical.UpdateOperation, "rotate/app", nil)
	if kid := assertionKid(t, cap.last(t)); kid != old {
		t.Fatalf("after publish the assertion is signed by %s, want the current key %s", kid, old)
	}
	// A second publish is refused while one is pending.
	if resp, _ := env.do(logical.UpdateOperation, "rotate-key/app", map[string]interface{}{"step": "publish"}); resp == nil || !resp.IsError() ||
		!strings.Contains(resp.Error().Error(), "already published") {
		t.Fatalf("second publish: %v", resp)
	}
	sw := env.write("rotate-key/app", map[string]interface{}{"step": "switch"}).Data
	if sw["current_kid"] != next || sw["next_kid"] != nil || sw["expires_at"] == "" {
		t.Fatalf("switch answered %v", sw)
	}
	if kid := assertionKid(t, cap.last(t)); kid != next {
		t.Fatalf("the verifying grant was signed by %s, want %s", kid, next)
	}
	set, _ = readJWKS(t, env, "app")
	if got := kidsOf(set); len(got) != 1 || got[0] != next {
		t.Fatalf("after switch jwks kids %v, want [%s]", got, next)
	}
	// The verified token is what readers get: no further grant.
	n := len(v.requests("app"))
	env.read("creds/app")
	if len(v.requests("app")) != n || n != before+2 {
		t.Fatalf("vendor requests %d -> %d (before %d): the switch's token must serve", n, len(v.requests("app")), before)
	}
	if read := env.read("config/app").Data; read["key_type"] != "ec" || read["signing_alg"] != "ES256" {
		t.Fatalf("after switching to an EC key: %v", read)
	}
}

// TestRotateKeyRefusedSwitch: a vendor that does not know the new key yet
// refuses the verifying grant; the old key keeps signing, both stay
// published, and readers keep their token.
func TestRotateKeyRefusedSwitch(t *testing.T) {
	env, v, cap := jwtEnv(t)
	old := env.write("config/app", jwtConfig("app", nil)).Data["kid"].(string)
	tok := env.read("creds/app").Data["access_token"]
	v.setMode("app", vendorMode{status: 401, oauthError: "invalid_client"})
	resp, err := env.do(logical.UpdateOperation, "rotate-key/app", map[string]interface{}{})
	if err != nil || resp == nil || !resp.IsError() {
		t.Fatalf("auto with a refusing vendor: %v %v", resp, err)
	}
	msg := resp.Error().Error()
	if !strings.Contains(msg, "invalid_client") || !strings.Contains(msg, "step=switch") || !strings.Contains(msg, "current key keeps signing") {
		t.Fatalf("error %q", msg)
	}
	set, _ := readJWKS(t, env, "app")
	if got := kidsOf(set); len(got) != 2 || got[0] != old {
		t.Fatalf("jwks kids %v: both must stay published", got)
	}
	if got := env.read("creds/app").Data["access_token"]; got != tok {
		t.Fatal("a refused switch changed what readers get")
	}
	// The vendor learns the key: a switch completes the rotation.
	v.setMode("app", vendorMode{})
	next := kidsOf(set)[1]
	if sw := env.write("rotate-key/app", map[string]interface{}{"step": "switch"}).Data; sw["current_kid"] != next {
		t.Fatalf("switch %v", sw)
	}
	if assertionKid(t, cap.last(t)) != next {
		t.Fatal("switch did not sign with the new key")
	}
}

// TestRotateKeyCancelAndUnverified: cancel drops the pending key; an
// unverified switch keeps the cached token (same generation) and the next
// grant signs with the new key.
func TestRotateKeyCancelAndUnverified(t *testing.T) {
	env, _, cap := jwtEnv(t)
	old := env.write("config/app", jwtConfig("app", nil)).Data["kid"].(string)
	env.write("rotate-key/app", map[string]interface{}{"step": "publish"})
	if c := env.write("rotate-key/app", map[string]interface{}{"step": "cancel"}).Data; c["current_kid"] != old || c["next_kid"] != nil {
		t.Fatalf("cancel %v", c)
	}
	if set, _ := readJWKS(t, env, "app"); len(set.Keys) != 1 {
		t.Fatal("cancel left the next key published")
	}
	_, supplied := testkit.RSAKeyPEM(t, 2048, false)
	next := env.write("rotate-key/app", map[string]interface{}{"step": "publish", "private_key": supplied}).Data["next_kid"]
	if next != kidOf(supplied) {
		t.Fatal("publish did not take the supplied key")
	}
	tok := env.read("creds/app").Data["access_token"]
	env.write("rotate-key/app", map[string]interface{}{"step": "switch", "verify": false})
	if got := env.read("creds/app").Data["access_token"]; got != tok {
		t.Fatal("an unverified switch dropped the still-valid token")
	}
	env.mustOK(logical.UpdateOperation, "rotate/app", nil)
	if assertionKid(t, cap.last(t)) != next {
		t.Fatal("after an unverified switch the grant is not signed by the new key")
	}
}

// TestRotateKeyRefusals: rotate-key needs a private_key_jwt config, a
// pending key for switch and cancel, and a fitting next key.
func TestRotateKeyRefusals(t *testing.T) {
	env, _, _ := jwtEnv(t)
	env.write("config/plain", fakeVendorConfig("plain", "s3cret-value"))
	env.write("config/app", jwtConfig("app", map[string]interface{}{"signing_alg": "PS256"}))
	_, ec := testkit.ECKeyPEM(t, elliptic.P256(), false)
	cases := []struct {
		path string
		data map[string]interface{}
		want string
	}{
		{"rotate-key/plain", nil, "uses client_auth body; only private_key_jwt"},
		{"rotate-key/app", map[string]interface{}{"step": "switch"}, "no next key is published"},
		{"rotate-key/app", map[string]interface{}{"step": "cancel"}, "no next key is published"},
		{"rotate-key/app", map[string]interface{}{"step": "publish", "private_key": ec}, `signing_alg: "PS256" does not fit an ec key`},
		{"rotate-key/app", map[string]interface{}{"step": "publish", "private_key": "garbage-key-text"}, "private_key: no PEM block found"},
		{"rotate-key/app", map[string]interface{}{"step": "sideways"}, "step"},
		{"rotate-key/app", map[string]interface{}{"private_key": map[string]interface{}{"k": "secret-in-a-map"}}, "private_key: must be a string"},
	}
	for _, c := range cases {
		resp, err := env.do(logical.UpdateOperation, c.path, c.data)
		if err != nil || resp == nil || !resp.IsError() || !strings.Contains(resp.Error().Error(), c.want) {
			t.Fatalf("%s %v: %v %v, want %q", c.path, c.data, resp, err, c.want)
		}
		if strings.Contains(resp.Error().Error(), "secret-in-a-map") || strings.Contains(resp.Error().Error(), "garbage-key-text") {
			t.Fatalf("error quotes the key: %v", resp.Error())
		}
	}
	if _, err := env.do(logical.UpdateOperation, "rotate-key/missing", nil); codedStatus(err) != 404 {
		t.Fatalf("rotate-key of a missing config: %v", err)
	}
	if _, err := env.do(logical.ReadOperation, "jwks/missing", nil); codedStatus(err) != 404 {
		t.Fatalf("jwks of a missing config: %v", err)
	}
}

// TestJWKSUnauthenticated: the backend lists jwks/, the issuer's two
// documents and the consents' callback as unauthenticated, and nothing
// else.
func TestJWKSUnauthenticated(t *testing.T) {
	env := newTestEnv(t)
	special := env.b.SpecialPaths()
	want := []string{"jwks/*", ".well-known/openid-configuration", ".well-known/keys", "callback"}
	if !reflect.DeepEqual(special.Unauthenticated, want) {
		t.Fatalf("unauthenticated paths %v, want %v", special.Unauthenticated, want)
	}
}

// TestRotateKeyAlgorithmsAndCertificates: the next key is held to what it
// will sign with at every write, a certified key rotates to a certified
// key, and a step refuses fields it would drop.
func TestRotateKeyAlgorithmsAndCertificates(t *testing.T) {
	env, _, cap := jwtEnv(t)
	env.write("config/app", jwtConfig("app", map[string]interface{}{"signing_alg": "RS256"}))
	refused := func(path string, data map[string]interface{}, want string) {
		t.Helper()
		resp, err := env.do(logical.UpdateOperation, path, data)
		if err != nil || resp == nil || !resp.IsError() || !strings.Contains(resp.Error().Error(), want) {
			t.Fatalf("%s %v: %v %v, want %q", path, data, resp, err, want)
		}
	}
	refused("rotate-key/app", map[string]interface{}{"step": "publish", "key_type": "ec"}, `signing_alg: "RS256" does not fit an ec key`)
	next := env.write("rotate-key/app", map[string]interface{}{"step": "publish", "key_type": "ec", "signing_alg": "ES256"}).Data["next_kid"].(string)
	set, _ := readJWKS(t, env, "app")
	if k := set.Key(next); len(k) != 1 || k[0].Algorithm != "ES256" {
		t.Fatalf("next key in the JWKS: %+v", k)
	}
	// The current key's algorithm cannot be set to one the next key
	// would then be published under... and the next key keeps its own.
	refused("config/app", map[string]interface{}{"signing_alg": "ES256"}, `signing_alg: "ES256" does not fit an rsa key`)
	refused("rotate-key/app", map[string]interface{}{"step": "switch", "key_type": "rsa"}, "key_type: step=switch does not make a key")
	refused("rotate-key/app", map[string]interface{}{"verify": false}, "verify: step=auto with verify=false")
	env.write("rotate-key/app", map[string]interface{}{"step": "switch"})
	if read := env.read("config/app").Data; read["signing_alg"] != "ES256" || read["key_type"] != "ec" {
		t.Fatalf("after the switch: %v", read)
	}
	if tok, _ := jwt.ParseSigned(cap.last(t).Get("client_assertion"), []jose.SignatureAlgorithm{jose.ES256}); tok == nil {
		t.Fatal("the switch's grant was not ES256")
	}

	rsaKey, pemKey := testkit.RSAKeyPEM(t, 2048, false)
	env.write("config/entra", jwtConfig("entra", map[string]interface{}{"private_key": pemKey, "certificate": testkit.SelfSigned(t, rsaKey, "app")}))
	refused("rotate-key/entra", map[string]interface{}{"step": "publish"}, "certificate: the current key has one")
	nextKey, nextPEM := testkit.RSAKeyPEM(t, 2048, false)
	refused("rotate-key/entra", map[string]interface{}{"step": "publish", "private_key": nextPEM, "certificate": testkit.SelfSigned(t, rsaKey, "old")}, "certificate: is not the certificate of private_key")
	env.write("rotate-key/entra", map[string]interface{}{"step": "publish", "private_key": nextPEM, "certificate": testkit.SelfSigned(t, nextKey, "next")})
	env.write("rotate-key/entra", map[string]interface{}{"step": "switch"})
	tok, _ := jwt.ParseSigned(cap.last(t).Get("client_assertion"), []jose.SignatureAlgorithm{jose.RS256})
	if tok == nil || tok.Headers[0].ExtraHeaders["x5t#S256"] == nil || tok.Headers[0].KeyID != kidOf(nextPEM) {
		t.Fatal("after rotating a certified key the assertion lacks the new key's x5t#S256")
	}
}

// jwksFetchingVendor is a token endpoint that knows a client's keys only
// through its jwks_uri, as Okta, Keycloak and oidc-provider do: it keeps
// the JWKS it fetched and refetches jwks/<name> (through the backend, as
// Vault would route the vendor's GET) when an assertion's kid is not in
// it. A kid still unknown after the refetch, or a fetch that does not
// answer in time, is invalid_client.
type jwksFetchingVendor struct {
	t       *testing.T
	env     *testEnv
	v       *fakeVendor
	mu      sync.Mutex
	sets    map[string]jose.JSONWebKeySet
	fetches int
}

func (j *jwksFetchingVendor) RoundTrip(req *http.Request) (*http.Response, error) {
	name := strings.TrimSuffix(strings.TrimPrefix(req.URL.Path, "/"), "/token")
	body := requestBody(req)
	form, _ := url.ParseQuery(body)
	tok, err := jwt.ParseSigned(form.Get("client_assertion"), []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.PS256})
	if err != nil {
		return jsonResponse(req, http.StatusUnauthorized, map[string]interface{}{"error": "invalid_client"}), nil
	}
	kid := tok.Headers[0].KeyID
	j.mu.Lock()
	set := j.sets[name]
	j.mu.Unlock()
	if len(set.Key(kid)) == 0 {
		set = j.fetch(name)
	}
	keys := set.Key(kid)
	if len(keys) != 1 || tok.Claims(keys[0].Key, &jwt.Claims{}) != nil {
		return jsonResponse(req, http.StatusUnauthorized, map[string]interface{}{"error": "invalid_client"}), nil
	}
	req.Body = io.NopCloser(strings.NewReader(body))
	return j.v.RoundTrip(req)
}

// fetch reads jwks/<name> as the vendor's unauthenticated GET would; a
// read that waits (on a lock the grant holds) is given up after a bound,
// so that the bug fails the test rather than hanging it.
func (j *jwksFetchingVendor) fetch(name string) jose.JSONWebKeySet {
	j.mu.Lock()
	j.fetches++
	j.mu.Unlock()
	got := make(chan jose.JSONWebKeySet, 1)
	go func() {
		var set jose.JSONWebKeySet
		resp, err := j.env.b.HandleRequest(context.Background(), &logical.Request{
			Operation: logical.ReadOperation, Path: jwksPrefix + name, Storage: j.env.storage, Unauthenticated: true,
		})
		if err == nil && resp != nil {
			raw, _ := resp.Data[logical.HTTPRawBody].([]byte)
			_ = json.Unmarshal(raw, &set)
		}
		got <- set
	}()
	select {
	case set := <-got:
		j.mu.Lock()
		j.sets[name] = set
		j.mu.Unlock()
		return set
	case <-time.After(5 * time.Second):
		j.t.Errorf("jwks/%s did not answer within 5 s during a grant", name)
		return jose.JSONWebKeySet{}
	}
}

// TestRotateKeyAutoWithJWKSFetchingVendor (issue 17.1): step=auto succeeds
// in one call with a vendor that refetches the JWKS on an unknown kid.
// rotate-key holds the name lock through its verifying grant; jwks/<name>
// must not wait on it, or the vendor never sees the new key and refuses.
func TestRotateKeyAutoWithJWKSFetchingVendor(t *testing.T) {
	env, v, _ := jwtEnv(t)
	j := &jwksFetchingVendor{t: t, env: env, v: v, sets: map[string]jose.JSONWebKeySet{}}
	env.b.tuneHTTP = func(c *retryablehttp.Client) {
		c.HTTPClient.Transport = j
		c.RetryMax = 0
	}
	old := env.write("config/app", jwtConfig("app", nil)).Data["kid"].(string)
	env.read("creds/app")
	done := make(chan *logical.Response, 1)
	go func() {
		resp, err := env.do(logical.UpdateOperation, "rotate-key/app", nil)
		if err != nil {
			t.Errorf("rotate-key: %v", err)
		}
		done <- resp
	}()
	var resp *logical.Response
	select {
	case resp = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("rotate-key step=auto hung")
	}
	if resp == nil || resp.IsError() {
		t.Fatalf("rotate-key step=auto with a vendor that fetches the JWKS: %v", resp)
	}
	next := resp.Data["current_kid"]
	if next == old || next == "" || resp.Data["expires_at"] == nil {
		t.Fatalf("step=auto answered %v (old kid %s)", resp.Data, old)
	}
	if j.fetches != 2 {
		t.Fatalf("the vendor fetched the JWKS %d times, want 2 (first grant, new kid)", j.fetches)
	}
	if set, _ := readJWKS(t, env, "app"); len(set.Keys) != 1 || set.Keys[0].KeyID != next {
		t.Fatalf("jwks after step=auto: %v, want only %v", kidsOf(set), next)
	}
}

// TestRotateKeyRefusesCurrentKey (issue 21.6): the current key given as
// the next one (in another PEM form, too) is refused by publish and auto,
// naming private_key; nothing is published, so the JWKS never lists one
// kid twice.
func TestRotateKeyRefusesCurrentKey(t *testing.T) {
	env, _, _ := jwtEnv(t)
	k, pkcs8 := testkit.RSAKeyPEM(t, 2048, false)
	pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
	env.write("config/app", jwtConfig("app", map[string]interface{}{"private_key": pkcs8}))
	kid := kidOf(pkcs8)
	for _, step := range []string{"publish", "auto"} {
		for form, key := range map[string]string{"same PEM": pkcs8, "PKCS#1": pkcs1} {
			resp, err := env.do(logical.UpdateOperation, "rotate-key/app", map[string]interface{}{"step": step, "private_key": key})
			if err != nil || resp == nil || !resp.IsError() || !strings.HasPrefix(resp.Error().Error(), "private_key: is the current signing key (kid "+kid+")") {
				t.Fatalf("step=%s with the current key (%s): %v %v", step, form, resp, err)
			}
			if strings.Contains(resp.Error().Error(), "PRIVATE KEY") {
				t.Fatal("the refusal quotes the key")
			}
			if set, _ := readJWKS(t, env, "app"); len(set.Keys) != 1 || set.Keys[0].KeyID != kid {
				t.Fatalf("after a refused step=%s the JWKS lists %v", step, kidsOf(set))
			}
		}
	}
}
