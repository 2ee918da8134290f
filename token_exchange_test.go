package oauthvendor

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
)

// exchangeEnv is a backend with the fake vendor installed, whose token
// requests are kept (path, headers, form) by config name.
type exchangeEnv struct {
	*testEnv
	v *fakeVendor

	mu    sync.Mutex
	forms map[string][]url.Values
	auths map[string][]string
}

func newExchangeEnv(t *testing.T) *exchangeEnv {
	env := newTestEnv(t)
	e := &exchangeEnv{testEnv: env, v: newFakeVendor(env.clock), forms: map[string][]url.Values{}, auths: map[string][]string{}}
	e.v.install(env.b)
	e.v.capture = func(r *http.Request, body string) {
		name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/token")
		form, _ := url.ParseQuery(body)
		e.mu.Lock()
		defer e.mu.Unlock()
		e.forms[name] = append(e.forms[name], form)
		e.auths[name] = append(e.auths[name], r.Header.Get("Authorization"))
	}
	return e
}

func (e *exchangeEnv) formsOf(name string) []url.Values {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]url.Values(nil), e.forms[name]...)
}

// subjectConfig is a client_credentials config at the fake vendor whose
// token may be exchanged by configs at the fake vendor (exchange_urls).
func subjectConfig(name, secret string) map[string]interface{} {
	cfg := fakeVendorConfig(name, secret)
	cfg["exchange_urls"] = "http://127.0.0.1"
	return cfg
}

// exchangeConfig is a token_exchange config at the fake vendor whose
// subject is subject's token.
func exchangeConfig(name, subject string, extra map[string]interface{}) map[string]interface{} {
	cfg := map[string]interface{}{
		"token_url": "http://127.0.0.1/" + name + "/token", "grant_type": "token_exchange", "subject_config": subject,
	}
	for k, v := range extra {
		cfg[k] = v
	}
	return cfg
}

// TestAccountCredentialsZoomShape: preset zoom sends Zoom's
// server-to-server request: grant_type=account_credentials, account_id,
// the client as HTTP Basic and nowhere in the body.
func TestAccountCredentialsZoomShape(t *testing.T) {
	env := newExchangeEnv(t)
	env.write("config/zoom", map[string]interface{}{"preset": "zoom", "token_url": "http://127.0.0.1/zoom/token",
		"client_id": "zid", "client_secret": "zoom-s3cret", "account_id": "acct-42"})
	tok := env.read("creds/zoom").Data["access_token"].(string)
	if !strings.HasPrefix(tok, "tok-zoom-") {
		t.Fatalf("token %q", tok)
	}
	form := env.formsOf("zoom")[0]
	if form.Get("grant_type") != "account_credentials" || form.Get("account_id") != "acct-42" || len(form) != 2 {
		t.Fatalf("body %v, want grant_type and account_id only", form)
	}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("zid:zoom-s3cret"))
	if got := env.auths["zoom"][0]; got != want {
		t.Fatalf("Authorization %q, want %q", got, want)
	}
	cfg := env.read("config/zoom").Data
	if cfg["account_id"] != "acct-42" || cfg["client_auth"] != "basic" || cfg["token_url"] != "http://127.0.0.1/zoom/token" {
		t.Fatalf("read %v", cfg)
	}
	resp, _ := env.do(logical.UpdateOperation, "config/zoom2", map[string]interface{}{"preset": "zoom", "client_id": "zid", "client_secret": "s"})
	if !resp.IsError() || !strings.HasPrefix(resp.Error().Error(), "account_id:") {
		t.Fatalf("zoom without account_id: %v", resp.Error())
	}
}

