package vendorsim

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
)

// testBearerClaims are jwt.Claims with Google's scope claim.
type testBearerClaims struct {
	jwt.Claims
	Scope string `json:"scope,omitempty"`
}

// TestJWTBearerMode: with JWTBearer set, AgentSync takes RFC 7523 2.1's
// grant: the assertion verified against the client's JWKS (refetched for
// an unknown kid), iss, sub, aud, exp-iat at most 1 h, scope checked, a
// replayed jti refused, each accepted assertion counted by its kid and
// every received one kept for Assertions; client credentials are
// optional, checked when given.
func TestJWTBearerMode(t *testing.T) {
	sim, srv, clk := newTestSim(t)
	keys, jwksURL := newTestClientKeys(t, "k1")
	const iss, scope = "svc@example.iam.gserviceaccount.com", "https://www.googleapis.com/auth/cloud-platform"
	jti := 0
	good := func() testBearerClaims {
		now := clk.Now()
		jti++
		return testBearerClaims{Claims: jwt.Claims{Issuer: iss, Audience: jwt.Audience{srv.URL + AgentSyncTokenPath},
			IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Hour)), ID: "jti-" + string(rune('a'+jti))}, Scope: scope}
	}
	var sent []string
	send := func(assertion string, extra map[string]string) answer {
		sent = append(sent, assertion)
		tr := goodTokenReq(AgentSync, Credentials{})
		tr.params = map[string]string{"grant_type": JWTBearerGrantType, "assertion": assertion}
		for k, v := range extra {
			tr.params[k] = v
		}
		return do(t, http.DefaultClient, tr.build(t, srv.URL))
	}
	post := func(kid string, c testBearerClaims, extra map[string]string) answer {
		return send(keys.assertion(t, kid, c), extra)
	}
	expect := func(what string, a answer, status int, desc string) {
		t.Helper()
		if a.status != status || !strings.Contains(string(a.body), desc) {
			t.Fatalf("%s: HTTP %d %s, want %d with %q", what, a.status, a.body, status, desc)
		}
	}

	// Off: the vendor's own grant only.
	expect("mode off", post("k1", good(), nil), 400, "missing parameter client_id")
	// The knobs as a test script posts them.
	knobs := `{"jwks_url":"` + jwksURL + `","jwt_bearer":{"issuer":"` + iss + `","scope":"` + scope + `"}}`
	if a := ctl(t, "POST", srv.URL+"/_sim/knobs/agentsync", knobs); a.status != 200 {
		t.Fatalf("knobs %s: HTTP %d %s", knobs, a.status, a.body)
	}
	if k := sim.Knobs(AgentSync); k.JWTBearer == nil || *k.JWTBearer != (BearerRule{Issuer: iss, Scope: scope}) {
		t.Fatalf("knobs %+v", k)
	}
	if a := ctl(t, "POST", srv.URL+"/_sim/knobs/agentsync", `{"jwt_bearer":{"isuer":"x"}}`); a.status != 400 {
		t.Fatalf("a misspelt rule member: HTTP %d, want 400", a.status)
	}
	sim.SetKnobs(AgentSync, Knobs{JWKSURL: jwksURL, JWTBearer: &BearerRule{Issuer: iss, Scope: scope}})
	first := good()
	expect("good", post("k1", first, nil), 200, "access_token")
	expect("replayed jti", post("k1", first, nil), 400, "jti already used")
	keys.add(t, "k2")
	expect("new kid: refetched", post("k2", good(), nil), 200, "access_token")
	if st, kids := sim.Stats(AgentSync), sim.Assertions(AgentSync).AcceptedKIDs; st.JWKSFetches != 2 || kids["k1"] != 1 || kids["k2"] != 1 {
		t.Fatalf("%d JWKS fetches, accepted by kid %v: want 2 fetches, one accepted assertion per kid", st.JWKSFetches, kids)
	}
	expect("unknown kid", post("stranger", good(), nil), 400, `no key with kid \"stranger\"`)
	bad := map[string]func(*testBearerClaims){
		"wrong iss": func(c *testBearerClaims) { c.Issuer = "other@example.com" },
		"wrong aud": func(c *testBearerClaims) { c.Audience = jwt.Audience{"https://oauth2.googleapis.com/token"} },
		"a sub":     func(c *testBearerClaims) { c.Subject = "user@example.com" },
		"no scope":  func(c *testBearerClaims) { c.Scope = "" },
		"no jti":    func(c *testBearerClaims) { c.ID = "" },
		"no iat":    func(c *testBearerClaims) { c.IssuedAt = nil },
		"over 1 hour": func(c *testBearerClaims) {
			c.Expiry = jwt.NewNumericDate(c.IssuedAt.Time().Add(time.Hour + time.Second))
		},
		"expired": func(c *testBearerClaims) {
			c.IssuedAt = jwt.NewNumericDate(clk.Now().Add(-time.Hour))
			c.Expiry = jwt.NewNumericDate(clk.Now().Add(-time.Minute))
		},
	}
	for what, bend := range bad {
		c := good()
		bend(&c)
		expect(what, post("k1", c, nil), 400, "invalid_grant")
	}
	other := keys.assertion(t, "k1", good())
	forged := keys.assertion(t, "k1", good())
	forged = forged[:strings.LastIndex(forged, ".")] + other[strings.LastIndex(other, "."):]
	expect("signature of another token", send(forged, nil), 400, "signature does not verify")
	expect("wrong grant_type", post("k1", good(), map[string]string{"grant_type": "client_credentials"}), 400, "unsupported_grant_type")
	// Box-style client credentials beside the grant: checked when given.
	creds := DefaultCredentials(AgentSync)
	expect("good client secret", post("k1", good(), map[string]string{"client_id": creds.ClientID, "client_secret": creds.ClientSecret}), 200, "access_token")
	expect("bad client secret", post("k1", good(), map[string]string{"client_id": creds.ClientID, "client_secret": "wrong"}), 401, "invalid_client")
	if kids := sim.Assertions(AgentSync).AcceptedKIDs; kids["k1"] != 2 || len(kids) != 2 {
		t.Fatalf("accepted by kid %v: the refused assertions were counted", kids)
	}
	// Every assertion received is kept, refused ones too.
	got := sim.Assertions(AgentSync).Received
	if len(got) != len(sent) || got[0] != sent[0] || got[len(got)-1] != sent[len(sent)-1] {
		t.Fatalf("Assertions: %d kept, want the %d sent", len(got), len(sent))
	}
	var ans AssertionsAnswer
	mustDecode(t, ctl(t, "GET", srv.URL+"/_sim/assertions/agentsync", "").body, &ans)
	if len(ans.Received) != len(sent) || ans.AcceptedKIDs["k2"] != 1 {
		t.Fatalf("GET /_sim/assertions: %d received, kids %v; want %d, k2 once", len(ans.Received), ans.AcceptedKIDs, len(sent))
	}
	sim.Reset()
	if a := sim.Assertions(AgentSync); len(a.Received) != 0 || a.AcceptedKIDs != nil {
		t.Fatal("Reset kept assertions or kid counts")
	}
}

