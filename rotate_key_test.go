package oauthvendor

import (
	"crypto/elliptic"
	"net/url"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/hashicorp/vault/sdk/logical"
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
	_, supplied := rsaPEM(t, 2048, false)
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
	_, ec := ecPEM(t, elliptic.P256(), false)
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

// TestJWKSUnauthenticated: the backend lists jwks/ as unauthenticated, and
// nothing else.
func TestJWKSUnauthenticated(t *testing.T) {
	env := newTestEnv(t)
	special := env.b.SpecialPaths()
	if len(special.Unauthenticated) != 1 || special.Unauthenticated[0] != "jwks/*" {
		t.Fatalf("unauthenticated paths %v", special.Unauthenticated)
	}
}
