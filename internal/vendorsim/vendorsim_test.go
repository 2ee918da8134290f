package vendorsim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// wantSuccess lists, per vendor, the exact members of a success body and
// the fixed values among them (from the vendor pages).
var wantSuccess = map[string]struct {
	members []string
	fixed   map[string]string
}{
	AlphaSense:     {[]string{"access_token", "token_type", "expires_in"}, map[string]string{"token_type": `"Bearer"`, "expires_in": "86400"}},
	ModelPortfolio: {[]string{"accessToken", "expiresIn", "tokenType"}, map[string]string{"tokenType": `"bearer"`, "expiresIn": "86400"}},
	AlertSite:      {[]string{"access_token"}, nil},
	Alation:        {[]string{"access_token", "token_type", "expires_in", "scope"}, map[string]string{"token_type": `"Bearer"`, "expires_in": "3600", "scope": `"read"`}},
	AgentSync:      {[]string{"access_token", "token_type", "expires_in"}, map[string]string{"token_type": `"Bearer"`, "expires_in": "3600"}},
}

func TestIssueAndUse(t *testing.T) {
	for _, vendor := range Vendors {
		t.Run(vendor, func(t *testing.T) {
			sim, srv, clk := newTestSim(t)
			c := DefaultCredentials(vendor)
			a := do(t, http.DefaultClient, goodTokenReq(vendor, c).build(t, srv.URL))
			if a.status != http.StatusOK || a.header.Get("Content-Type") != "application/json" {
				t.Fatalf("token: %d %q %s", a.status, a.header.Get("Content-Type"), a.body)
			}
			m := members(t, a.body)
			want := wantSuccess[vendor]
			if len(m) != len(want.members) {
				t.Fatalf("members: got %s, want exactly %v", a.body, want.members)
			}
			for _, name := range want.members {
				if _, ok := m[name]; !ok {
					t.Fatalf("member %s missing from %s", name, a.body)
				}
			}
			for name, raw := range want.fixed {
				if string(m[name]) != raw {
					t.Errorf("%s = %s, want %s", name, m[name], raw)
				}
			}
			tok := tokenOf(t, vendor, a.body)
			if !sim.TokenValid(vendor, tok) {
				t.Fatal("issued token not valid")
			}
			api := do(t, http.DefaultClient, apiReq(t, srv.URL, vendor, tok, c))
			if api.status != http.StatusOK {
				t.Fatalf("api: %d %s", api.status, api.body)
			}
			var ok apiOK
			mustDecode(t, api.body, &ok)
			wantExp := clk.Now().Add(sim.Knobs(vendor).Lifetime).UTC().Format(time.RFC3339)
			if ok.Vendor != vendor || !ok.OK || ok.ExpiresAt != wantExp {
				t.Errorf("api body %+v, want expires_at %s", ok, wantExp)
			}
			if got := sim.Stats(vendor); got != (Stats{TokenRequests: 1, TokensIssued: 1, APIRequests: 1, APIAccepted: 1}) {
				t.Errorf("stats %+v", got)
			}
		})
	}
}

func TestTokenShapes(t *testing.T) {
	_, srv, _ := newTestSim(t)
	checks := map[string]*regexp.Regexp{
		AlphaSense:     regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`),
		ModelPortfolio: regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`),
		AlertSite:      regexp.MustCompile(`^[0-9a-f]{32}$`),
		Alation:        regexp.MustCompile(`^[A-Za-z0-9]{30}$`),
		AgentSync:      regexp.MustCompile(`^eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`),
	}
	for vendor, re := range checks {
		a, b := getToken(t, srv.URL, vendor), getToken(t, srv.URL, vendor)
		if !re.MatchString(a) || a == b {
			t.Errorf("%s tokens %q %q: want distinct matches of %s", vendor, a, b, re)
		}
	}
}