// TestJWTBearerSubject: a rule with a subject requires exactly that sub;
// an empty issuer means the vendor's client_id.
func TestJWTBearerSubject(t *testing.T) {
	sim, srv, clk := newTestSim(t)
	keys, jwksURL := newTestClientKeys(t, "k")
	sim.SetKnobs(AgentSync, Knobs{JWKSURL: jwksURL, JWTBearer: &BearerRule{Subject: "user@example.com"}})
	id := DefaultCredentials(AgentSync).ClientID
	for i, c := range []struct {
		sub    string
		status int
	}{{"user@example.com", 200}, {"other@example.com", 400}, {"", 400}} {
		now := clk.Now()
		claims := testBearerClaims{Claims: jwt.Claims{Issuer: id, Subject: c.sub, Audience: jwt.Audience{srv.URL + AgentSyncTokenPath},
			IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute)), ID: "s" + string(rune('0'+i))}}
		tr := goodTokenReq(AgentSync, Credentials{})
		tr.params = map[string]string{"grant_type": JWTBearerGrantType, "assertion": keys.assertion(t, "k", claims)}
		if a := do(t, http.DefaultClient, tr.build(t, srv.URL)); a.status != c.status {
			t.Errorf("sub %q: HTTP %d %s, want %d", c.sub, a.status, a.body, c.status)
		}
	}
}
