package oauthvendor

import (
	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/testkit"

	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/helper/testhelpers/schema"
	"github.com/hashicorp/vault/sdk/logical"
)

// consentEnv is a backend with a user-delegated config at a code vendor.
type consentEnv struct {
	*testEnv
	v *codeVendor
}

func newConsentEnv(t *testing.T, s logical.Storage) *consentEnv {
	t.Helper()
	env := newTestEnvWith(t, s, newFakeClock())
	v := newCodeVendor(t, env.clock)
	v.install(env.b)
	return &consentEnv{env, v}
}

// callback is the vendor's redirect reaching the mount, without a token.
func (e *consentEnv) callback(q url.Values) (int, string) {
	e.t.Helper()
	data := map[string]interface{}{}
	for k := range q {
		data[k] = q.Get(k)
	}
	resp, err := e.do(logical.ReadOperation, "callback", data)
	if err != nil {
		e.t.Fatalf("callback: %v", err)
	}
	return resp.Data[logical.HTTPStatusCode].(int), string(resp.Data[logical.HTTPRawBody].([]byte))
}

// consent runs a whole consent through the callback.
func (e *consentEnv) consent(name string) {
	e.t.Helper()
	start := e.write("consent/"+name, nil)
	if status, page := e.callback(e.v.approve(start.Data["authorize_url"].(string))); status != 200 {
		e.t.Fatalf("callback: %d %s", status, page)
	}
}

// heldRefreshToken is the refresh token the plugin would send next.
func (e *consentEnv) heldRefreshToken(name string) string {
	e.t.Helper()
	rec, err := e.b.heldRefresh(context.Background(), e.storage, name)
	if err != nil || rec == nil {
		e.t.Fatalf("held refresh token of %s: %v %v", name, rec, err)
	}
	return rec.Current
}

func TestAuthCodeConsentThroughCallback(t *testing.T) {
	env := newConsentEnv(t, &logical.InmemStorage{})
	w := env.write("config/xero", authCodeConfig("xero"))
	if len(w.Warnings) == 0 || !strings.Contains(strings.Join(w.Warnings, " "), "consent/xero") {
		t.Fatalf("config write warnings %v: want the next step naming consent/xero", w.Warnings)
	}
	cfg := env.read("config/xero").Data
	if cfg["refresh_token_set"] != false || cfg["needs_consent"] != true {
		t.Fatalf("before consent: refresh_token_set %v needs_consent %v", cfg["refresh_token_set"], cfg["needs_consent"])
	}
	_, err := env.do(logical.ReadOperation, "creds/xero", nil)
	if err == nil || !strings.Contains(err.Error(), "consent/xero") || codedStatus(err) != http.StatusServiceUnavailable {
		t.Fatalf("creds before consent: %v (%d), want a 503 naming consent/xero", err, codedStatus(err))
	}
	if st := env.read("status/xero").Data["state"]; st != "needs-consent" {
		t.Fatalf("status before consent: %v", st)
	}

	start := env.write("consent/xero", nil)
	au, _ := url.Parse(start.Data["authorize_url"].(string))
	q := au.Query()
	for k, want := range map[string]string{"client_id": "id-xero", "redirect_uri": "https://vault.example.com/v1/oauthvendor/callback",
		"scope": "offline_access read", "prompt": "consent", "audience": "api.example.com", "state": start.Data["state"].(string)} {
		if q.Get(k) != want {
			t.Errorf("authorize_url %s = %q, want %q", k, q.Get(k), want)
		}
	}
	if au.Host != "login.example.com" || start.Data["expires_at"] != rfc3339(env.clock.Now().Add(consentTTL)) {
		t.Errorf("authorize_url host %s, expires_at %v", au.Host, start.Data["expires_at"])
	}
	redirect := env.v.approve(au.String())
	status, page := env.callback(redirect)
	if status != 200 || !strings.Contains(page, "done") || strings.Contains(page, redirect.Get("code")) {
		t.Fatalf("callback: %d %q", status, page)
	}
	// Single use: the same redirect again finds no consent.
	if status, page := env.callback(redirect); status != 400 || !strings.Contains(page, "no consent in progress") {
		t.Fatalf("replayed callback: %d %q", status, page)
	}
	env.v.get(func(v *codeVendor) {
		if v.exchanges != 1 {
			t.Errorf("%d code exchanges, want 1 (the replay never reaches the vendor)", v.exchanges)
		}
	})
	cfg = env.read("config/xero").Data
	if cfg["refresh_token_set"] != true || cfg["needs_consent"] != false {
		t.Fatalf("after consent: refresh_token_set %v needs_consent %v", cfg["refresh_token_set"], cfg["needs_consent"])
	}
	// The exchange's access token is served from the cache.
	first := env.read("creds/xero")
	if !strings.HasPrefix(first.Data["access_token"].(string), "at-") || first.Secret == nil {
		t.Fatalf("creds after consent: %v", first.Data)
	}
	// Past the refresh window: one refresh grant, a rotated refresh token stored.
	before := env.heldRefreshToken("xero")
	env.clock.Advance(50 * time.Minute)
	second := env.read("creds/xero")
	if second.Data["access_token"] == first.Data["access_token"] {
		t.Fatal("no new access token after the refresh window")
	}
	after := env.heldRefreshToken("xero")
	env.v.get(func(v *codeVendor) {
		if v.refreshes != 1 || v.current[v.family[after]] != after || after == before {
			t.Errorf("refreshes %d; stored %q, vendor's current %q, before %q", v.refreshes, after, v.current[v.family[after]], before)
		}
		if !strings.Contains(v.lastBody, "grant_type=refresh_token") || !strings.Contains(v.lastBody, url.QueryEscape(before)) {
			t.Errorf("refresh request body %q", v.lastBody)
		}
	})
	rec, _ := loadRefresh(context.Background(), env.storage, "xero")
	if rec.Current != after || rec.Previous != before {
		t.Errorf("stored record current/previous = %q/%q, want %q/%q", rec.Current, rec.Previous, after, before)
	}
	if st := env.read("status/xero").Data["state"]; st != "ok" {
		t.Errorf("status after consent and refresh: %v", st)
	}
	env.assertNoSecrets(redirect.Get("code"), before, after, "client-secret-xero")
}