func TestAgentSyncJWTClaims(t *testing.T) {
	sim, srv, clk := newTestSim(t)
	sim.SetKnobs(AgentSync, Knobs{Lifetime: 10 * time.Minute})
	tok := getToken(t, srv.URL, AgentSync)
	parts := strings.Split(tok, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims jwtClaims
	mustDecode(t, payload, &claims)
	now := clk.Now().Unix()
	if claims.Iss == "" || claims.Sub != DefaultCredentials(AgentSync).ClientID || claims.Iat != now ||
		claims.Exp != now+600 || len(claims.Jti) != 32 {
		t.Errorf("claims %+v (now %d)", claims, now)
	}
}

// tokenErrorCase bends one part of a documented request.
type tokenErrorCase struct {
	name   string
	vendor string
	bend   func(tr *tokenReq)
	status int
	code   string
}

func setParam(k, v string) func(*tokenReq) { return func(tr *tokenReq) { tr.params[k] = v } }
func delParam(k string) func(*tokenReq)    { return func(tr *tokenReq) { delete(tr.params, k) } }
func setHeader(k, v string) func(*tokenReq) {
	return func(tr *tokenReq) { tr.header.Set(k, v) }
}
func rawBody(s string) func(*tokenReq) { return func(tr *tokenReq) { tr.rawBody = &s } }

var tokenErrorCases = []tokenErrorCase{
	{"GET", AlphaSense, func(tr *tokenReq) { tr.method = http.MethodGet }, 405, "invalid_request"},
	{"no api key", AlphaSense, func(tr *tokenReq) { tr.header.Del("x-api-key") }, 403, "forbidden"},
	{"wrong api key", AlphaSense, setHeader("x-api-key", "nope"), 403, "forbidden"},
	{"json body", AlphaSense, setHeader("Content-Type", "application/json"), 400, "invalid_request"},
	{"missing username", AlphaSense, delParam("username"), 400, "invalid_request"},
	{"missing grant_type", AlphaSense, delParam("grant_type"), 400, "invalid_request"},
	{"client_credentials grant", AlphaSense, setParam("grant_type", "client_credentials"), 400, "unsupported_grant_type"},
	{"wrong password", AlphaSense, setParam("password", "nope"), 401, "invalid_grant"},
	{"wrong client secret", AlphaSense, setParam("client_secret", "nope"), 401, "invalid_client"},
	{"repeated param", AlphaSense, func(tr *tokenReq) {
		s := tr.encode() + "&username=x"
		tr.rawBody = &s
	}, 400, "invalid_request"},

	{"no Accept", ModelPortfolio, func(tr *tokenReq) { tr.header.Del("Accept") }, 406, ""},
	{"plain json Accept", ModelPortfolio, setHeader("Accept", "application/json"), 406, ""},
	{"form body", ModelPortfolio, setHeader("Content-Type", "application/x-www-form-urlencoded"), 415, ""},
	{"malformed json", ModelPortfolio, rawBody(`{"client_id":`), 400, ""},
	{"missing secret", ModelPortfolio, delParam("client_secret"), 400, ""},
	{"wrong grant", ModelPortfolio, setParam("grant_type", "password"), 400, ""},
	{"wrong secret", ModelPortfolio, setParam("client_secret", "nope"), 401, ""},

	{"wrong password", AlertSite, setParam("password", "nope"), 401, "invalid_request"},
	{"wrong username", AlertSite, setParam("username", "nope"), 401, "invalid_request"},
	{"missing password", AlertSite, delParam("password"), 400, "invalid_request"},
	{"extra member", AlertSite, setParam("client_id", "x"), 400, "invalid_request"},
	{"number password", AlertSite, rawBody(`{"username":"u","password":5}`), 400, "invalid_request"},
	{"form body", AlertSite, setHeader("Content-Type", "application/x-www-form-urlencoded"), 415, "invalid_request"},

	{"wrong secret", Alation, setParam("client_secret", "nope"), 401, "invalid_client"},
	{"wrong id", Alation, setParam("client_id", "nope"), 401, "invalid_client"},
	{"password grant", Alation, setParam("grant_type", "password"), 400, "unsupported_grant_type"},
	{"json body", Alation, setHeader("Content-Type", "application/json"), 400, "invalid_request"},

	{"wrong secret", AgentSync, setParam("client_secret", "nope"), 401, "invalid_client"},
	{"missing id", AgentSync, delParam("client_id"), 400, "invalid_request"},
	{"PUT", AgentSync, func(tr *tokenReq) { tr.method = http.MethodPut }, 405, "invalid_request"},
}

func TestTokenErrors(t *testing.T) {
	for _, tc := range tokenErrorCases {
		t.Run(tc.vendor+"/"+tc.name, func(t *testing.T) {
			sim, srv, _ := newTestSim(t)
			c := DefaultCredentials(tc.vendor)
			tr := goodTokenReq(tc.vendor, c)
			tc.bend(&tr)
			a := do(t, http.DefaultClient, tr.build(t, srv.URL))
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.status, tc.status, a.body)
			}
			text := errorText(t, tc.vendor, tc.status, tc.code, a.body)
			for _, secret := range []string{c.ClientSecret, c.Password, c.APIKey} {
				if secret != "" && strings.Contains(text, secret) {
					t.Errorf("error text leaks a credential: %s", text)
				}
			}
			if got := sim.Stats(tc.vendor); got.TokenRequests != 1 || got.TokensIssued != 0 {
				t.Errorf("stats %+v", got)
			}
		})
	}
}

