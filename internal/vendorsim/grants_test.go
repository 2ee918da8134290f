package vendorsim

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// TestZoomMode: account_credentials with the account and Basic client
// auth gets a token; the client in the body, or another account, does not.
func TestZoomMode(t *testing.T) {
	_, srv, _ := newTestSim(t)
	c := DefaultCredentials(Zoom)
	good := tokenReq{method: http.MethodPost, path: ZoomTokenPath, header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
		params: map[string]string{"grant_type": "account_credentials", "account_id": c.AccountID}, basic: &[2]string{c.ClientID, c.ClientSecret}}
	if a := do(t, http.DefaultClient, good.build(t, srv.URL)); a.status != 200 {
		t.Fatalf("good request: %d %s", a.status, a.body)
	}
	inBody := good
	inBody.basic = nil
	inBody.params = map[string]string{"grant_type": "account_credentials", "account_id": c.AccountID, "client_id": c.ClientID, "client_secret": c.ClientSecret}
	if a := do(t, http.DefaultClient, inBody.build(t, srv.URL)); a.status != 401 {
		t.Fatalf("client in the body: %d %s", a.status, a.body)
	}
	other := good
	other.params = map[string]string{"grant_type": "account_credentials", "account_id": "someone-else"}
	if a := do(t, http.DefaultClient, other.build(t, srv.URL)); a.status != 400 {
		t.Fatalf("another account: %d %s", a.status, a.body)
	}
}

// TestExchangeMode: a live token of the Sim (of the trusted issuer, when
// one is set) is exchanged and counted; an unknown, expired or foreign one
// is invalid_grant.
func TestExchangeMode(t *testing.T) {
	sim, srv, clk := newTestSim(t)
	subject := getToken(t, srv.URL, AgentSync)
	exchange := func(tok string) answer {
		tr := tokenReq{method: http.MethodPost, path: ExchangeTokenPath, header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
			params: map[string]string{"grant_type": tokenExchangeGrant, "subject_token": tok, "subject_token_type": "urn:ietf:params:oauth:token-type:access_token"}}
		return do(t, http.DefaultClient, tr.build(t, srv.URL))
	}
	a := exchange(subject)
	var doc map[string]any
	if a.status != 200 || json.Unmarshal(a.body, &doc) != nil || doc["issued_token_type"] != "urn:ietf:params:oauth:token-type:access_token" {
		t.Fatalf("exchange: %d %s", a.status, a.body)
	}
	if !sim.TokenValid(Exchange, doc["access_token"].(string)) {
		t.Fatal("the exchanged token is not the Sim's")
	}
	if a := exchange("made-up"); a.status != 400 {
		t.Fatalf("unknown subject: %d", a.status)
	}
	sim.SetKnobs(Exchange, Knobs{SubjectFrom: Alation})
	if a := exchange(subject); a.status != 400 {
		t.Fatalf("subject of an untrusted issuer: %d", a.status)
	}
	sim.SetKnobs(Exchange, Knobs{SubjectFrom: AgentSync})
	if a := exchange(subject); a.status != 200 {
		t.Fatalf("subject of the trusted issuer: %d %s", a.status, a.body)
	}
	clk.Advance(2 * time.Hour)
	if a := exchange(subject); a.status != 400 {
		t.Fatalf("expired subject: %d", a.status)
	}
	if n := sim.Stats(Exchange).SubjectTokens; n != 2 {
		t.Fatalf("SubjectTokens %d, want 2", n)
	}
}