// TestTokenExchangeRequestShape: RFC 8693 2.1's body with the subject
// config's current token, the written audience, resource, scope and
// requested type, client_id alone (a public client); the subject token is
// stored only under its own config.
func TestTokenExchangeRequestShape(t *testing.T) {
	env := newExchangeEnv(t)
	env.write("config/B", subjectConfig("B", "b-s3cret"))
	env.write("config/A", exchangeConfig("A", "B", map[string]interface{}{
		"client_id": "databricks-sp", "audience": "aud-x", "resource": "https://api.example/",
		"requested_token_type": oauth.TokenTypeAccessToken, "scopes": "all-apis",
	}))
	aData := env.read("creds/A").Data
	a := aData["access_token"].(string)
	b := env.read("creds/B").Data["access_token"].(string)
	if aData["issued_token_type"] != oauth.TokenTypeAccessToken || aData["token_type"] != "Bearer" {
		t.Fatalf("creds/A %v: want issued_token_type beside token_type", aData)
	}
	if _, ok := env.read("creds/B").Data["issued_token_type"]; ok {
		t.Fatal("a client_credentials token shows issued_token_type")
	}
	form := env.formsOf("A")[0]
	want := map[string]string{
		"grant_type": oauth.TokenExchangeGrantType, "subject_token": b, "subject_token_type": oauth.TokenTypeAccessToken,
		"audience": "aud-x", "resource": "https://api.example/", "requested_token_type": oauth.TokenTypeAccessToken,
		"scope": "all-apis", "client_id": "databricks-sp",
	}
	for k, v := range want {
		if form.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, form.Get(k), v)
		}
	}
	if len(form) != len(want) {
		t.Errorf("body %v has more than %v", form, want)
	}
	if n := len(env.v.requests("B")); n != 1 {
		t.Fatalf("B was asked %d times, want 1 (A's grant and B's read share its token)", n)
	}
	keys, _ := logical.CollectKeys(context.Background(), env.storage)
	for _, k := range keys {
		entry, _ := env.storage.Get(context.Background(), k)
		if strings.Contains(string(entry.Value), b) && k != tokenPrefix+"B" {
			t.Errorf("B's token is stored under %s", k)
		}
	}
	if strings.Contains(a, b) {
		t.Fatal("A's token is B's")
	}
	cfg := env.read("config/A").Data
	if cfg["subject_config"] != "B" || cfg["subject_token_type"] != oauth.TokenTypeAccessToken || cfg["audience"] != "aud-x" {
		t.Fatalf("read %v", cfg)
	}
}