// TestAlertSiteAuthFailureText pins the exact message of 002_*.txt.
func TestAlertSiteAuthFailureText(t *testing.T) {
	_, srv, _ := newTestSim(t)
	tr := goodTokenReq(AlertSite, DefaultCredentials(AlertSite))
	tr.params["password"] = "wrong"
	a := do(t, http.DefaultClient, tr.build(t, srv.URL))
	want := `{"errors":[{"code":401,"message":"invalid_request - User authentication failed."}]}`
	if a.status != 401 || string(a.body) != want {
		t.Fatalf("%d %s, want 401 %s", a.status, a.body, want)
	}
}

func TestClientSecretBasic(t *testing.T) {
	enc := url.QueryEscape
	cases := []struct {
		name   string
		bend   func(tr *tokenReq, c Credentials)
		status int
		code   string
	}{
		{"form-encoded basic", func(tr *tokenReq, c Credentials) {
			delete(tr.params, "client_id")
			delete(tr.params, "client_secret")
			tr.basic = &[2]string{enc(c.ClientID), enc(c.ClientSecret)}
		}, 200, ""},
		{"basic with matching body client_id", func(tr *tokenReq, c Credentials) {
			delete(tr.params, "client_secret")
			tr.basic = &[2]string{enc(c.ClientID), enc(c.ClientSecret)}
		}, 200, ""},
		{"wrong basic secret", func(tr *tokenReq, c Credentials) {
			delete(tr.params, "client_id")
			delete(tr.params, "client_secret")
			tr.basic = &[2]string{enc(c.ClientID), "nope"}
		}, 401, "invalid_client"},
		{"basic and body secret", func(tr *tokenReq, c Credentials) {
			tr.basic = &[2]string{enc(c.ClientID), enc(c.ClientSecret)}
		}, 400, "invalid_request"},
	}
	for _, vendor := range []string{Alation, AgentSync} {
		for _, tc := range cases {
			t.Run(vendor+"/"+tc.name, func(t *testing.T) {
				_, srv, _ := newTestSim(t)
				c := DefaultCredentials(vendor)
				tr := goodTokenReq(vendor, c)
				tc.bend(&tr, c)
				a := do(t, http.DefaultClient, tr.build(t, srv.URL))
				if a.status != tc.status {
					t.Fatalf("status %d, want %d: %s", a.status, tc.status, a.body)
				}
				if tc.status == 200 {
					tokenOf(t, vendor, a.body)
					return
				}
				errorText(t, vendor, tc.status, tc.code, a.body)
				if tc.status == 401 && !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Basic") {
					t.Errorf("401 to Basic without WWW-Authenticate: %v", a.header)
				}
			})
		}
	}
}

