package oauthvendor

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/testkit"
)

// verifiedWrite writes a config the way an operator does: verify is the
// default (testEnv.do's own default is false).
func (e *fakeEnv) verifiedWrite(name string, data map[string]interface{}) (*logical.Response, error) {
	with := map[string]interface{}{"verify": true}
	for k, v := range data {
		with[k] = v
	}
	return e.do(logical.UpdateOperation, "config/"+name, with)
}

func TestVerifyRefusedNewConfigStoresNothing(t *testing.T) {
	env := newFakeEnv(t)
	env.vendor.setMode("x", vendorMode{status: 401, oauthError: "invalid_client"})
	resp, err := env.verifiedWrite("x", fakeVendorConfig("x", "wrong-secret-123"))
	if err != nil || !resp.IsError() {
		t.Fatalf("refused write: %v %v, want a 400", resp, err)
	}
	msg := resp.Error().Error()
	if !strings.Contains(msg, `"x"`) || !strings.Contains(msg, "HTTP 401") || !strings.Contains(msg, "invalid_client") || strings.Contains(msg, "wrong-secret-123") {
		t.Fatalf("refused write says %q: want the config, the vendor's 401 and invalid_client, never the secret", msg)
	}
	keys, _ := logical.CollectKeys(context.Background(), env.storage)
	if len(keys) != 0 || len(env.vendor.requests("x")) != 1 {
		t.Fatalf("after a refused first write storage holds %v (%d vendor requests)", keys, len(env.vendor.requests("x")))
	}
}

func TestVerifiedWriteIsTheCachedToken(t *testing.T) {
	env := newFakeEnv(t)
	if resp, err := env.verifiedWrite("x", fakeVendorConfig("x", "good")); err != nil || resp.IsError() {
		t.Fatalf("write: %v %v", resp, err)
	}
	tok := env.read("creds/x").Data["access_token"]
	if n := len(env.vendor.requests("x")); n != 1 {
		t.Fatalf("write + read made %d vendor requests, want 1 (the verification)", n)
	}
	if issued, ok := env.vendor.token(tok.(string)); !ok || issued.secret != "good" {
		t.Fatal("the read did not get the verified token")
	}
	if st := env.status("x"); st["grants"] != uint64(1) || st["failures"] != uint64(0) {
		t.Fatalf("status after a verified create: %v", st)
	}
}

// TestRotatingToAWrongSecretChangesNothing: the rotation runbook. A secret
// the vendor does not take yet is refused; the old config and its cached
// token keep serving.
func TestRotatingToAWrongSecretChangesNothing(t *testing.T) {
	env := newFakeEnv(t)
	env.verifiedWrite("x", fakeVendorConfig("x", "old"))
	tok := env.read("creds/x").Data["access_token"]
	env.vendor.setMode("x", vendorMode{status: 401, oauthError: "invalid_client"})
	resp, _ := env.verifiedWrite("x", map[string]interface{}{"client_secret": "typo-secret"})
	if resp == nil || !resp.IsError() || strings.Contains(resp.Error().Error(), "typo-secret") {
		t.Fatalf("a refused rotation: %v", resp)
	}
	cfg, _ := loadConfig(context.Background(), env.storage, "x")
	if cfg.ClientSecret != "old" {
		t.Fatal("a refused secret was stored")
	}
	if got := env.read("creds/x").Data["access_token"]; got != tok || len(env.vendor.requests("x")) != 2 {
		t.Fatalf("after a refused write readers got another token or asked the vendor (%d requests)", len(env.vendor.requests("x")))
	}
	if st := env.status("x"); st["failures"] != uint64(1) || st["state"] != "ok" || st["consecutive_failures"] != 0 {
		t.Fatalf("a refused verification moves the back-off of the config that serves: %v", st)
	}
	env.vendor.setMode("x", vendorMode{})
	env.verifiedWrite("x", map[string]interface{}{"client_secret": "new"})
	got := env.read("creds/x").Data["access_token"].(string)
	if issued, _ := env.vendor.token(got); issued.secret != "new" || len(env.vendor.requests("x")) != 3 {
		t.Fatalf("after the accepted rotation: secret %q, %d requests", issued.secret, len(env.vendor.requests("x")))
	}
	// A write that changes no request field asks the vendor nothing.
	env.verifiedWrite("x", map[string]interface{}{"max_ttl": 300})
	if n := len(env.vendor.requests("x")); n != 3 {
		t.Fatalf("a max_ttl write made a verification request (%d)", n)
	}
}