// TestTokenExchangeSharesTheSubjectCache: many cold readers of A make one
// request to A and one to B; B refreshes on its own schedule, and A's
// next grant exchanges B's new token, not a copy of the old one.
func TestTokenExchangeSharesTheSubjectCache(t *testing.T) {
	env := newExchangeEnv(t)
	env.v.setMode("B", vendorMode{lifetime: 20 * time.Minute})
	env.write("config/B", subjectConfig("B", "b-s3cret"))
	env.write("config/A", exchangeConfig("A", "B", nil))
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := env.do(logical.ReadOperation, "creds/A", nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if a, b := len(env.v.requests("A")), len(env.v.requests("B")); a != 1 || b != 1 {
		t.Fatalf("50 cold reads of A: %d requests to A, %d to B; want 1 and 1", a, b)
	}
	b1 := env.formsOf("A")[0].Get("subject_token")
	// B's 20 m tokens refresh with 5 m left: B is read (by B's own reader) into
	// its window, and mints; A, 1 h, keeps its token.
	env.clock.Advance(16 * time.Minute)
	b2 := env.read("creds/B").Data["access_token"].(string)
	env.read("creds/A")
	if b2 == b1 || len(env.v.requests("B")) != 2 || len(env.v.requests("A")) != 1 {
		t.Fatalf("B's refresh: B %d requests, A %d; want 2 and 1", len(env.v.requests("B")), len(env.v.requests("A")))
	}
	// A's window (15 m of its hour): its grant exchanges B's current token.
	env.clock.Advance(30 * time.Minute)
	env.read("creds/A")
	forms := env.formsOf("A")
	if len(forms) != 2 {
		t.Fatalf("A: %d requests, want 2", len(forms))
	}
	got := forms[1].Get("subject_token")
	if issued, ok := env.v.token(got); !ok || issued.name != "B" || !issued.expiresAt.After(env.clock.Now()) {
		t.Fatalf("A's second grant sent %q, not a live token of B", got)
	}
}

// exchangeFailing: A (client a, secret a-s3cret-value) exchanges B's token
// (B's secret b-s3cret-value), the vendor of failing answers with mode;
// the error is that of A's first read.
func exchangeFailing(t *testing.T, failing string, mode vendorMode) (*exchangeEnv, error) {
	env := newExchangeEnv(t)
	env.v.setMode(failing, mode)
	env.write("config/B", subjectConfig("B", "b-s3cret-value"))
	env.write("config/A", exchangeConfig("A", "B", map[string]interface{}{"client_id": "a", "client_secret": "a-s3cret-value"}))
	_, err := env.do(logical.ReadOperation, "creds/A", nil)
	return env, err
}

// TestTokenExchangeSubjectFails: without B's token A's grant fails naming
// subject_config and B's own failure, and never B's secret; a still-valid
// token of A keeps serving, with the failure as a warning.
func TestTokenExchangeSubjectFails(t *testing.T) {
	env, err := exchangeFailing(t, "B", vendorMode{status: 401, oauthError: "invalid_client", echo: true})
	if err == nil || !strings.Contains(err.Error(), `subject_config "B"`) || !strings.Contains(err.Error(), "invalid_client") || codedStatus(err) != 502 {
		t.Fatalf("A with B failing: %v (status %d)", err, codedStatus(err))
	}
	assertNoSecret(t, err.Error(), []string{"b-s3cret-value", "a-s3cret-value"})
	if n := len(env.v.requests("A")); n != 0 {
		t.Fatalf("A's vendor was asked %d times without a subject token", n)
	}
	// B recovers; A gets a token; B fails again while A refreshes.
	env.v.setMode("B", vendorMode{lifetime: 20 * time.Minute})
	env.do(logical.UpdateOperation, "rotate/B", nil)
	env.clock.Advance(time.Hour) // past A's back-off
	a := env.read("creds/A").Data["access_token"].(string)
	env.v.setMode("B", vendorMode{status: 503})
	env.clock.Advance(50 * time.Minute) // A and B in their windows, B's token gone
	resp := env.read("creds/A")
	if resp.Data["access_token"] != a || len(resp.Warnings) == 0 || !strings.Contains(resp.Warnings[0], `subject_config "B"`) {
		t.Fatalf("A while B fails: %v %v, want A's cached token with a warning naming subject_config", resp.Data["access_token"], resp.Warnings)
	}
	st := env.read("status/A").Data
	if !strings.Contains(st["last_error"].(string), `subject_config "B"`) {
		t.Fatalf("status/A last_error %q", st["last_error"])
	}
}

// TestTokenExchangeExpiresWithSubject: with expires_with_subject the
// exchanged token (and its lease) ends when B's does, though the vendor
// gave it an hour; without, the vendor's hour stands.
func TestTokenExchangeExpiresWithSubject(t *testing.T) {
	env := newExchangeEnv(t)
	env.v.setMode("B", vendorMode{lifetime: 20 * time.Minute})
	env.write("config/B", subjectConfig("B", "b-s3cret"))
	bExp := env.read("creds/B").Data["expires_at"]
	env.clock.Advance(5 * time.Minute)
	env.write("config/A", exchangeConfig("A", "B", map[string]interface{}{"expires_with_subject": true}))
	env.write("config/C", exchangeConfig("C", "B", nil))
	resp := env.read("creds/A")
	if resp.Data["expires_at"] != bExp {
		t.Fatalf("A expires %v, want B's %v", resp.Data["expires_at"], bExp)
	}
	if resp.Secret.TTL > 15*time.Minute {
		t.Fatalf("A's lease %s outlives B's token (15 m left)", resp.Secret.TTL)
	}
	if c := env.read("creds/C").Data["expires_at"]; c != rfc3339(env.clock.Now().Add(time.Hour)) {
		t.Fatalf("C (not capped) expires %v", c)
	}
}

// TestTokenExchangeEchoNeverShowsTheSubject: A's vendor echoes the whole
// request; B's token is cut out of A's error, status and logs, as A's own
// secrets are.
func TestTokenExchangeEchoNeverShowsTheSubject(t *testing.T) {
	env, err := exchangeFailing(t, "A", vendorMode{status: 400, oauthError: "invalid_request", echo: true})
	if err == nil || codedStatus(err) != 502 {
		t.Fatalf("echoing vendor: %v", err)
	}
	b := env.read("creds/B").Data["access_token"].(string)
	if got := env.formsOf("A")[0].Get("subject_token"); got != b {
		t.Fatalf("A sent %q, B's token is %q", got, b)
	}
	secrets := []string{b, "a-s3cret-value"}
	assertNoSecret(t, err.Error(), secrets)
	assertNoSecret(t, env.read("status/A").Data["last_error"].(string), secrets)
	assertNoSecret(t, env.logs.String(), secrets)
	if !strings.Contains(err.Error(), "invalid_request") {
		t.Fatalf("error %q does not name the vendor's error", err)
	}
}

// TestGoogleSTSPreset: no client authentication at all, the audience, the
// requested type, Google's scope and subject type jwt.
func TestGoogleSTSPreset(t *testing.T) {
	env := newExchangeEnv(t)
	env.write("config/B", subjectConfig("B", "b-s3cret"))
	aud := "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/p/providers/v"
	env.write("config/gcp", map[string]interface{}{"preset": "google-sts", "token_url": "http://127.0.0.1/gcp/token",
		"subject_config": "B", "audience": aud})
	env.read("creds/gcp")
	form := env.formsOf("gcp")[0]
	if form.Get("audience") != aud || form.Get("subject_token_type") != oauth.TokenTypeJWT ||
		form.Get("requested_token_type") != oauth.TokenTypeAccessToken || form.Get("scope") != "https://www.googleapis.com/auth/cloud-platform" {
		t.Fatalf("body %v", form)
	}
	if form.Has("client_id") || form.Has("client_secret") || env.auths["gcp"][0] != "" {
		t.Fatalf("client credentials sent with client_auth none: %v", form)
	}
	resp, _ := env.do(logical.UpdateOperation, "config/gcp2", map[string]interface{}{"preset": "google-sts", "subject_config": "B"})
	if !resp.IsError() || !strings.HasPrefix(resp.Error().Error(), "audience:") {
		t.Fatalf("google-sts without audience: %v", resp.Error())
	}
}

// TestDatabricksPreset: the workspace URL completed with /oidc/v1/token,
// scope all-apis, subject type jwt, client_id in the body without secret.
func TestDatabricksPreset(t *testing.T) {
	env := newExchangeEnv(t)
	env.write("config/B", subjectConfig("B", "b-s3cret"))
	env.write("config/dbx", map[string]interface{}{"preset": "databricks", "token_url": "http://127.0.0.1/dbx",
		"subject_config": "B", "client_id": "sp-uuid"})
	if u := env.read("config/dbx").Data["token_url"]; u != "http://127.0.0.1/dbx/oidc/v1/token" {
		t.Fatalf("token_url %v", u)
	}
}

// TestSubjectConfigRefusals: the write-time rules of token_exchange, each
// a 400 naming its field.
func TestSubjectConfigRefusals(t *testing.T) {
	env := newExchangeEnv(t)
	env.write("config/B", subjectConfig("B", "b-s3cret"))
	env.write("config/Z", fakeVendorConfig("Z", "z-s3cret"))
	relay := map[string]interface{}{"exchange_urls": "http://127.0.0.1"} // exchangers hold no secret to ask for
	env.write("config/A", exchangeConfig("A", "B", relay))
	for i, n := range []string{"C1", "C2", "C3"} {
		prev := []string{"A", "C1", "C2"}[i]
		env.write("config/"+n, exchangeConfig(n, prev, relay))
	}
	cases := []struct {
		name, path string
		data       map[string]interface{}
		field, has string
	}{
		{"subject keeps its token", "config/X", exchangeConfig("X", "Z", nil), "subject_config", `"Z" does not let its token go to http://127.0.0.1:80`},
		{"no subject", "config/X", map[string]interface{}{"token_url": "http://127.0.0.1/X/token", "grant_type": "token_exchange"}, "subject_config", "required"},
		{"missing", "config/X", exchangeConfig("X", "nope", nil), "subject_config", "no config named"},
		{"itself", "config/X", exchangeConfig("X", "X", nil), "subject_config", "this config"},
		{"cycle", "config/B", map[string]interface{}{"grant_type": "token_exchange", "subject_config": "A"}, "subject_config", "B -> A -> B"},
		{"longer cycle", "config/B", map[string]interface{}{"grant_type": "token_exchange", "subject_config": "C3"}, "subject_config", "cycle"},
		{"too long", "config/X", exchangeConfig("X", "C3", nil), "subject_config", "longer than 4"},
		{"other grant", "config/Y", map[string]interface{}{"token_url": "http://127.0.0.1/Y/token", "client_id": "c", "client_secret": "s", "subject_config": "B"}, "subject_config", "only with grant_type token_exchange"},
		{"bad name", "config/X", exchangeConfig("X", "a..b", nil), "subject_config", ".."},
		{"none for client_credentials", "config/Y", map[string]interface{}{"token_url": "http://127.0.0.1/Y/token", "client_id": "c", "client_auth": "none"}, "client_auth", "needs the client"},
		{"type not a URI", "config/X", exchangeConfig("X", "B", map[string]interface{}{"subject_token_type": "jwt"}), "subject_token_type", "RFC 8693"},
		{"resource not absolute", "config/X", exchangeConfig("X", "B", map[string]interface{}{"resource": "/api"}), "resource", "absolute"},
		{"account_credentials without account_id", "config/Y", map[string]interface{}{"token_url": "http://127.0.0.1/Y/token", "grant_type": "account_credentials", "client_id": "c", "client_secret": "s"}, "account_id", "required"},
	}
	for _, c := range cases {
		resp, err := env.do(logical.UpdateOperation, c.path, c.data)
		if err != nil || resp == nil || !resp.IsError() {
			t.Errorf("%s: %v %v, want a 400", c.name, resp, err)
			continue
		}
		if msg := resp.Error().Error(); !strings.HasPrefix(msg, c.field+":") || !strings.Contains(msg, c.has) {
			t.Errorf("%s: %q, want %s: ... %s", c.name, msg, c.field, c.has)
		}
	}
	if got := env.read("config/B").Data["grant_type"]; got != "client_credentials" {
		t.Fatalf("a refused write changed B: %v", got)
	}
}

// TestSubjectFollowsHost: moving A's token endpoint sends B's token to a
// new host, so the move must name subject_config again.
func TestSubjectFollowsHost(t *testing.T) {
	env := newExchangeEnv(t)
	env.write("config/B", subjectConfig("B", "b-s3cret"))
	env.write("config/A", exchangeConfig("A", "B", nil))
	resp, _ := env.do(logical.UpdateOperation, "config/A", map[string]interface{}{"token_url": "https://elsewhere.example/token"})
	if !resp.IsError() || !strings.Contains(resp.Error().Error(), "give subject_config again") {
		t.Fatalf("move without subject_config: %v", resp.Error())
	}
	move := map[string]interface{}{"token_url": "https://elsewhere.example/token", "subject_config": "B"}
	resp, _ = env.do(logical.UpdateOperation, "config/A", move)
	if !resp.IsError() || !strings.Contains(resp.Error().Error(), "B's exchange_urls") {
		t.Fatalf("move to a host B did not name: %v", resp.Error())
	}
	env.write("config/B", map[string]interface{}{"exchange_urls": "http://127.0.0.1,https://elsewhere.example", "client_secret": "b-s3cret"})
	env.write("config/A", move)
}

// TestExchangeURLsFollowTheSecrets: a config's token goes only to the
// token endpoints its exchange_urls name; adding one asks for its
// credentials again, and a grant checks the list as it is then.
func TestExchangeURLsFollowTheSecrets(t *testing.T) {
	env := newExchangeEnv(t)
	env.write("config/B", fakeVendorConfig("B", "b-s3cret"))
	resp, _ := env.do(logical.UpdateOperation, "config/B", map[string]interface{}{"exchange_urls": "http://127.0.0.1"})
	if !resp.IsError() || resp.Error().Error() != "exchange_urls: adding a token endpoint lets this config's token go there: give client_secret again in the same write" {
		t.Fatalf("exchange_urls without the secret: %v", resp.Error())
	}
	env.write("config/B", map[string]interface{}{"exchange_urls": "http://127.0.0.1", "client_secret": "b-s3cret"})
	b := env.read("creds/B").Data["access_token"]
	env.write("config/A", exchangeConfig("A", "B", nil))
	env.read("creds/A")
	if env.read("creds/B").Data["access_token"] != b {
		t.Fatal("setting exchange_urls dropped B's token")
	}
	// B's owner takes the endpoint back: A's next grant sends nothing.
	env.write("config/B", map[string]interface{}{"exchange_urls": "https://other.example", "client_secret": "b-s3cret"})
	env.do(logical.UpdateOperation, "rotate/B", nil)
	n := len(env.v.requests("A"))
	_, err := env.do(logical.UpdateOperation, "rotate/A", nil)
	if err == nil || !strings.Contains(err.Error(), `subject_config "B" does not let its token go to http://127.0.0.1:80`) || len(env.v.requests("A")) != n {
		t.Fatalf("A after B took its endpoint back: %v (%d requests, was %d)", err, len(env.v.requests("A")), n)
	}
}

// TestDeletedSubject: deleting B leaves A's grants failing with a 502
// naming subject_config and the missing config, without asking A's vendor.
func TestDeletedSubject(t *testing.T) {
	env := newExchangeEnv(t)
	env.write("config/B", subjectConfig("B", "b-s3cret"))
	env.write("config/A", exchangeConfig("A", "B", nil))
	env.mustOK(logical.DeleteOperation, "config/B", nil)
	_, err := env.do(logical.UpdateOperation, "rotate/A", nil)
	if err == nil || codedStatus(err) != 502 || !strings.Contains(err.Error(), `subject_config "B": no vendor config named "B"`) || len(env.v.requests("A")) != 0 {
		t.Fatalf("A after B's delete: %v (status %d, %d requests)", err, codedStatus(err), len(env.v.requests("A")))
	}
}