// TestAlationBasicNeedsFormEncoding: Alation's default secret holds "%",
// so Basic credentials not form-encoded first (RFC 6749 2.3.1) fail.
func TestAlationBasicNeedsFormEncoding(t *testing.T) {
	_, srv, _ := newTestSim(t)
	c := DefaultCredentials(Alation)
	tr := goodTokenReq(Alation, c)
	delete(tr.params, "client_id")
	delete(tr.params, "client_secret")
	tr.basic = &[2]string{c.ClientID, c.ClientSecret}
	a := do(t, http.DefaultClient, tr.build(t, srv.URL))
	if a.status != 401 {
		t.Fatalf("raw Basic secret: %d %s, want 401", a.status, a.body)
	}
}

func TestAPIRejections(t *testing.T) {
	sim, srv, _ := newTestSim(t)
	for _, vendor := range Vendors {
		c := DefaultCredentials(vendor)
		other := getToken(t, srv.URL, otherVendor(vendor))
		for name, req := range map[string]*http.Request{
			"unknown token":      apiReq(t, srv.URL, vendor, "not-a-token", c),
			"other vendor token": apiReq(t, srv.URL, vendor, other, c),
		} {
			a := do(t, http.DefaultClient, req)
			if a.status != 401 || !strings.Contains(a.header.Get("WWW-Authenticate"), "invalid_token") {
				t.Errorf("%s %s: %d %v", vendor, name, a.status, a.header)
			}
			errorText(t, vendor, 401, "invalid_token", a.body)
		}
		req := apiReq(t, srv.URL, vendor, "x", c)
		req.Header.Del("Authorization")
		if a := do(t, http.DefaultClient, req); a.status != 401 {
			t.Errorf("%s no Authorization: %d", vendor, a.status)
		}
	}
	tok := getToken(t, srv.URL, AlphaSense)
	req := apiReq(t, srv.URL, AlphaSense, tok, DefaultCredentials(AlphaSense))
	req.Header.Del("x-api-key")
	if a := do(t, http.DefaultClient, req); a.status != 403 {
		t.Errorf("AlphaSense API without x-api-key: %d %s", a.status, a.body)
	}
	tok = getToken(t, srv.URL, ModelPortfolio)
	req = apiReq(t, srv.URL, ModelPortfolio, tok, Credentials{})
	req.Header.Del("Accept")
	if a := do(t, http.DefaultClient, req); a.status != 406 {
		t.Errorf("ModelPortfolio API without Accept: %d %s", a.status, a.body)
	}
	if s := sim.Stats(AlphaSense); s.APIRejected != 4 || s.APIAccepted != 0 || s.APIRequests != 4 {
		t.Errorf("AlphaSense stats %+v", s)
	}
}

func otherVendor(vendor string) string {
	for i, v := range Vendors {
		if v == vendor {
			return Vendors[(i+1)%len(Vendors)]
		}
	}
	return ""
}

func TestExpiryByInjectedClock(t *testing.T) {
	lifetimes := map[string]time.Duration{
		AlphaSense: 24 * time.Hour, ModelPortfolio: 24 * time.Hour,
		AlertSite: time.Hour, Alation: time.Hour, AgentSync: time.Hour,
	}
	for _, vendor := range Vendors {
		t.Run(vendor, func(t *testing.T) {
			sim, srv, clk := newTestSim(t)
			if got := sim.Knobs(vendor).Lifetime; got != lifetimes[vendor] {
				t.Fatalf("default lifetime %s, want %s", got, lifetimes[vendor])
			}
			c := DefaultCredentials(vendor)
			tok := getToken(t, srv.URL, vendor)
			clk.Advance(lifetimes[vendor] - time.Second)
			if a := do(t, http.DefaultClient, apiReq(t, srv.URL, vendor, tok, c)); a.status != 200 {
				t.Fatalf("1s before expiry: %d %s", a.status, a.body)
			}
			clk.Advance(time.Second)
			if sim.TokenValid(vendor, tok) {
				t.Fatal("token valid at expiry")
			}
			a := do(t, http.DefaultClient, apiReq(t, srv.URL, vendor, tok, c))
			if a.status != 401 {
				t.Fatalf("at expiry: %d %s", a.status, a.body)
			}
			errorText(t, vendor, 401, "invalid_token", a.body)
		})
	}
}

