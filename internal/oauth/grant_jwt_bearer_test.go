package oauth

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// jwtBearerBody builds one jwt_bearer body for cfg (key generated) and
// returns the form and the key.
func jwtBearerBody(t *testing.T, cfg *Config) (url.Values, *SigningKey) {
	t.Helper()
	pemText, err := GenerateKey(KeyEC)
	if err != nil {
		t.Fatal(err)
	}
	cfg.PrivateKey, cfg.SigningAlg, cfg.GrantType = pemText, AlgES256, GrantJWTBearer
	k, err := ParsePrivateKey(pemText)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := clientAuthOf(cfg)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := newAssertionSigner(cfg, jwtBearerGrant, auth)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	src := &bodySource{cfg: cfg, grant: jwtBearerGrant, auth: auth, signer: signer, now: func() time.Time { return now }}
	b, err := src.build()
	if err != nil {
		t.Fatal(err)
	}
	form, err := url.ParseQuery(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return form, k
}

// TestJWTBearerBody: RFC 7523 2.1's grant_type and assertion, signed by
// the config's key (kid = its thumbprint), with every claim; no client
// credentials without a client_secret.
func TestJWTBearerBody(t *testing.T) {
	cfg := &Config{TokenURL: "https://v.example/t", ClientID: "svc@example", Subject: "alice",
		AssertionAudience: "https://v.example/t", AssertionTTL: 30 * time.Minute,
		AssertionClaims: map[string]string{"box_sub_type": "enterprise"}, Scopes: []string{"a", "b"}}
	form, k := jwtBearerBody(t, cfg)
	if got := form.Get("grant_type"); got != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		t.Fatalf("grant_type %q", got)
	}
	for _, p := range []string{"client_id", "client_secret", "client_assertion", "client_assertion_type"} {
		if form.Has(p) {
			t.Fatalf("%s sent without a client_secret: %v", p, form)
		}
	}
	if form.Get("scope") != "a b" {
		t.Fatalf("scope %q", form.Get("scope"))
	}
	tok, err := jwt.ParseSigned(form.Get("assertion"), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	if kid := tok.Headers[0].KeyID; kid != k.Kid() {
		t.Fatalf("kid %q, want the key's thumbprint %q", kid, k.Kid())
	}
	var std jwt.Claims
	extra := map[string]interface{}{}
	if err := tok.Claims(k.PublicJWK(AlgES256).Key, &std, &extra); err != nil {
		t.Fatalf("signature: %v", err)
	}
	if std.Issuer != "svc@example" || std.Subject != "alice" || len(std.Audience) != 1 || std.Audience[0] != cfg.AssertionAudience {
		t.Fatalf("claims %+v", std)
	}
	if d := std.Expiry.Time().Sub(std.IssuedAt.Time()); d != 30*time.Minute {
		t.Fatalf("exp - iat = %s, want assertion_ttl", d)
	}
	if std.ID == "" || extra["box_sub_type"] != "enterprise" {
		t.Fatalf("jti %q, extra %v", std.ID, extra)
	}
}

// TestJWTBearerClientAuth: with a client_secret the client authenticates
// (body), beside the grant's assertion; without a subject, no sub.
func TestJWTBearerClientAuth(t *testing.T) {
	cfg := &Config{TokenURL: "https://v.example/t", ClientID: "c", ClientSecret: "s3cr3t", AssertionAudience: "https://v.example/t"}
	form, k := jwtBearerBody(t, cfg)
	if form.Get("client_id") != "c" || form.Get("client_secret") != "s3cr3t" || form.Get("assertion") == "" {
		t.Fatalf("body %v", form)
	}
	tok, _ := jwt.ParseSigned(form.Get("assertion"), []jose.SignatureAlgorithm{jose.ES256})
	var std jwt.Claims
	if err := tok.Claims(k.PublicJWK(AlgES256).Key, &std); err != nil {
		t.Fatal(err)
	}
	if std.Subject != "" || std.Expiry.Time().Sub(std.IssuedAt.Time()) != DefaultAssertionTTL {
		t.Fatalf("claims %+v", std)
	}
}

// TestJWTBearerRefusals: a second signed assertion, and reserved claims.
func TestJWTBearerRefusals(t *testing.T) {
	pemText, _ := GenerateKey(KeyRSA)
	cfg := &Config{TokenURL: "https://v.example/t", ClientID: "c", GrantType: GrantJWTBearer, ClientAuth: AuthPrivateKeyJWT,
		PrivateKey: pemText, SigningAlg: AlgRS256, Timeout: time.Second}
	if _, err := NewClient(cfg, NewPool()); err == nil || !strings.Contains(err.Error(), "client_auth") {
		t.Fatalf("private_key_jwt beside jwt_bearer: %v", err)
	}
	cfg.ClientAuth, cfg.AssertionClaims = AuthBody, map[string]string{"jti": "x"}
	if _, err := NewClient(cfg, NewPool()); err == nil || !strings.Contains(err.Error(), "jti") {
		t.Fatalf("reserved claim: %v", err)
	}
}

// TestAssertionIssuerAndKeyID: assertion_issuer replaces client_id as iss
// (a Google service account's client_email) and key_id the thumbprint as
// the header's kid; client_id still authenticates the client.
func TestAssertionIssuerAndKeyID(t *testing.T) {
	cfg := &Config{TokenURL: "https://v.example/t", ClientID: "c", ClientSecret: "s3cr3t", AssertionAudience: "https://v.example/t",
		AssertionIssuer: "svc@project.iam.gserviceaccount.com", KeyID: "4f1c2b9e"}
	form, k := jwtBearerBody(t, cfg)
	tok, err := jwt.ParseSigned(form.Get("assertion"), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	if kid := tok.Headers[0].KeyID; kid != "4f1c2b9e" {
		t.Fatalf("kid %q, want key_id", kid)
	}
	var std jwt.Claims
	if err := tok.Claims(k.PublicJWK(AlgES256).Key, &std); err != nil {
		t.Fatal(err)
	}
	if std.Issuer != "svc@project.iam.gserviceaccount.com" || form.Get("client_id") != "c" {
		t.Fatalf("iss %q, client_id %q", std.Issuer, form.Get("client_id"))
	}
}

// TestScopeInAssertion: with ScopeInAssertion the scopes are the
// assertion's scope claim (space-separated) and the body has none; a
// scope given in assertion_claims as well is refused.
func TestScopeInAssertion(t *testing.T) {
	cfg := &Config{TokenURL: "https://v.example/t", ClientID: "c", AssertionAudience: "https://v.example/t",
		Scopes: []string{"signature", "impersonation"}, ScopeInAssertion: true, AssertionClaims: map[string]string{"x": "y"}}
	form, k := jwtBearerBody(t, cfg)
	if form.Has("scope") {
		t.Fatalf("scope in the body: %v", form)
	}
	tok, _ := jwt.ParseSigned(form.Get("assertion"), []jose.SignatureAlgorithm{jose.ES256})
	extra := map[string]interface{}{}
	if err := tok.Claims(k.PublicJWK(AlgES256).Key, &extra); err != nil {
		t.Fatal(err)
	}
	if extra["scope"] != "signature impersonation" || extra["x"] != "y" {
		t.Fatalf("claims %v", extra)
	}
	cfg.AssertionClaims = map[string]string{"scope": "other"}
	if _, err := NewClient(cfg, NewPool()); err == nil || !strings.Contains(err.Error(), `"scope"`) {
		t.Fatalf("scope twice: %v", err)
	}
	// Without ScopeInAssertion: the body's scope, no claim.
	cfg.AssertionClaims, cfg.ScopeInAssertion = nil, false
	form, k = jwtBearerBody(t, cfg)
	tok, _ = jwt.ParseSigned(form.Get("assertion"), []jose.SignatureAlgorithm{jose.ES256})
	extra = map[string]interface{}{}
	_ = tok.Claims(k.PublicJWK(AlgES256).Key, &extra)
	if form.Get("scope") != "signature impersonation" || extra["scope"] != nil {
		t.Fatalf("body %v, claims %v", form, extra)
	}
}
