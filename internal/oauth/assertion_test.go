package oauth

import (
	"strings"
	"testing"
	"time"
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
