package oauthvendor

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// hostOfURL is a test server's host:port, as allowed_token_hosts lists it.
func hostOfURL(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

func (rp *relyingParty) count() int {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return len(rp.forms)
}

// TestTokenHostsValidation: oidc/config allowed_token_hosts is host or
// host:port, lower-cased, deduplicated, shown by read ([] when unset); a
// bad entry is a 400 naming the field and the entry, and stores nothing.
func TestTokenHostsValidation(t *testing.T) {
	env := newTestEnv(t)
	env.write("oidc/config", map[string]interface{}{"issuer": testIssuer})
	if got := env.read("oidc/config").Data[allowedTokenHostsField]; got == nil || len(got.([]string)) != 0 {
		t.Fatalf("unset list read as %#v, want []", got)
	}
	for _, bad := range []string{
		"https://login.microsoftonline.com", "login.microsoftonline.com/tenant/token", "user@sts.example.com",
		"sts.example.com:0", "sts.example.com:99999", "sts.example.com:", "sts.example.com:https", "a b.example.com",
		"sts.example.com?x=1", "sts.example.com#f", "sts.example.com\x01",
	} {
		resp, err := env.do(logical.UpdateOperation, "oidc/config", map[string]interface{}{allowedTokenHostsField: bad})
		if err != nil || resp == nil || !resp.IsError() || !strings.Contains(resp.Error().Error(), allowedTokenHostsField+":") ||
			!strings.Contains(resp.Error().Error(), "not a host or host:port") {
			t.Fatalf("%q: %v %v, want a 400 naming %s", bad, resp, err, allowedTokenHostsField)
		}
	}
	if got := env.read("oidc/config").Data[allowedTokenHostsField].([]string); len(got) != 0 {
		t.Fatalf("a refused write stored %v", got)
	}
	env.write("oidc/config", map[string]interface{}{allowedTokenHostsField: "Login.MicrosoftOnline.com, sts.example.com:8443,login.microsoftonline.com,[::1]:9000"})
	got := env.read("oidc/config").Data[allowedTokenHostsField].([]string)
	if strings.Join(got, ",") != "login.microsoftonline.com,sts.example.com:8443,[::1]:9000" {
		t.Fatalf("stored %v", got)
	}
	// A write of other fields keeps the list; an empty value clears it.
	env.write("oidc/config", map[string]interface{}{"issuer": testIssuer})
	if got := env.read("oidc/config").Data[allowedTokenHostsField].([]string); len(got) != 3 {
		t.Fatalf("an issuer write changed the list to %v", got)
	}
	env.write("oidc/config", map[string]interface{}{allowedTokenHostsField: ""})
	if got := env.read("oidc/config").Data[allowedTokenHostsField].([]string); len(got) != 0 {
		t.Fatalf("cleared list reads %v", got)
	}
}

// TestTokenHostMatching: a bare host is the scheme's default port only;
// host:port that port (an explicit default port included).
func TestTokenHostMatching(t *testing.T) {
	allowed := []string{"login.microsoftonline.com", "sts.example.com:8443", "[::1]:9000", "plain.example.com:443"}
	for raw, want := range map[string]bool{
		"https://login.microsoftonline.com/t/oauth2/v2.0/token":     true,
		"https://LOGIN.microsoftonline.com:443/t/oauth2/v2.0/token": true,
		"https://login.microsoftonline.com:8443/token":              false,
		"https://login.microsoftonline.com.evil.example/token":      false,
		"https://evil.example/login.microsoftonline.com":            false,
		"https://sts.example.com:8443/token":                        true,
		"https://sts.example.com/token":                             false,
		"http://[::1]:9000/token":                                   true,
		"https://plain.example.com/token":                           true,
		"https://plain.example.com:444/token":                       false,
	} {
		if got := hostAllowed(allowed, raw); got != want {
			t.Errorf("%s: allowed %v, want %v", raw, got, want)
		}
	}
}

// TestTokenHostsWriteRefused: with a list set, a config whose issuer JWT
// would go to another host (token_url, device_auth_url) is a 400 naming
// the field, the host and oidc/config allowed_token_hosts; nothing is
// stored and the off-list server is never asked, even with verify=true.
func TestTokenHostsWriteRefused(t *testing.T) {
	env := newTestEnv(t)
	rp := newRelyingParty(t, env)
	env.write("oidc/config", map[string]interface{}{"issuer": testIssuer, allowedTokenHostsField: "login.microsoftonline.com"})
	off := hostOfURL(t, rp.URL)
	cfg := entraConfig(rp.URL + "/token")
	cfg["verify"] = true
	resp, err := env.do(logical.UpdateOperation, "config/entra", cfg)
	if err != nil || resp == nil || !resp.IsError() {
		t.Fatalf("off-list write: %v %v", resp, err)
	}
	msg := resp.Error().Error()
	for _, want := range []string{"token_url:", `"` + off + `"`, "oidc/config allowed_token_hosts", "login.microsoftonline.com"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("refusal %q does not name %q", msg, want)
		}
	}
	if rp.count() != 0 {
		t.Fatalf("the off-list server got %d requests", rp.count())
	}
	if r, _ := env.do(logical.ReadOperation, "config/entra", nil); r != nil {
		t.Fatalf("a refused write stored %v", r.Data)
	}
	// On the list, but the device authorization endpoint of a
	// user-delegated connection (a device consent sends the client
	// assertion there) is not.
	env.write("oidc/config", map[string]interface{}{allowedTokenHostsField: off})
	cfg = entraConfig(rp.URL + "/token")
	for k, v := range map[string]interface{}{"grant_type": "authorization_code", "auth_url": rp.URL + "/authorize",
		"redirect_url": "https://vault.example.com/v1/oauthvendor/callback", "scopes": "offline_access",
		"device_auth_url": "https://device.example.com/devicecode"} {
		cfg[k] = v
	}
	resp, _ = env.do(logical.UpdateOperation, "config/entra-user", cfg)
	if resp == nil || !resp.IsError() || !strings.Contains(resp.Error().Error(), "device_auth_url:") || !strings.Contains(resp.Error().Error(), `"device.example.com"`) {
		t.Fatalf("off-list device_auth_url of a user-delegated connection: %v", resp)
	}
	// A machine-to-machine grant never sends anything to a device
	// endpoint (discovery fills one from any server's metadata): not a
	// destination.
	cfg = entraConfig(rp.URL + "/token")
	cfg["device_auth_url"] = "https://device.example.com/devicecode"
	if resp, err := env.do(logical.UpdateOperation, "config/entra", cfg); err != nil || (resp != nil && resp.IsError()) {
		t.Fatalf("client_credentials with an off-list device_auth_url: %v %v, want it written", resp, err)
	}
}