// assertNoSecrets: none of secrets in the config read, status, list or logs.
func (e *consentEnv) assertNoSecrets(secrets ...string) {
	e.t.Helper()
	var texts []string
	for _, p := range []string{"config/xero", "status/xero"} {
		if r, err := e.do(logical.ReadOperation, p, nil); err == nil && r != nil {
			texts = append(texts, fmt.Sprint(r.Data, r.Warnings))
		}
	}
	if r, err := e.do(logical.ListOperation, "status/", nil); err == nil && r != nil {
		texts = append(texts, fmt.Sprint(r.Data))
	}
	texts = append(texts, e.logs.String())
	for _, s := range secrets {
		for _, text := range texts {
			if s != "" && strings.Contains(text, s) {
				e.t.Errorf("secret %q shows: %.300s", s, text)
			}
		}
	}
}

// TestAuthCodeConsentByHand: where the vendor cannot redirect to Vault,
// the operator writes the code back; a wrong state, an expired consent
// and a config changed since the consent started are each a 400 naming
// state, and none reaches the vendor.
func TestAuthCodeConsentByHand(t *testing.T) {
	env := newConsentEnv(t, &logical.InmemStorage{})
	env.write("config/xero", authCodeConfig("xero"))
	refusal := func(data map[string]interface{}, want string) {
		t.Helper()
		resp, err := env.do(logical.UpdateOperation, "consent/xero", data)
		if err != nil || resp == nil || !resp.IsError() || !strings.HasPrefix(resp.Error().Error(), "state: ") || !strings.Contains(resp.Error().Error(), want) {
			t.Fatalf("consent %v: %v %v, want a 400 on state: %s", data["state"], resp, err, want)
		}
	}
	redirect := env.v.approve(env.write("consent/xero", nil).Data["authorize_url"].(string))
	refusal(map[string]interface{}{"code": redirect.Get("code"), "state": "xero~forged"}, "matches no consent in progress")
	// A wrong state does not spend the consent: the right one still works.
	got := env.write("consent/xero", map[string]interface{}{"code": redirect.Get("code"), "state": redirect.Get("state")})
	if got.Data["refresh_token_set"] != true {
		t.Fatalf("consent by hand: %v", got.Data)
	}
	refusal(map[string]interface{}{"code": redirect.Get("code")}, "no consent in progress")

	// Expired: ten minutes and more after it started.
	redirect = env.v.approve(env.write("consent/xero", nil).Data["authorize_url"].(string))
	env.clock.Advance(consentTTL)
	refusal(map[string]interface{}{"code": redirect.Get("code")}, "expired")

	// A config written since (other scopes): the code is not sent.
	redirect = env.v.approve(env.write("consent/xero", nil).Data["authorize_url"].(string))
	env.write("config/xero", map[string]interface{}{"scopes": "offline_access,read,write"})
	refusal(map[string]interface{}{"code": redirect.Get("code")}, "changed since")
	if cfg := env.read("config/xero").Data; cfg["refresh_token_set"] != true {
		t.Fatal("a scope change dropped the refresh token of the same client")
	}
	// Another client: its consent in progress and the refresh token go.
	redirect = env.v.approve(env.write("consent/xero", nil).Data["authorize_url"].(string))
	env.write("config/xero", map[string]interface{}{"client_id": "another", "client_secret": "client-secret-xero"})
	refusal(map[string]interface{}{"code": redirect.Get("code")}, "no consent in progress")
	env.v.get(func(v *codeVendor) {
		if v.exchanges != 1 {
			t.Errorf("%d code exchanges, want 1: no refused consent reaches the vendor", v.exchanges)
		}
	})
	// The new client has no refresh token: the old one was the old client's.
	if cfg := env.read("config/xero").Data; cfg["refresh_token_set"] != false || cfg["needs_consent"] != true {
		t.Fatalf("after a client change: refresh_token_set %v needs_consent %v", cfg["refresh_token_set"], cfg["needs_consent"])
	}
	// consent for a config of another grant names grant_type.
	env.write("config/cc", fakeVendorConfig("cc", "s3cret-cc"))
	resp, _ := env.do(logical.UpdateOperation, "consent/cc", nil)
	if resp == nil || !resp.IsError() || !strings.HasPrefix(resp.Error().Error(), "grant_type: ") {
		t.Fatalf("consent of a client_credentials config: %v", resp)
	}
	if _, err := env.do(logical.UpdateOperation, "consent/none", nil); codedStatus(err) != 404 {
		t.Fatalf("consent of no config: %v", err)
	}
}