func TestCustomLifetime(t *testing.T) {
	sim, srv, clk := newTestSim(t)
	sim.SetKnobs(Alation, Knobs{Lifetime: 90 * time.Second})
	a := do(t, http.DefaultClient, goodTokenReq(Alation, DefaultCredentials(Alation)).build(t, srv.URL))
	if got := string(members(t, a.body)["expires_in"]); got != "90" {
		t.Fatalf("expires_in %s", got)
	}
	tok := tokenOf(t, Alation, a.body)
	clk.Advance(89 * time.Second)
	if !sim.TokenValid(Alation, tok) {
		t.Fatal("expired early")
	}
	clk.Advance(time.Second)
	if sim.TokenValid(Alation, tok) {
		t.Fatal("alive after lifetime")
	}
}

func TestAlationAppendSlash(t *testing.T) {
	sim, srv, _ := newTestSim(t)
	tr := goodTokenReq(Alation, DefaultCredentials(Alation))
	tr.path = strings.TrimSuffix(AlationTokenPath, "/")
	a := do(t, noRedirect, tr.build(t, srv.URL))
	if a.status != http.StatusMovedPermanently || a.header.Get("Location") != AlationTokenPath {
		t.Fatalf("no-slash POST: %d Location %q", a.status, a.header.Get("Location"))
	}
	// A client that follows the 301 re-sends as GET without the body, as
	// Django users learn the hard way.
	a = do(t, http.DefaultClient, tr.build(t, srv.URL))
	if a.status != http.StatusMethodNotAllowed {
		t.Fatalf("followed 301: %d %s", a.status, a.body)
	}
	if got := sim.Stats(Alation).TokenRequests; got != 1 {
		t.Errorf("TokenRequests %d, want 1 (only the followed GET reached the endpoint)", got)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+strings.TrimSuffix(AlationAPIPath, "/"), nil)
	if a := do(t, noRedirect, req); a.status != 301 || a.header.Get("Location") != AlationAPIPath {
		t.Errorf("no-slash API: %d %q", a.status, a.header.Get("Location"))
	}
}

func TestUnknownPath(t *testing.T) {
	_, srv, _ := newTestSim(t)
	for _, p := range []string{"/", "/alphasense/auth/", "/agentsync/oauth/token/", "/alation/oauth/v2/token//"} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+p, nil)
		if a := do(t, noRedirect, req); a.status != 404 {
			t.Errorf("%s: %d", p, a.status)
		}
	}
}

func TestBodyCap(t *testing.T) {
	sim, srv, _ := newTestSim(t)
	tr := goodTokenReq(AgentSync, DefaultCredentials(AgentSync))
	tr.params["pad"] = strings.Repeat("a", maxTokenBody)
	a := do(t, http.DefaultClient, tr.build(t, srv.URL))
	if a.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("%d %s", a.status, a.body)
	}
	errorText(t, AgentSync, 413, "invalid_request", a.body)
	if got := sim.Stats(AgentSync); got.TokenRequests != 1 || got.TokensIssued != 0 {
		t.Errorf("stats %+v", got)
	}
}

func TestLastTokenRequest(t *testing.T) {
	sim, srv, _ := newTestSim(t)
	if sim.LastTokenRequest(AlertSite) != nil {
		t.Fatal("LastTokenRequest before any request")
	}
	c := DefaultCredentials(AlertSite)
	getToken(t, srv.URL, AlertSite)
	r := sim.LastTokenRequest(AlertSite)
	for i := 0; i < 2; i++ {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]string
		if err := json.Unmarshal(b, &got); err != nil || got["password"] != c.Password {
			t.Fatalf("read %d: %s", i, b)
		}
		r = sim.LastTokenRequest(AlertSite)
	}
	if r.Method != http.MethodPost || r.URL.Path != AlertSiteTokenPath || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("recorded %s %s %v", r.Method, r.URL.Path, r.Header)
	}
	if body, err := r.GetBody(); err != nil || body == nil {
		t.Errorf("GetBody: %v", err)
	}
}