// TestTokenHostsOnList: a listed host works, with no warning about the
// list; token_exchange's subject token and jwt_bearer's assertion too.
func TestTokenHostsOnList(t *testing.T) {
	env := newTestEnv(t)
	rp := newRelyingParty(t, env)
	env.write("oidc/config", map[string]interface{}{"issuer": testIssuer, allowedTokenHostsField: "login.microsoftonline.com," + hostOfURL(t, rp.URL)})
	for name, cfg := range map[string]map[string]interface{}{
		"entra": entraConfig(rp.URL + "/token"),
		"dbx":   {"token_url": rp.URL + "/oidc/v1/token", "grant_type": "jwt_bearer", "assertion_source": "issuer", "subject": "sp"},
		"sts":   stsConfig(rp.URL+"/v1/token", nil),
	} {
		resp := env.write("config/"+name, cfg)
		if resp != nil && strings.Contains(strings.Join(resp.Warnings, " "), allowedTokenHostsField) {
			t.Fatalf("%s: warned %v with the list set", name, resp.Warnings)
		}
		if got := env.read("creds/" + name).Data["access_token"]; got == nil || got == "" {
			t.Fatalf("%s: creds %v", name, got)
		}
	}
	if rp.count() != 3 {
		t.Fatalf("the relying party got %d requests, want 3", rp.count())
	}
}