// TestAuthCodeNeedsConsent: a refused refresh token (invalid_grant) puts
// the connection in needs-consent: readers get an error naming
// consent/<name>, the vendor is not asked again however long it waits
// (rotate included), status, the list and the gauge say so; a new
// consent clears it.
func TestAuthCodeNeedsConsent(t *testing.T) {
	env := newConsentEnv(t, &logical.InmemStorage{})
	env.write("config/xero", authCodeConfig("xero"))
	env.consent("xero")
	env.v.revokeAll()
	env.clock.Advance(time.Hour)
	_, err := env.do(logical.ReadOperation, "creds/xero", nil)
	if err == nil || codedStatus(err) != http.StatusBadGateway || !strings.Contains(err.Error(), "consent/xero") || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("creds after the refresh token was revoked: %v (%d)", err, codedStatus(err))
	}
	var asked int
	env.v.get(func(v *codeVendor) { asked = v.requests })
	for range 10 {
		env.clock.Advance(6 * time.Hour)
		if _, err := env.do(logical.ReadOperation, "creds/xero", nil); err == nil || !strings.Contains(err.Error(), "consent/xero") {
			t.Fatalf("creds while needing consent: %v", err)
		}
		if _, err := env.do(logical.UpdateOperation, "rotate/xero", nil); err == nil {
			t.Fatal("rotate while needing consent succeeded")
		}
		env.b.periodic(context.Background(), &logical.Request{Storage: env.storage})
	}
	env.v.get(func(v *codeVendor) {
		if v.requests != asked {
			t.Errorf("%d vendor requests while needing consent, want none", v.requests-asked)
		}
	})
	if st := env.read("status/xero").Data; st["state"] != "needs-consent" || !strings.Contains(st["last_error"].(string), "consent/xero") {
		t.Fatalf("status: %v", st)
	}
	list := env.mustOK(logical.ListOperation, "status/", nil).Data["key_info"].(map[string]interface{})
	if list["xero"].(map[string]interface{})["state"] != "needs-consent" {
		t.Fatalf("status list: %v", list["xero"])
	}
	if m := env.metricsText(); !strings.Contains(m, `oauthvendor_needs_consent{config="xero"} 1`) {
		t.Fatalf("metrics lack the needs-consent gauge at 1:\n%s", grepLines(m, "needs_consent"))
	}
	env.consent("xero")
	if got := env.read("creds/xero"); got.Data["access_token"] == nil {
		t.Fatal("no token after a new consent")
	}
	if st := env.read("status/xero").Data["state"]; st != "ok" {
		t.Fatalf("status after a new consent: %v", st)
	}
	if m := env.metricsText(); !strings.Contains(m, `oauthvendor_needs_consent{config="xero"} 0`) {
		t.Fatalf("metrics: the gauge stays up after consent:\n%s", grepLines(m, "needs_consent"))
	}
}

