package oauth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func authCodeBody(t *testing.T, cfg *Config) url.Values {
	t.Helper()
	cfg.GrantType = GrantAuthorizationCode
	g, auth, err := rowsOf(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := encodeBody(cfg, g, auth, grantInputs{})
	if err != nil {
		t.Fatal(err)
	}
	form, err := url.ParseQuery(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return form
}

// TestAuthorizationCodeBodies: the code exchange is RFC 6749 4.1.3 with
// RFC 7636 4.5's code_verifier and no scope; without a code the request
// is RFC 6749 6's refresh, scope included; client_auth none sends
// client_id alone.
func TestAuthorizationCodeBodies(t *testing.T) {
	base := Config{ClientID: "cid", ClientSecret: "csecret", Scopes: []string{"offline_access", "read"},
		RedirectURL: "https://vault.example/v1/oauthvendor/callback"}
	exchange := base
	exchange.Code, exchange.CodeVerifier = "the-code", "the-verifier"
	form := authCodeBody(t, &exchange)
	for k, want := range map[string]string{"grant_type": "authorization_code", "code": "the-code", "code_verifier": "the-verifier",
		"redirect_uri": base.RedirectURL, "client_id": "cid", "client_secret": "csecret"} {
		if form.Get(k) != want {
			t.Errorf("exchange %s = %q, want %q", k, form.Get(k), want)
		}
	}
	if form.Has("scope") || form.Has("refresh_token") {
		t.Errorf("exchange carries scope or refresh_token: %v", form)
	}
	refresh := base
	refresh.RefreshToken = "the-refresh-token"
	form = authCodeBody(t, &refresh)
	if form.Get("grant_type") != "refresh_token" || form.Get("refresh_token") != "the-refresh-token" || form.Has("scope") || form.Has("code") || form.Has("redirect_uri") {
		t.Errorf("refresh body %v (RFC 6749 6: no scope, the granted one stays)", form)
	}
	scoped := refresh
	scoped.ScopeOnRefresh = true
	if form := authCodeBody(t, &scoped); form.Get("scope") != "offline_access read" {
		t.Errorf("scope_on_refresh: refresh body %v, want scope offline_access read", form)
	}
	public := refresh
	public.ClientAuth, public.ClientSecret = AuthNone, ""
	form = authCodeBody(t, &public)
	if form.Get("client_id") != "cid" || form.Has("client_secret") || form.Has("client_assertion") {
		t.Errorf("public client body %v", form)
	}
}

// TestNewConsent: response_type=code, the client, redirect_uri, scope, the
// extra parameters, a state with the caller's prefix and 256 random bits,
// and an S256 challenge of the verifier (RFC 7636 appendix B's example
// checks the transform); extra never overrides the protocol's parameters.
func TestNewConsent(t *testing.T) {
	if got := CodeChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"); got != "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" {
		t.Fatalf("S256 of RFC 7636's example verifier: %s", got)
	}
	cfg := &Config{ClientID: "cid", RedirectURL: "https://vault.example/cb", Scopes: []string{"a", "b"}}
	c, err := NewConsent("https://idp.example/authorize?tenant=x", cfg, "xero~", map[string]string{"prompt": "consent", "state": "mine"})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(c.URL)
	q := u.Query()
	for k, want := range map[string]string{"response_type": "code", "client_id": "cid", "redirect_uri": cfg.RedirectURL,
		"scope": "a b", "prompt": "consent", "tenant": "x", "state": c.State, "code_challenge_method": "S256",
		"code_challenge": CodeChallenge(c.Verifier)} {
		if q.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, q.Get(k), want)
		}
	}
	if !strings.HasPrefix(c.State, "xero~") || len(c.State) != len("xero~")+43 || len(c.Verifier) != 43 {
		t.Errorf("state %q verifier length %d", c.State, len(c.Verifier))
	}
	if strings.Contains(c.URL, c.Verifier) {
		t.Error("the verifier is in the authorize URL")
	}
	other, _ := NewConsent("https://idp.example/authorize", cfg, "xero~", nil)
	if other.State == c.State || other.Verifier == c.Verifier {
		t.Error("two consents share a state or a verifier")
	}
}

// TestRefreshTokenAnswers: the answer's refresh_token comes back on the
// token; a refused 2xx keeps it on the error (the vendor spent the one
// sent); a vendor echoing the refresh token and code sent has both
// redacted.
func TestRefreshTokenAnswers(t *testing.T) {
	answer := map[string]interface{}{"access_token": "at", "expires_in": 3600, "refresh_token": "rt-new"}
	var echo bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		if echo {
			w.WriteHeader(400)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": "bad token " + r.PostForm.Encode()})
			return
		}
		_ = json.NewEncoder(w).Encode(answer)
	}))
	defer srv.Close()
	cfg := &Config{Name: "x", TokenURL: srv.URL, GrantType: GrantAuthorizationCode, ClientID: "cid", ClientSecret: "csecret-123456",
		RefreshToken: "rt-old-1234567", Timeout: 5 * time.Second, TokenField: "access_token", ExpiresInField: "expires_in", TokenTypeField: "token_type"}
	pool := NewPool()
	cl, err := NewClient(cfg, pool)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	tok, err := cl.Grant(context.Background(), cfg, time.Now, Hooks{})
	if err != nil || tok.RefreshToken != "rt-new" {
		t.Fatalf("grant: %v %v", tok, err)
	}
	answer["expires_in"] = 1 // too short: refused, its refresh token kept
	_, err = cl.Grant(context.Background(), cfg, time.Now, Hooks{})
	if e, ok := err.(*Error); !ok || e.RefreshToken != "rt-new" || strings.Contains(e.Message, "rt-new") {
		t.Fatalf("refused answer: %#v", err)
	}
	echo = true
	code := *cfg
	code.Code, code.CodeVerifier, code.RefreshToken = "code-abcdef123", "verifier-abcdef123", ""
	for _, c := range []*Config{cfg, &code} {
		_, err = cl.Grant(context.Background(), c, time.Now, Hooks{})
		for _, secret := range []string{"rt-old-1234567", "code-abcdef123", "verifier-abcdef123", "csecret-123456"} {
			if err == nil || strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), url.QueryEscape(secret)) {
				t.Fatalf("echoed error shows %s: %v", secret, err)
			}
		}
	}
}
