package vendorsim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func ctl(t *testing.T, method, u, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return do(t, http.DefaultClient, req)
}

func TestControlEndpoints(t *testing.T) {
	sim, srv, _ := newTestSim(t)
	a := ctl(t, "POST", srv.URL+"/_sim/knobs/alertsite",
		`{"latency":"10ms","lifetime":"2h","fault":"status","fault_count":1,"status":500}`)
	if a.status != 200 {
		t.Fatalf("set knobs: %d %s", a.status, a.body)
	}
	want := Knobs{Latency: 10 * time.Millisecond, Lifetime: 2 * time.Hour, Fault: FaultStatus, FaultCount: 1, Status: 500}
	if got := sim.Knobs(AlertSite); got != want {
		t.Fatalf("knobs %+v, want %+v", got, want)
	}
	var echoed Knobs
	if err := json.Unmarshal(a.body, &echoed); err != nil || echoed != want {
		t.Fatalf("answered knobs %s (%v)", a.body, err)
	}
	if a := ctl(t, "GET", srv.URL+"/_sim/knobs/alertsite", ""); !strings.Contains(string(a.body), `"lifetime":"2h0m0s"`) {
		t.Errorf("get knobs %s", a.body)
	}
	if a := do(t, http.DefaultClient, goodTokenReq(AlertSite, DefaultCredentials(AlertSite)).build(t, srv.URL)); a.status != 500 {
		t.Fatalf("faulted token: %d", a.status)
	}
	tok := getToken(t, srv.URL, AlertSite)

	var all map[string]Stats
	if err := json.Unmarshal(ctl(t, "GET", srv.URL+"/_sim/stats", "").body, &all); err != nil ||
		len(all) != len(Vendors)+len(Modes) || all[AlertSite] != (Stats{TokenRequests: 2, TokensIssued: 1}) {
		t.Fatalf("stats %v (%v)", all, err)
	}
	if a := ctl(t, "GET", srv.URL+"/_sim/stats/alertsite", ""); string(a.body) !=
		`{"token_requests":2,"tokens_issued":1,"api_requests":0,"api_accepted":0,"api_rejected":0,"jwks_fetches":0,"subject_tokens":0}` {
		t.Errorf("vendor stats %s", a.body)
	}
	if a := ctl(t, "GET", srv.URL+"/_sim/valid/alertsite?token="+url.QueryEscape(tok), ""); string(a.body) != `{"valid":true}` {
		t.Errorf("valid %s", a.body)
	}
	if a := ctl(t, "GET", srv.URL+"/_sim/valid/alation?token="+url.QueryEscape(tok), ""); string(a.body) != `{"valid":false}` {
		t.Errorf("valid for another vendor %s", a.body)
	}
	var c Credentials
	if err := json.Unmarshal(ctl(t, "GET", srv.URL+"/_sim/credentials/alertsite", "").body, &c); err != nil || c != DefaultCredentials(AlertSite) {
		t.Errorf("credentials %+v (%v)", c, err)
	}
	if a := ctl(t, "POST", srv.URL+"/_sim/reset", ""); a.status != 200 {
		t.Fatalf("reset %d", a.status)
	}
	if sim.Stats(AlertSite) != (Stats{}) || sim.TokenValid(AlertSite, tok) {
		t.Error("reset kept state")
	}
}

func TestControlRejects(t *testing.T) {
	_, srv, _ := newTestSim(t)
	for name, tc := range map[string]struct {
		method, path, body string
		status             int
	}{
		"unknown fault":    {"POST", "/_sim/knobs/alation", `{"fault":"nope"}`, 400},
		"numeric duration": {"POST", "/_sim/knobs/alation", `{"latency":5}`, 400},
		"unknown member":   {"POST", "/_sim/knobs/alation", `{"latncy":"5s"}`, 400},
		"bad duration":     {"POST", "/_sim/knobs/alation", `{"latency":"soon"}`, 400},
		"unknown vendor":   {"GET", "/_sim/stats/nosuch", "", 404},
		"unknown knobs":    {"POST", "/_sim/knobs/nosuch", `{}`, 404},
		"GET reset":        {"GET", "/_sim/reset", "", 405},
	} {
		if a := ctl(t, tc.method, srv.URL+tc.path, tc.body); a.status != tc.status {
			t.Errorf("%s: %d %s, want %d", name, a.status, a.body, tc.status)
		}
	}
}

func TestKnobsJSON(t *testing.T) {
	k := Knobs{Lifetime: time.Minute, Latency: 1500 * time.Millisecond, Fault: FaultExpiresIn,
		FaultCount: 3, Status: 502, ExpiresInRaw: "1e30", RetryAfter: "5", RedirectTo: "http://x"}
	b, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	var back Knobs
	if err := json.Unmarshal(b, &back); err != nil || back != k {
		t.Fatalf("round trip %s -> %+v (%v)", b, back, err)
	}
	// Go-style member names work too.
	if err := json.Unmarshal([]byte(`{"FaultCount":2,"RetryAfter":"1","Fault":"hang"}`), &back); err != nil ||
		back != (Knobs{FaultCount: 2, RetryAfter: "1", Fault: FaultHang}) {
		t.Fatalf("Go names: %+v (%v)", back, err)
	}
}

// /_sim/last/{vendor} tells which headers and parameters the last token
// request carried, values digested, never in clear.
func TestControlLastRequest(t *testing.T) {
	_, srv, _ := newTestSim(t)
	if a := ctl(t, "GET", srv.URL+"/_sim/last/agentsync", ""); a.status != 404 {
		t.Fatalf("before any token request: %d %s, want 404", a.status, a.body)
	}
	c := DefaultCredentials(AgentSync)
	tr := goodTokenReq(AgentSync, c)
	tr.header.Set("X-Partner-Key", "partner-secret")
	tr.params["account_secret"] = "account-secret"
	if a := do(t, http.DefaultClient, tr.build(t, srv.URL)); a.status != 200 {
		t.Fatalf("token: %d %s", a.status, a.body)
	}
	a := ctl(t, "GET", srv.URL+"/_sim/last/agentsync", "")
	var d LastRequestDigest
	if err := json.Unmarshal(a.body, &d); err != nil || a.status != 200 {
		t.Fatalf("last: %d %s (%v)", a.status, a.body, err)
	}
	if d.Method != "POST" || d.Path != TokenPath(AgentSync) || d.Headers["X-Partner-Key"] != Digest("partner-secret") ||
		d.Params["account_secret"] != Digest("account-secret") || d.Params["client_secret"] != Digest(c.ClientSecret) {
		t.Errorf("last: %+v", d)
	}
	for _, v := range []string{"partner-secret", "account-secret", c.ClientSecret} {
		if strings.Contains(string(a.body), v) {
			t.Errorf("last shows %q in clear: %s", v, a.body)
		}
	}
	// A JSON body's string members.
	mp := DefaultCredentials(ModelPortfolio)
	if a := do(t, http.DefaultClient, goodTokenReq(ModelPortfolio, mp).build(t, srv.URL)); a.status != 200 {
		t.Fatalf("token: %d %s", a.status, a.body)
	}
	if err := json.Unmarshal(ctl(t, "GET", srv.URL+"/_sim/last/modelportfolio", "").body, &d); err != nil ||
		d.Params["client_secret"] != Digest(mp.ClientSecret) {
		t.Errorf("last (JSON body): %+v (%v)", d, err)
	}
}