// TestTokenHostsUnsetWarns: without a list the write succeeds as before,
// with a warning saying who can send the JWTs where and how to restrict
// it; a config signing with its own key gets no such warning.
func TestTokenHostsUnsetWarns(t *testing.T) {
	env := newTestEnv(t)
	rp := newRelyingParty(t, env)
	env.write("oidc/config", map[string]interface{}{"issuer": testIssuer})
	resp := env.write("config/entra", entraConfig(rp.URL+"/token"))
	w := ""
	if resp != nil {
		w = strings.Join(resp.Warnings, " ")
	}
	for _, want := range []string{"oidc/config allowed_token_hosts is not set", "any host", "assertion_source=issuer", "oidc/config allowed_token_hosts=<host>"} {
		if !strings.Contains(w, want) {
			t.Fatalf("warnings %q lack %q", w, want)
		}
	}
	if got := env.read("creds/entra").Data["access_token"]; got != "federated-1" {
		t.Fatalf("creds %v", got)
	}
	resp = env.write("config/own", map[string]interface{}{"token_url": rp.URL + "/token", "client_id": "c", "client_auth": "private_key_jwt"})
	if resp != nil && strings.Contains(strings.Join(resp.Warnings, " "), allowedTokenHostsField) {
		t.Fatalf("assertion_source=key warned %v", resp.Warnings)
	}
}

// TestTokenHostsGrantRefused: oidc/config narrows the list after a config
// was stored. The next grant makes no JWT and sends no request: the
// still-valid cached token keeps serving (with a warning), status names
// the config, the host and the list, and the failure backs off (a second
// read in the back-off does not try again). Once the token is gone the
// reader gets the error; allowing the host again lets the next grant run.
func TestTokenHostsGrantRefused(t *testing.T) {
	env := newTestEnv(t)
	rp := newRelyingParty(t, env)
	host := hostOfURL(t, rp.URL)
	env.write("oidc/config", map[string]interface{}{"issuer": testIssuer, allowedTokenHostsField: host})
	env.write("config/entra", entraConfig(rp.URL+"/token"))
	first := env.read("creds/entra").Data["access_token"]
	if first != "federated-1" || rp.count() != 1 {
		t.Fatalf("creds %v, %d requests", first, rp.count())
	}
	env.write("oidc/config", map[string]interface{}{allowedTokenHostsField: "login.microsoftonline.com"})
	env.clock.Advance(55 * time.Minute) // refresh due, token still valid
	resp := env.read("creds/entra")
	if resp.Data["access_token"] != first || !strings.Contains(strings.Join(resp.Warnings, " "), "allowed_token_hosts") {
		t.Fatalf("creds %v %v, want the cached token with a warning naming the list", resp.Data["access_token"], resp.Warnings)
	}
	st := env.read("status/entra").Data
	msg, _ := st["last_error"].(string)
	for _, want := range []string{`"entra"`, `"` + host + `"`, "oidc/config allowed_token_hosts", "token_url"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("last_error %q does not name %q", msg, want)
		}
	}
	if st["consecutive_failures"] != 1 || st["next_attempt_at"] == "" {
		t.Fatalf("status %v: want one failure and a back-off", st)
	}
	env.read("creds/entra")
	if st := env.read("status/entra").Data; st["consecutive_failures"] != 1 {
		t.Fatalf("a read in the back-off tried again: %v", st)
	}
	env.clock.Advance(10 * time.Minute) // the token has expired
	_, err := env.do(logical.ReadOperation, "creds/entra", nil)
	if err == nil || !strings.Contains(err.Error(), "allowed_token_hosts") || codedStatus(err) != http.StatusBadGateway {
		t.Fatalf("read after expiry: %v, want the 502 naming the list", err)
	}
	if rp.count() != 1 {
		t.Fatalf("the off-list host got %d requests after the list narrowed", rp.count()-1)
	}
	env.write("oidc/config", map[string]interface{}{allowedTokenHostsField: host})
	env.clock.Advance(time.Hour) // past any back-off
	if got := env.read("creds/entra").Data["access_token"]; got != "federated-2" {
		t.Fatalf("after allowing the host again: %v", got)
	}
}

