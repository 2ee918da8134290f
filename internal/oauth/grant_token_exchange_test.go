package oauth

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// exchangeBody is one token_exchange body of cfg with subject s.
func exchangeBody(t *testing.T, cfg *Config, s *SubjectToken) url.Values {
	t.Helper()
	g, auth, err := rowsOf(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := encodeBody(cfg, g, auth, grantInputs{subject: s})
	if err != nil {
		t.Fatal(err)
	}
	form, err := url.ParseQuery(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return form
}

// TestTokenExchangeBody: RFC 8693 2.1's parameters; the config's
// subject_token_type wins over the source's, which wins over access_token.
func TestTokenExchangeBody(t *testing.T) {
	cfg := &Config{GrantType: GrantTokenExchange, ClientAuth: AuthNone, Audience: "aud", Resource: "https://r.example/",
		RequestedTokenType: TokenTypeAccessToken, Scopes: []string{"s1"}, ClientID: "ignored-with-none"}
	form := exchangeBody(t, cfg, &SubjectToken{Token: "subj", Type: TokenTypeIDToken})
	want := url.Values{"grant_type": {TokenExchangeGrantType}, "subject_token": {"subj"}, "subject_token_type": {TokenTypeIDToken},
		"audience": {"aud"}, "resource": {"https://r.example/"}, "requested_token_type": {TokenTypeAccessToken}, "scope": {"s1"}}
	if form.Encode() != want.Encode() {
		t.Fatalf("body %v, want %v", form, want)
	}
	cfg.SubjectTokenType = TokenTypeJWT
	if got := exchangeBody(t, cfg, &SubjectToken{Token: "subj", Type: TokenTypeIDToken}).Get("subject_token_type"); got != TokenTypeJWT {
		t.Fatalf("subject_token_type %q, want the config's", got)
	}
	cfg.SubjectTokenType = ""
	if got := exchangeBody(t, cfg, &SubjectToken{Token: "subj"}).Get("subject_token_type"); got != TokenTypeAccessToken {
		t.Fatalf("subject_token_type %q, want access_token", got)
	}
}

// TestAccountCredentialsBody: Zoom's grant_type and account_id; the
// client goes in Basic (the header is the client_auth row's).
func TestAccountCredentialsBody(t *testing.T) {
	cfg := &Config{GrantType: GrantAccountCredentials, ClientAuth: AuthBasic, ClientID: "c", ClientSecret: "s", AccountID: "acct"}
	form := exchangeBody(t, cfg, nil)
	if form.Encode() != "account_id=acct&grant_type=account_credentials" {
		t.Fatalf("body %v", form)
	}
}

// TestClientAuthNone: none only where the grant's client is optional.
func TestClientAuthNone(t *testing.T) {
	for grant, needs := range map[string]bool{GrantClientCredentials: true, GrantPassword: true, GrantAccountCredentials: true,
		GrantTokenExchange: false, GrantJWTBearer: false, GrantLogin: false} {
		if NeedsClient(grant) != needs {
			t.Errorf("NeedsClient(%s) = %v", grant, !needs)
		}
	}
	cfg := &Config{TokenURL: "https://v.example/t", GrantType: GrantClientCredentials, ClientAuth: AuthNone, Timeout: time.Second}
	if _, err := NewClient(cfg, NewPool()); err == nil || !strings.HasPrefix(err.Error(), "client_auth:") {
		t.Fatalf("none with client_credentials: %v", err)
	}
}

// TestSubjectSourceFailureAndCap: a failing source fails the grant before
// any request, naming the source's error; a working one's token is sent
// and, with ExpiresWithSubject, caps the new token's expiry.
func TestSubjectSourceFailureAndCap(t *testing.T) {
	requests := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests++
		_ = r.ParseForm()
		if r.PostForm.Get("subject_token") != "subj-tok" {
			w.WriteHeader(400)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"new","token_type":"Bearer","expires_in":3600,"issued_token_type":"urn:ietf:params:oauth:token-type:access_token"}`))
	}))
	defer srv.Close()
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	cfg := &Config{Name: "A", TokenURL: srv.URL, GrantType: GrantTokenExchange, ClientAuth: AuthNone, Timeout: 5 * time.Second,
		TokenField: "access_token", ExpiresInField: "expires_in", TokenTypeField: "token_type",
		SubjectSource: func(context.Context) (*SubjectToken, error) { return nil, errors.New(`subject_config "B": refused`) }}
	c, err := NewClient(cfg, NewPool())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Grant(context.Background(), cfg, clock, Hooks{})
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(e.Message, `no subject token: subject_config "B": refused`) || e.GatewayStatus() != 502 || requests != 0 {
		t.Fatalf("failing source: %v (%d requests)", err, requests)
	}
	subjectExp := now.Add(10 * time.Minute)
	cfg.SubjectSource = func(context.Context) (*SubjectToken, error) {
		return &SubjectToken{Token: "subj-tok", ExpiresAt: subjectExp}, nil
	}
	tok, err := c.Grant(context.Background(), cfg, clock, Hooks{})
	if err != nil || !tok.ExpiresAt.Equal(now.Add(time.Hour)) || tok.IssuedTokenType != TokenTypeAccessToken {
		t.Fatalf("uncapped: %+v %v", tok, err)
	}
	cfg.ExpiresWithSubject = true
	tok, err = c.Grant(context.Background(), cfg, clock, Hooks{})
	if err != nil || !tok.ExpiresAt.Equal(subjectExp) {
		t.Fatalf("capped: %v %v, want the subject's expiry", tok, err)
	}
}

// TestJWTSubject: a JWT subject token is typed jwt and expires at its
// exp; without a readable exp its expiry is unknown (no cap).
func TestJWTSubject(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	jwt := enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(`{"exp":1800000600}`)) + ".sig"
	if s := JWTSubject(jwt); s.Type != TokenTypeJWT || !s.ExpiresAt.Equal(time.Unix(1_800_000_600, 0)) || s.Token != jwt {
		t.Fatalf("%+v", s)
	}
	for _, tok := range []string{"opaque", enc([]byte(`{}`)) + "." + enc([]byte(`{"exp":"soon"}`)) + ".sig"} {
		if s := JWTSubject(tok); !s.ExpiresAt.IsZero() || s.Type != TokenTypeJWT {
			t.Fatalf("%q: %+v, want no expiry", tok, s)
		}
	}
}