func TestSetCredentials(t *testing.T) {
	sim, srv, _ := newTestSim(t)
	c := Credentials{ClientID: "id2", ClientSecret: "secret2"}
	sim.SetCredentials(AgentSync, c)
	if a := do(t, http.DefaultClient, goodTokenReq(AgentSync, DefaultCredentials(AgentSync)).build(t, srv.URL)); a.status != 401 {
		t.Fatalf("old credentials: %d", a.status)
	}
	if a := do(t, http.DefaultClient, goodTokenReq(AgentSync, c).build(t, srv.URL)); a.status != 200 {
		t.Fatalf("new credentials: %d %s", a.status, a.body)
	}
}

func TestResetForgets(t *testing.T) {
	sim, srv, _ := newTestSim(t)
	tok := getToken(t, srv.URL, Alation)
	sim.SetKnobs(Alation, Knobs{Fault: FaultEmpty, Latency: time.Second})
	sim.Reset()
	if sim.TokenValid(Alation, tok) || sim.Stats(Alation) != (Stats{}) || sim.LastTokenRequest(Alation) != nil {
		t.Fatal("Reset kept state")
	}
	if k := sim.Knobs(Alation); k != (Knobs{Lifetime: time.Hour}) {
		t.Fatalf("knobs after Reset %+v", k)
	}
}

func TestUnknownVendorPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("SetKnobs accepted an unknown vendor")
		}
	}()
	New().SetKnobs("nosuch", Knobs{})
}

// TestConcurrency drives all vendors at once while knobs, stats and
// recorded requests are read and written; run with -race.
func TestConcurrency(t *testing.T) {
	sim, srv, _ := newTestSim(t)
	const perVendor = 30
	var wg sync.WaitGroup
	errs := make(chan error, perVendor*len(Vendors))
	for i := 0; i < perVendor*len(Vendors); i++ {
		vendor := Vendors[i%len(Vendors)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- roundTrip(srv.URL, vendor)
		}()
	}
	stop := make(chan struct{})
	var side sync.WaitGroup
	side.Add(1)
	go func() {
		defer side.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, v := range Vendors {
				sim.SetKnobs(v, sim.Knobs(v))
				_ = sim.Stats(v)
				if r := sim.LastTokenRequest(v); r != nil {
					_, _ = io.ReadAll(r.Body)
				}
			}
		}
	}()
	wg.Wait()
	close(stop)
	side.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	for _, v := range Vendors {
		want := Stats{TokenRequests: perVendor, TokensIssued: perVendor, APIRequests: perVendor, APIAccepted: perVendor}
		if got := sim.Stats(v); got != want {
			t.Errorf("%s stats %+v, want %+v", v, got, want)
		}
	}
}

// roundTrip gets a token and uses it, reporting instead of failing (it
// runs off the test goroutine).
func roundTrip(base, vendor string) error {
	c := DefaultCredentials(vendor)
	tr := goodTokenReq(vendor, c)
	req, err := http.NewRequest(tr.method, base+tr.path, strings.NewReader(tr.encode()))
	if err != nil {
		return err
	}
	req.Header = tr.header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || resp.StatusCode != 200 {
		return fmt.Errorf("%s token: %d %s", vendor, resp.StatusCode, b)
	}
	tok, _ := m[tokenField(vendor)].(string)
	api, err := http.NewRequest(http.MethodGet, base+APIPath(vendor), nil)
	if err != nil {
		return err
	}
	api.Header.Set("Authorization", "Bearer "+tok)
	api.Header.Set("x-api-key", c.APIKey)
	api.Header.Set("Accept", "application/json; version=1.0.0")
	resp, err = http.DefaultClient.Do(api)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s api: %d", vendor, resp.StatusCode)
	}
	return nil
}