// TestTokenHostsSupplierRefuses: the JWT supplier itself refuses an
// off-list host (the device flow's poll reaches it without the
// connection's check), with the list read at signing time.
func TestTokenHostsSupplierRefuses(t *testing.T) {
	env := newTestEnv(t)
	env.write("oidc/config", map[string]interface{}{"issuer": testIssuer, allowedTokenHostsField: "login.microsoftonline.com"})
	eff := (&vendorConfig{TokenURL: "https://evil.example.com/token", ClientAuth: authPrivateKeyJWT, ClientID: "c",
		AssertionSource: sourceIssuer, AssertionAudience: "api://AzureADTokenExchange"}).effective()
	supply := env.b.assertionSupplier(env.storage, "entra", eff)
	jwt, err := supply(t.Context(), env.clock.Now())
	if err == nil || jwt != "" || !strings.Contains(err.Error(), `"evil.example.com"`) || !strings.Contains(err.Error(), "allowed_token_hosts") {
		t.Fatalf("supplied %q, %v", jwt, err)
	}
	env.write("oidc/config", map[string]interface{}{allowedTokenHostsField: "evil.example.com"})
	if jwt, err := supply(t.Context(), env.clock.Now()); err != nil || jwt == "" {
		t.Fatalf("after allowing: %q %v", jwt, err)
	}
}

// TestTokenHostsVaultIdentity: vault_identity's JWTs (Vault's plugin
// identity token names this mount too) follow the same list when
// oidc/config sets one: a write off the list is refused, and once the
// list narrows a grant asks Vault for no token and the vendor for nothing.
// Without a list the write warns as the issuer's does.
func TestTokenHostsVaultIdentity(t *testing.T) {
	clock := newFakeClock()
	env, sys, srv := newIdentityEnv(t, clock, fakeJWT(clock.Now().Add(time.Hour)))
	cfg := map[string]interface{}{"token_url": srv.URL + "/token", "grant_type": "token_exchange", "client_auth": "none",
		"assertion_source": "vault_identity", "identity_token_audience": "acct-1"}
	resp := env.write("config/wif", cfg)
	if resp == nil || !strings.Contains(strings.Join(resp.Warnings, " "), "assertion_source=vault_identity") {
		t.Fatalf("no warning without a list: %v", resp)
	}
	env.write("oidc/config", map[string]interface{}{"issuer": testIssuer, allowedTokenHostsField: "sts.example.com"})
	r, _ := env.do(logical.UpdateOperation, "config/wif2", cfg)
	if r == nil || !r.IsError() || !strings.Contains(r.Error().Error(), "token_url:") || !strings.Contains(r.Error().Error(), "allowed_token_hosts") {
		t.Fatalf("off-list vault_identity write: %v", r)
	}
	asked := len(sys.asked)
	_, err := env.do(logical.ReadOperation, "creds/wif", nil)
	if err == nil || !strings.Contains(err.Error(), `"wif"`) || !strings.Contains(err.Error(), "allowed_token_hosts") {
		t.Fatalf("grant off the list: %v", err)
	}
	if len(sys.asked) != asked || len(srv.received()) != 0 {
		t.Fatalf("Vault asked %d more times, vendor %d requests", len(sys.asked)-asked, len(srv.received()))
	}
}

// TestTokenHostsDiscovered: the token endpoint discovered from issuer is
// checked like a written token_url, and the refusal says it was
// discovered.
func TestTokenHostsDiscovered(t *testing.T) {
	env := newTestEnv(t)
	srv := newMetadataServer(t, "/.well-known/openid-configuration", "", []string{"private_key_jwt"})
	env.write("oidc/config", map[string]interface{}{"issuer": testIssuer, allowedTokenHostsField: "login.microsoftonline.com"})
	cfg := map[string]interface{}{"issuer": srv.URL, "client_id": "c", "client_auth": "private_key_jwt",
		"assertion_source": "issuer", "assertion_audience": "api://AzureADTokenExchange"}
	resp, _ := env.do(logical.UpdateOperation, "config/idp", cfg)
	if resp == nil || !resp.IsError() || !strings.Contains(resp.Error().Error(), `token_url: host "`+hostOfURL(t, srv.URL)+`" (discovered from issuer)`) {
		t.Fatalf("discovered off-list endpoint: %v", resp)
	}
	env.write("oidc/config", map[string]interface{}{allowedTokenHostsField: hostOfURL(t, srv.URL)})
	env.write("config/idp", cfg)
	if got := env.read("config/idp").Data["token_url"]; got != srv.URL+"/token" {
		t.Fatalf("token_url %v", got)
	}
}
