package oauth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// TestRetrySignsAFreshAssertion: each attempt's body has its own jti; the
// length probe's body is the first attempt's.
func TestRetrySignsAFreshAssertion(t *testing.T) {
	cfg := &Config{TokenURL: "http://127.0.0.1/t", ClientID: "c", ClientAuth: AuthClientSecretJWT, ClientSecret: strings.Repeat("k", 32),
		SigningAlg: AlgHS256, AssertionAudience: "http://127.0.0.1/t"}
	auth := clientAuths[AuthClientSecretJWT]
	signer, err := newAssertionSigner(cfg, clientCredentialsGrant, auth)
	if err != nil {
		t.Fatal(err)
	}
	src := &bodySource{cfg: cfg, grant: clientCredentialsGrant, auth: auth, signer: signer, now: time.Now}
	var bodies []string
	for range 4 {
		r, err := src.read()
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 4096)
		n, _ := r.Read(b)
		bodies = append(bodies, string(b[:n]))
	}
	if bodies[0] != bodies[1] {
		t.Fatal("the first attempt does not send the probed body")
	}
	if bodies[1] == bodies[2] || bodies[2] == bodies[3] {
		t.Fatal("a retry replays an assertion")
	}
	for _, b := range bodies[1:] {
		if len(b) != len(bodies[0]) {
			t.Fatalf("body lengths differ: %d vs %d (Content-Length is learnt once)", len(b), len(bodies[0]))
		}
	}
	if got := len(src.assertions()); got != 2*3 {
		t.Fatalf("%d redaction entries, want 2 per assertion made", got)
	}
}

// TestFederatedAssertionHeaderAndClaims: AssertionIssuer replaces iss
// and, for a client assertion, makes Subject the sub (Entra ID's
// federated identity credential matches iss and sub); KeyID replaces the
// thumbprint kid; without them, RFC 7523 3's iss = sub = client_id and the
// thumbprint stay.
func TestFederatedAssertionHeaderAndClaims(t *testing.T) {
	pemText, err := GenerateKey(KeyEC)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := ParsePrivateKey(pemText)
	base := Config{ClientID: "app", ClientAuth: AuthPrivateKeyJWT, PrivateKey: pemText, SigningAlg: AlgES256,
		AssertionAudience: "api://AzureADTokenExchange", Subject: "oauthvendor:x"}
	cases := []struct {
		issuer, keyID             string
		wantIss, wantSub, wantKid string
	}{
		{"", "", "app", "app", k.Kid()},
		{"https://vault.example.com/v1/m", "", "https://vault.example.com/v1/m", "oauthvendor:x", k.Kid()},
		{"https://vault.example.com/v1/m", "key-1", "https://vault.example.com/v1/m", "oauthvendor:x", "key-1"},
	}
	for _, c := range cases {
		cfg := base
		cfg.AssertionIssuer, cfg.KeyID = c.issuer, c.keyID
		s, err := NewSigner(&cfg)
		if err != nil {
			t.Fatal(err)
		}
		a, err := s.Sign(time.Unix(1_800_000_000, 0))
		if err != nil {
			t.Fatal(err)
		}
		tok, err := jwt.ParseSigned(a, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatal(err)
		}
		var claims jwt.Claims
		if err := tok.Claims(k.priv.Public(), &claims); err != nil {
			t.Fatal(err)
		}
		if claims.Issuer != c.wantIss || claims.Subject != c.wantSub || tok.Headers[0].KeyID != c.wantKid || claims.Audience[0] != "api://AzureADTokenExchange" {
			t.Fatalf("%+v: iss %s sub %s kid %s", c, claims.Issuer, claims.Subject, tok.Headers[0].KeyID)
		}
	}
	if _, err := NewSigner(&Config{ClientAuth: AuthBody, GrantType: GrantClientCredentials}); err == nil {
		t.Fatal("a signer for a config that sends no assertion")
	}
}

// TestSuppliedAssertion: with AssertionSupplier, each attempt's assertion
// is the supplier's (called with the grant's context), no key is needed,
// and what it supplied is redacted like a signed one.
func TestSuppliedAssertion(t *testing.T) {
	type ctxKey struct{}
	n := 0
	cfg := &Config{ClientID: "c", ClientAuth: AuthPrivateKeyJWT, AssertionSupplier: func(ctx context.Context, _ time.Time) (string, error) {
		if ctx.Value(ctxKey{}) != "grant" {
			return "", errors.New("not the grant's context")
		}
		n++
		return fmt.Sprintf("h.c.sig%d", n), nil
	}}
	auth := clientAuths[AuthPrivateKeyJWT]
	src := &bodySource{ctx: context.WithValue(context.Background(), ctxKey{}, "grant"), cfg: cfg, grant: clientCredentialsGrant, auth: auth, now: time.Now}
	for range 3 {
		if _, err := src.read(); err != nil {
			t.Fatal(err)
		}
	}
	if n != 2 || !strings.Contains(strings.Join(src.assertions(), " "), "sig2") {
		t.Fatalf("supplier called %d times, redacting %v", n, src.assertions())
	}
	if c, err := NewClient(cfg, NewPool()); err != nil {
		t.Fatalf("a supplied config needs no key: %v", err)
	} else {
		c.Close()
	}
}