// TestSecretHeadersAndParams: sent like headers and params, read as names,
// never echoed.
func TestSecretHeadersAndParams(t *testing.T) {
	env := newFakeEnv(t)
	var seen *http.Request
	cfg := fakeVendorConfig("x", "s")
	cfg["secret_headers"] = map[string]interface{}{"X-Partner-Key": "partner-key-value-1"}
	cfg["secret_params"] = map[string]interface{}{"account_secret": "account-secret-value-2"}
	env.write("config/x", cfg)
	env.vendor.capture = func(r *http.Request, body string) {
		seen = r
		if !strings.Contains(body, "account_secret=account-secret-value-2") {
			t.Errorf("secret param not in the body: %q", body)
		}
	}
	env.read("creds/x")
	if seen == nil || seen.Header.Get("X-Partner-Key") != "partner-key-value-1" {
		t.Fatalf("secret header not sent: %v", seen)
	}
	data := env.read("config/x").Data
	raw, _ := json.Marshal(data)
	if strings.Contains(string(raw), "value-1") || strings.Contains(string(raw), "value-2") {
		t.Fatalf("config read shows a secret header or param value: %s", raw)
	}
	if h, _ := data["secret_headers_set"].([]string); len(h) != 1 || h[0] != "X-Partner-Key" {
		t.Fatalf("secret_headers_set = %v", data["secret_headers_set"])
	}
	if p, _ := data["secret_params_set"].([]string); len(p) != 1 || p[0] != "account_secret" {
		t.Fatalf("secret_params_set = %v", data["secret_params_set"])
	}
	// The vendor echoes them: redacted in the error, status and logs.
	env.vendor.setMode("x", vendorMode{status: 400, oauthError: "invalid_request", echo: true})
	_, err := env.do(logical.UpdateOperation, "rotate/x", nil)
	if err == nil {
		t.Fatal("rotate against an echoing vendor succeeded")
	}
	text := err.Error() + env.logs.String()
	st, _ := json.Marshal(env.status("x"))
	text += string(st)
	if strings.Contains(text, "value-1") || strings.Contains(text, "value-2") || !strings.Contains(err.Error(), "[redacted]") {
		t.Fatalf("an echo of secret headers/params leaked or was not redacted: %v", err)
	}
}

func TestHeadersRefuseCredentialHeaders(t *testing.T) {
	env := newFakeEnv(t)
	for header, want := range map[string]string{
		"Authorization": "secret_headers", "Proxy-Authorization": "secret_headers", "Cookie": "secret_headers", "X-Api-Key": "api_key",
	} {
		cfg := fakeVendorConfig("x", "s")
		cfg["headers"] = map[string]interface{}{header: "credential-value-3"}
		resp, err := env.do(logical.UpdateOperation, "config/x", cfg)
		if err != nil || !resp.IsError() || !strings.Contains(resp.Error().Error(), want) || strings.Contains(resp.Error().Error(), "credential-value-3") {
			t.Errorf("headers=%s: %v %v, want a 400 pointing to %s without the value", header, resp, err, want)
		}
	}
	// A malformed pair is refused without quoting it, also when the value
	// ends in "==" and Vault splits the pair there.
	for _, field := range []string{"headers", "secret_headers", "params", "secret_params"} {
		for _, pair := range []string{"Authorization: Bearer leaked-value-4", "Authorization: Bearer leaked-value-4=="} {
			cfg := fakeVendorConfig("x", "s")
			cfg[field] = []interface{}{pair}
			resp, _ := env.do(logical.UpdateOperation, "config/x", cfg)
			if resp == nil || !resp.IsError() || strings.Contains(resp.Error().Error(), "leaked-value-4") {
				t.Errorf("%s=%q: %v, want a 400 that does not quote it", field, pair, resp)
			}
		}
	}
}

// TestSecretsFollowTheirHost: moving token_url to another host without the
// secrets is refused; with them, accepted.
func TestSecretsFollowTheirHost(t *testing.T) {
	env := newFakeEnv(t)
	cfg := fakeVendorConfig("x", "s")
	cfg["secret_headers"] = map[string]interface{}{"X-Partner-Key": "p"}
	env.write("config/x", cfg)
	for _, url := range []string{"http://localhost/x/token", "https://127.0.0.1/x/token", "http://127.0.0.1:8080/x/token"} {
		resp, _ := env.do(logical.UpdateOperation, "config/x", map[string]interface{}{"token_url": url})
		if resp == nil || !resp.IsError() || !strings.Contains(resp.Error().Error(), "client_secret, secret_headers") {
			t.Fatalf("moving to %s without the secrets: %v", url, resp)
		}
	}
	if c, _ := loadConfig(context.Background(), env.storage, "x"); c.TokenURL != "http://127.0.0.1/x/token" {
		t.Fatalf("a refused move was stored: %s", c.TokenURL)
	}
	// Same origin, another path: no secrets needed.
	env.write("config/x", map[string]interface{}{"token_url": "http://127.0.0.1:80/x/token"})
	env.write("config/x", map[string]interface{}{"token_url": "http://localhost/x/token", "client_secret": "s2", "secret_headers": map[string]interface{}{"X-Partner-Key": "p2"}})
}