func (e *testEnv) metricsText() string {
	e.t.Helper()
	return string(e.read("metrics").Data[logical.HTTPRawBody].([]byte))
}

func grepLines(text, word string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestAuthCodeConfigValidation: each refusal a 400 naming its field,
// nothing stored.
func TestAuthCodeConfigValidation(t *testing.T) {
	env := newConsentEnv(t, &logical.InmemStorage{})
	cases := []struct {
		name  string
		set   map[string]interface{}
		field string
	}{
		{"no auth_url", map[string]interface{}{"auth_url": ""}, "auth_url"},
		{"http auth_url", map[string]interface{}{"auth_url": "http://login.example.com/authorize"}, "auth_url"},
		{"auth_url on link-local", map[string]interface{}{"auth_url": "https://169.254.169.254/authorize"}, "auth_url"},
		{"no redirect_url", map[string]interface{}{"redirect_url": ""}, "redirect_url"},
		{"relative redirect_url", map[string]interface{}{"redirect_url": "/callback"}, "redirect_url"},
		{"state in authorize_params", map[string]interface{}{"authorize_params": map[string]interface{}{"state": "x"}}, "authorize_params"},
		{"code_challenge in authorize_params", map[string]interface{}{"authorize_params": map[string]interface{}{"code_challenge": "x"}}, "authorize_params"},
		{"no client_id", map[string]interface{}{"client_id": ""}, "client_id"},
		{"a secret for a public client", map[string]interface{}{"client_auth": "none"}, "client_secret"},
	}
	for _, c := range cases {
		data := authCodeConfig("x")
		for k, v := range c.set {
			data[k] = v
		}
		resp, err := env.do(logical.UpdateOperation, "config/x", data)
		if err != nil || resp == nil || !resp.IsError() || !strings.HasPrefix(resp.Error().Error(), c.field+": ") {
			t.Errorf("%s: %v %v, want a 400 naming %s", c.name, resp, err, c.field)
		}
	}
	for _, c := range []struct {
		set   map[string]interface{}
		field string
	}{
		{map[string]interface{}{"client_auth": "none"}, "client_auth"},
		{map[string]interface{}{"auth_url": "https://login.example.com/a"}, "auth_url"},
		{map[string]interface{}{"authorize_params": "prompt=consent"}, "authorize_params"},
	} {
		data := fakeVendorConfig("x", "s3cret-x")
		for k, v := range c.set {
			data[k] = v
		}
		resp, _ := env.do(logical.UpdateOperation, "config/x", data)
		if resp == nil || !resp.IsError() || !strings.HasPrefix(resp.Error().Error(), c.field+": ") {
			t.Errorf("client_credentials with %v: %v, want a 400 naming %s", c.set, resp, c.field)
		}
	}
	if e, _ := env.storage.Get(context.Background(), configPrefix+"x"); e != nil {
		t.Fatal("a refused write stored the config")
	}
	// Loopback http is allowed, as for token_url; a public client needs no secret.
	data := authCodeConfig("x")
	data["auth_url"], data["client_auth"], data["client_secret"] = "http://127.0.0.1:8080/authorize", "none", ""
	env.write("config/x", data)
}

// TestAuthCodePublicClient: client_auth=none sends client_id alone, with
// PKCE proving the client (RFC 7636), and refreshes the same way.
func TestAuthCodePublicClient(t *testing.T) {
	env := newConsentEnv(t, &logical.InmemStorage{})
	data := authCodeConfig("xero")
	data["client_auth"] = "none"
	delete(data, "client_secret")
	env.write("config/xero", data)
	env.consent("xero")
	env.clock.Advance(50 * time.Minute)
	env.read("creds/xero")
	env.v.get(func(v *codeVendor) {
		form, _ := url.ParseQuery(v.lastBody)
		if v.refreshes != 1 || form.Get("client_id") != "id-xero" || form.Has("client_secret") {
			t.Fatalf("public client's refresh: %d refreshes, body %v", v.refreshes, form)
		}
	})
	// A public client has no secret a writer must give again: a new CA
	// (a server of the writer's under the vendor's name) drops the
	// refresh token instead of sending it there.
	env.write("config/xero", map[string]interface{}{"ca_cert": testkit.CAPEM(t)})
	if cfg := env.read("config/xero").Data; cfg["refresh_token_set"] != false || cfg["needs_consent"] != true {
		t.Fatalf("after a ca_cert change: refresh_token_set %v needs_consent %v", cfg["refresh_token_set"], cfg["needs_consent"])
	}
}

// TestCallbackErrors: the vendor's error redirect spends the consent and
// shows the OAuth error (printable text only); a state of no consent, a
// forged state and a missing code are 400 pages; nothing reaches the
// vendor and no page echoes the code.
func TestCallbackErrors(t *testing.T) {
	env := newConsentEnv(t, &logical.InmemStorage{})
	env.write("config/xero", authCodeConfig("xero"))
	redirect := env.v.approve(env.write("consent/xero", nil).Data["authorize_url"].(string))
	for _, q := range []url.Values{
		{"code": {"c"}, "state": {"nobody"}},
		{"code": {"c"}, "state": {"xero~forged"}},
		{"state": {redirect.Get("state")}},
	} {
		if status, page := env.callback(q); status != 400 || !strings.HasPrefix(page, "Consent failed") {
			t.Errorf("callback %v: %d %q", q, status, page)
		}
	}
	status, page := env.callback(url.Values{"error": {"access_denied"}, "error_description": {"The user said no\n<script>"}, "state": {redirect.Get("state")}})
	if status != 400 || !strings.Contains(page, "access_denied: The user said no<script>") || strings.Contains(page, "\n<") {
		t.Fatalf("error redirect: %d %q", status, page)
	}
	// Spent: the code of that consent cannot finish it any more.
	if status, _ := env.callback(redirect); status != 400 {
		t.Fatalf("code after the error redirect: %d", status)
	}
	env.mustRequests(0)
}

// TestConsentCodeNeverQuoted: a code the SDK cannot convert (an object)
// is refused naming the field, without the SDK's message quoting it.
func TestConsentCodeNeverQuoted(t *testing.T) {
	env := newConsentEnv(t, &logical.InmemStorage{})
	env.write("config/xero", authCodeConfig("xero"))
	for _, path := range []string{"consent/xero", "callback"} {
		var op logical.Operation = logical.UpdateOperation
		if path == "callback" {
			op = logical.ReadOperation
		}
		resp, err := env.do(op, path, map[string]interface{}{"code": map[string]interface{}{"k": "code-secret-value"}})
		if err != nil || resp == nil || !resp.IsError() || !strings.HasPrefix(resp.Error().Error(), "code: ") || strings.Contains(resp.Error().Error(), "code-secret-value") {
			t.Fatalf("%s with an object code: %v %v", path, resp, err)
		}
	}
}

// TestRefreshFanIn: 50 concurrent reads of a token in its refresh window
// and concurrent rotates: every refresh sends the token the one before it
// answered (the vendor sees no replay), and the reads share one refresh.
func TestRefreshFanIn(t *testing.T) {
	env := newConsentEnv(t, &logical.InmemStorage{})
	env.write("config/xero", authCodeConfig("xero"))
	env.consent("xero")
	env.clock.Advance(50 * time.Minute)
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := env.do(logical.ReadOperation, "creds/xero", nil); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent read: %v", err)
	}
	env.v.get(func(v *codeVendor) {
		if v.refreshes != 1 {
			t.Fatalf("50 concurrent reads ran %d refreshes, want 1", v.refreshes)
		}
	})
	for range 5 {
		wg.Add(2)
		go func() { defer wg.Done(); env.do(logical.UpdateOperation, "rotate/xero", nil) }()
		go func() { defer wg.Done(); env.do(logical.ReadOperation, "creds/xero", nil) }()
	}
	wg.Wait()
	env.v.get(func(v *codeVendor) {
		if v.replays != 0 || v.refreshes != 6 {
			t.Fatalf("after 5 concurrent rotates: %d refreshes, %d replays; want 6, 0", v.refreshes, v.replays)
		}
	})
}

// TestConsentResponsesMatchSchemas: the config read of a user-delegated
// connection and both consent answers match their declared schemas.
func TestConsentResponsesMatchSchemas(t *testing.T) {
	env := newConsentEnv(t, &logical.InmemStorage{})
	env.write("config/xero", authCodeConfig("xero"))
	check := func(path string, op logical.Operation, resp *logical.Response) {
		t.Helper()
		schema.ValidateResponse(t, schema.GetResponseSchema(t, env.b.Route(path), op), resp, true)
	}
	check("config/xero", logical.ReadOperation, env.read("config/xero"))
	start := env.write("consent/xero", nil)
	check("consent/xero", logical.UpdateOperation, start)
	redirect := env.v.approve(start.Data["authorize_url"].(string))
	check("consent/xero", logical.UpdateOperation, env.write("consent/xero", map[string]interface{}{"code": redirect.Get("code")}))
	check("config/xero", logical.ReadOperation, env.read("config/xero"))
	check("status/xero", logical.ReadOperation, env.read("status/xero"))
}
