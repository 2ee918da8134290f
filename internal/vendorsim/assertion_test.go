package vendorsim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/testkit"
)

// testClientKeys is a client's jwks_uri whose keys the test changes.
type testClientKeys struct {
	mu   sync.Mutex
	keys map[string]*ecdsa.PrivateKey
}

// newTestClientKeys serves a client's jwks_uri holding keys under kids,
// until the test ends; it returns the keys and the URL.
func newTestClientKeys(t *testing.T, kids ...string) (*testClientKeys, string) {
	t.Helper()
	keys := &testClientKeys{keys: map[string]*ecdsa.PrivateKey{}}
	srv := httptest.NewServer(keys)
	t.Cleanup(srv.Close)
	for _, kid := range kids {
		keys.add(t, kid)
	}
	return keys, srv.URL
}

func (c *testClientKeys) add(t *testing.T, kid string) {
	t.Helper()
	k := testkit.ECKey(t, elliptic.P256())
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keys[kid] = k
}

func (c *testClientKeys) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	set := jose.JSONWebKeySet{}
	for kid, k := range c.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Public(), KeyID: kid, Algorithm: "ES256", Use: "sig"})
	}
	_ = json.NewEncoder(w).Encode(set)
}

// assertion signs claims (jwt.Claims, or a struct embedding them) with
// the client's key kid (a key the JWKS need not list).
func (c *testClientKeys) assertion(t *testing.T, kid string, claims any) string {
	t.Helper()
	c.mu.Lock()
	k := c.keys[kid]
	c.mu.Unlock()
	if k == nil {
		k = testkit.ECKey(t, elliptic.P256())
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k}, (&jose.SignerOptions{}).WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestPrivateKeyJWTMode: with JWKSURL set, AgentSync takes RFC 7523
// client assertions signed by a key of the client's JWKS, keeps the JWKS,
// and refetches it only for an unknown kid; bad claims, an unknown key and
// a vendor without a jwks_uri are invalid_client.
func TestPrivateKeyJWTMode(t *testing.T) {
	sim, srv, clk := newTestSim(t)
	keys, jwksURL := newTestClientKeys(t, "old")
	id := DefaultCredentials(AgentSync).ClientID
	good := func() jwt.Claims {
		now := clk.Now()
		return jwt.Claims{Issuer: id, Subject: id, Audience: jwt.Audience{srv.URL + AgentSyncTokenPath},
			IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute)), ID: "j"}
	}
	post := func(kid string, claims jwt.Claims) answer {
		tr := goodTokenReq(AgentSync, Credentials{ClientID: id})
		delete(tr.params, "client_secret")
		tr.params["client_assertion_type"] = jwtBearerAssertion
		tr.params["client_assertion"] = keys.assertion(t, kid, claims)
		return do(t, http.DefaultClient, tr.build(t, srv.URL))
	}
	expect := func(what string, a answer, status int, desc string, fetches int) {
		t.Helper()
		if a.status != status || !strings.Contains(string(a.body), desc) {
			t.Fatalf("%s: HTTP %d %s, want %d with %q", what, a.status, a.body, status, desc)
		}
		if got := sim.Stats(AgentSync).JWKSFetches; got != fetches {
			t.Fatalf("%s: %d JWKS fetches, want %d", what, got, fetches)
		}
	}

	expect("no jwks_uri", post("old", good()), 401, "no jwks_uri", 0)
	sim.SetKnobs(AgentSync, Knobs{JWKSURL: jwksURL})
	expect("first assertion", post("old", good()), 200, "access_token", 1)
	expect("known kid", post("old", good()), 200, "access_token", 1)
	keys.add(t, "new")
	expect("new kid: refetched", post("new", good()), 200, "access_token", 2)
	expect("unknown kid", post("stranger", good()), 401, `no key with kid \"stranger\"`, 3)
	wrongAud := good()
	wrongAud.Audience = jwt.Audience{"https://elsewhere.example/token"}
	expect("wrong aud", post("old", wrongAud), 401, "client_assertion claims", 3)
	wrongIss := good()
	wrongIss.Issuer = "someone-else"
	expect("wrong iss", post("old", wrongIss), 401, "client_assertion claims", 3)
	expired := good()
	clk.Advance(2 * time.Minute)
	expect("expired", post("old", expired), 401, "client_assertion claims", 3)
	// A secret still works beside the mode; a wrong secret still fails.
	expect("client secret", do(t, http.DefaultClient, goodTokenReq(AgentSync, DefaultCredentials(AgentSync)).build(t, srv.URL)), 200, "access_token", 3)
}