// TestSecretsFollowTheirTLSTrust: a writer who also controls DNS or the
// path needs no new host to receive the stored secrets, only a ca_cert of
// their own (or another client certificate): a change of either is a
// change of endpoint, and takes the secrets again (issue 17.2).
func TestSecretsFollowTheirTLSTrust(t *testing.T) {
	env := newTestEnv(t)
	caKey, _ := testkit.RSAKeyPEM(t, 2048, false)
	otherCAKey, _ := testkit.RSAKeyPEM(t, 2048, false)
	clientKey, clientKeyPEM := testkit.RSAKeyPEM(t, 2048, false)
	otherClientKey, otherClientKeyPEM := testkit.RSAKeyPEM(t, 2048, false)
	ca, otherCA := testkit.SelfSigned(t, caKey, "ca"), testkit.SelfSigned(t, otherCAKey, "attacker ca")
	cert, otherCert := testkit.SelfSigned(t, clientKey, "client"), testkit.SelfSigned(t, otherClientKey, "client")
	env.write("config/x", map[string]interface{}{
		"token_url": "https://127.0.0.1/x/token", "client_id": "c", "client_secret": "s-VALUE-1",
		"secret_params": map[string]interface{}{"partner": "p-VALUE-2"},
		"ca_cert":       ca, "tls_client_cert": cert, "tls_client_key": clientKeyPEM,
	})
	refused := []struct {
		name, field string
		data        map[string]interface{}
	}{
		{"another ca_cert", "ca_cert", map[string]interface{}{"ca_cert": otherCA}},
		{"ca_cert dropped", "ca_cert", map[string]interface{}{"ca_cert": ""}},
		{"another tls_client_cert", "tls_client_cert", map[string]interface{}{"tls_client_cert": otherCert, "tls_client_key": otherClientKeyPEM}},
	}
	for _, c := range refused {
		resp, err := env.do(logical.UpdateOperation, "config/x", c.data)
		if err != nil || resp == nil || !resp.IsError() {
			t.Fatalf("%s alone: %v %v, want a 400", c.name, resp, err)
		}
		msg := resp.Error().Error()
		if !strings.HasPrefix(msg, c.field+":") || !strings.Contains(msg, "give client_secret, secret_params again") {
			t.Fatalf("%s alone: %q, want %s named and the secrets asked for", c.name, msg, c.field)
		}
		if strings.Contains(msg, "VALUE") {
			t.Fatalf("%s alone: %q quotes a secret", c.name, msg)
		}
	}
	if c, _ := loadConfig(context.Background(), env.storage, "x"); c.CACert != ca || c.TLSClientCert != cert {
		t.Fatal("a refused trust change was stored")
	}
	// The same certificate pasted with other white space is no change.
	env.write("config/x", map[string]interface{}{"ca_cert": "\n" + ca + "\n\n"})
	// With the secrets, each change is accepted.
	secrets := map[string]interface{}{"client_secret": "s-VALUE-3", "secret_params": map[string]interface{}{"partner": "p-VALUE-4"}}
	for _, c := range refused {
		data := map[string]interface{}{}
		for k, v := range c.data {
			data[k] = v
		}
		for k, v := range secrets {
			data[k] = v
		}
		env.write("config/x", data)
	}
}

// TestAssertionKeyFollowsTLSTrust: under private_key_jwt a ca_cert or
// tls_client_cert change keeps the host, so the next assertion still has
// the real vendor's aud; sent to a server the new CA vouches for, it could
// be replayed at the vendor. The key must be given again, like a secret.
func TestAssertionKeyFollowsTLSTrust(t *testing.T) {
	env := newTestEnv(t)
	caKey, _ := testkit.RSAKeyPEM(t, 2048, false)
	otherCAKey, _ := testkit.RSAKeyPEM(t, 2048, false)
	_, signingPEM := testkit.RSAKeyPEM(t, 2048, false)
	ca, otherCA := testkit.SelfSigned(t, caKey, "ca"), testkit.SelfSigned(t, otherCAKey, "attacker ca")
	env.write("config/x", map[string]interface{}{
		"token_url": "https://127.0.0.1/x/token", "client_id": "c", "client_auth": "private_key_jwt",
		"private_key": signingPEM, "ca_cert": ca, "verify": false,
	})
	resp, err := env.do(logical.UpdateOperation, "config/x", map[string]interface{}{"ca_cert": otherCA, "verify": false})
	if err != nil || resp == nil || !resp.IsError() || !strings.HasPrefix(resp.Error().Error(), "ca_cert:") || !strings.Contains(resp.Error().Error(), "give private_key again") {
		t.Fatalf("ca_cert alone under private_key_jwt: %v %v, want a 400 naming ca_cert and asking for private_key", resp, err)
	}
	if c, _ := loadConfig(context.Background(), env.storage, "x"); c.CACert != ca {
		t.Fatal("a refused trust change was stored")
	}
	env.write("config/x", map[string]interface{}{"ca_cert": otherCA, "private_key": signingPEM, "verify": false})
}

// TestSecretsFollowTheirHostInTheDialledForm: Unicode lower-casing turns
// U+0130 into an ASCII "i", but the transport dials the IDNA form
// (xn--idp-8dc...), another domain (issue 21.1). Such a host is refused
// at write, naming the form to write instead; and the host rule compares
// the dialled form, so a config stored with one does not count as
// idp.example.com either.
func TestSecretsFollowTheirHostInTheDialledForm(t *testing.T) {
	env := newTestEnv(t)
	env.write("config/x", map[string]interface{}{"token_url": "https://idp.example.com/token", "client_id": "c", "client_secret": "s-VALUE-1"})
	for field, value := range map[string]string{
		"token_url":          "https://İdp.example.com/token",
		"issuer":             "https://İdp.example.com",
		"assertion_audience": "https://İdp.example.com/token",
	} {
		data := map[string]interface{}{field: value}
		if field == "assertion_audience" {
			data["client_auth"] = "client_secret_jwt"
			data["client_secret"] = strings.Repeat("k", 32)
		}
		resp, err := env.do(logical.UpdateOperation, "config/x", data)
		if err != nil || resp == nil || !resp.IsError() {
			t.Fatalf("%s=%s: %v %v, want a 400", field, value, resp, err)
		}
		if msg := resp.Error().Error(); !strings.HasPrefix(msg, field+":") || !strings.Contains(msg, "xn--idp-8dc.example.com") {
			t.Fatalf("%s=%s: %q, want the field and the dialled name", field, value, msg)
		}
	}
	// Percent-encoded, url.Parse decodes it to the same Unicode host.
	resp, _ := env.do(logical.UpdateOperation, "config/x", map[string]interface{}{"token_url": "https://%C4%B0dp.example.com/token"})
	if resp == nil || !resp.IsError() || !strings.HasPrefix(resp.Error().Error(), "token_url:") {
		t.Fatalf("percent-encoded Unicode host: %v, want a 400", resp)
	}
	if c, _ := loadConfig(context.Background(), env.storage, "x"); c.TokenURL != "https://idp.example.com/token" {
		t.Fatalf("a refused write was stored: %s", c.TokenURL)
	}

	// A config stored before the refusal existed, with the Unicode host:
	// moving it to idp.example.com is a move, not the same host.
	old := &vendorConfig{TokenURL: "https://İdp.example.com/token", ClientID: "c", ClientSecret: "s-VALUE-2"}
	if err := storeConfig(context.Background(), env.storage, "y", old); err != nil {
		t.Fatal(err)
	}
	resp, _ = env.do(logical.UpdateOperation, "config/y", map[string]interface{}{"token_url": "https://idp.example.com/token"})
	if resp == nil || !resp.IsError() || !strings.Contains(resp.Error().Error(), "xn--idp-8dc.example.com:443 to https://idp.example.com:443: give client_secret again") {
		t.Fatalf("moving a stored Unicode host to its lower-cased look-alike: %v, want a 400 asking for client_secret", resp)
	}
}

// TestOriginIsTheDialledHost: what origin compares is what net/http dials.
func TestOriginIsTheDialledHost(t *testing.T) {
	same := [][2]string{
		{"https://IDP.Example.COM/token", "https://idp.example.com:443/other"},
		{"https://idp.ｅxample.com/token", "https://idp.example.com/token"}, // IDNA maps fullwidth to ASCII
		{"http://127.0.0.1/x", "http://127.0.0.1:80/y"},
	}
	for _, p := range same {
		if origin(p[0]) != origin(p[1]) {
			t.Errorf("origin(%s) = %s, origin(%s) = %s: want one host", p[0], origin(p[0]), p[1], origin(p[1]))
		}
	}
	differ := [][2]string{
		{"https://İdp.example.com/token", "https://idp.example.com/token"},
		{"https://ıdp.example.com/token", "https://idp.example.com/token"},
		{"https://idp.example.com/token", "http://idp.example.com/token"},
		{"https://idp.example.com/token", "https://idp.example.com:8443/token"},
	}
	for _, p := range differ {
		if origin(p[0]) == origin(p[1]) {
			t.Errorf("origin(%s) = origin(%s) = %s: want two hosts", p[0], p[1], origin(p[0]))
		}
	}
}
