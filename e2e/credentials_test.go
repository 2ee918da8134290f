//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/vault/api"
	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/vendorsim"
)

// madeUpValue is a made-up credential with characters every encoding
// changes (form, JSON, HTML, Go quoting), as audit_test.go's.
func madeUpValue(kind string) string {
	return "cred-secret-" + randomHex(8) + "-" + kind + `+/&="%:`
}

// readConfigData reads config/<name> raw, checks it shows no secret, and
// returns its data.
func readConfigData(t *testing.T, name string) map[string]any {
	t.Helper()
	return readConfigDataVia(t, env.vault, name)
}

// readConfigDataVia is readConfigData through c (a cluster node).
func readConfigDataVia(t *testing.T, c *api.Client, name string) map[string]any {
	t.Helper()
	status, body := rawRequestVia(t, c, http.MethodGet, mountPath+"/config/"+name, nil)
	if status != http.StatusOK {
		t.Fatalf("read config/%s: HTTP %d %s", name, status, clip(body))
	}
	noSecrets(t, "read config/"+name, body)
	return parseAnswer(t, body).Data
}

// setNames is a *_set list of a config read, sorted.
func setNames(v any) []string {
	list, _ := v.([]any)
	out := []string{}
	for _, x := range list {
		out = append(out, fmt.Sprint(x))
	}
	slices.Sort(out)
	return out
}

// scanLogs fails the test when the server log, the audit log or the
// simulator's log shows a registered secret, or one of extra.
func scanLogs(t *testing.T, extra []secret) {
	t.Helper()
	for _, path := range []string{env.vaultLog, env.auditLog, filepath.Join(env.dir, "sim.log")} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		noSecrets(t, path, string(b))
		if found := findAmong(string(b), extra); len(found) > 0 {
			t.Errorf("%s shows secrets: %s", path, strings.Join(found, "; "))
		}
	}
}

// secret_headers and secret_params in a real Vault: the vendor receives
// them (the simulator reports digests of what it got), a read shows their
// names only, and when the vendor echoes the request the errors of rotate
// and creds, status, the server log and the audit log show none of them.
func TestCredentialSecretHeadersAndParams(t *testing.T) {
	const name = "cred-kv"
	vendor := vendorsim.AgentSync
	hdrV, parV, parV2 := madeUpValue("hdr"), madeUpValue("par"), madeUpValue("par2")
	addSecret("secret_headers X-Partner-Key", hdrV)
	addSecret("secret_params account_secret", parV)
	addSecret("secret_params account_secret (k=v string)", parV2)

	// Written with verify=true: the write's grant carries them.
	cfg := operatorConfig(t, vendor)
	cfg["secret_headers"] = map[string]any{"X-Partner-Key": hdrV}
	cfg["secret_params"] = map[string]any{"account_secret": parV}
	cfg["verify"] = true
	mark := env.sim.tokenRequests(t, vendor)
	writeConfig(t, name, cfg)
	if n := env.sim.tokenRequests(t, vendor) - mark; n != 1 {
		t.Errorf("the verified write made %d token requests, want 1", n)
	}
	received := func(when, param string) {
		t.Helper()
		d := env.sim.lastRequest(t, vendor)
		if d.Headers["X-Partner-Key"] != vendorsim.Digest(hdrV) {
			t.Errorf("%s: the vendor did not receive the secret header X-Partner-Key (headers: %v)", when, keys(anyMap(d.Headers)))
		}
		if d.Params["account_secret"] != vendorsim.Digest(param) {
			t.Errorf("%s: the vendor did not receive the secret parameter account_secret (params: %v)", when, keys(anyMap(d.Params)))
		}
		if d.Params["client_secret"] != vendorsim.Digest(env.creds[vendor].ClientSecret) {
			t.Errorf("%s: the vendor did not receive client_secret", when)
		}
	}
	received("verified write", parV)
	tok := accessToken(t, readCreds(t, name))
	if n := env.sim.tokenRequests(t, vendor) - mark; n != 1 || !env.sim.valid(t, vendor, tok) {
		t.Errorf("creds after the verified write: %d token requests in all (want 1: the verified token), token valid %v",
			n, env.sim.valid(t, vendor, tok))
	}

	d := readConfigData(t, name)
	if got := setNames(d["secret_headers_set"]); !slices.Equal(got, []string{"X-Partner-Key"}) {
		t.Errorf("read config/%s: secret_headers_set %v, want [X-Partner-Key]", name, d["secret_headers_set"])
	}
	if got := setNames(d["secret_params_set"]); !slices.Equal(got, []string{"account_secret"}) {
		t.Errorf("read config/%s: secret_params_set %v, want [account_secret]", name, d["secret_params_set"])
	}
	for _, f := range []string{"secret_headers", "secret_params", "client_secret"} {
		if _, ok := d[f]; ok {
			t.Errorf("read config/%s shows %s", name, f)
		}
	}

	// The "k=v" string form (Vault splits on the first = only), in a
	// partial write: the stored secret header stays.
	status, body := rawRequest(t, http.MethodPost, mountPath+"/config/"+name,
		map[string]any{"secret_params": []any{"account_secret=" + parV2}, "verify": true})
	if status != 200 && status != 204 {
		t.Fatalf("partial write of secret_params as a k=v string: HTTP %d %s", status, clip(body))
	}
	noSecrets(t, "partial write", body)
	received("partial write (k=v string)", parV2)
	if body := mustRotate(t, name); strings.Contains(body, tok) {
		t.Errorf("rotate/%s shows a token", name)
	}
	received("rotate", parV2)

	// The vendor echoes the whole request (body, form, headers).
	env.sim.setKnobs(t, vendor, map[string]any{"fault": "echo"})
	for _, call := range []struct{ method, path string }{
		{http.MethodPost, "rotate/" + name},
		{http.MethodGet, "creds/" + name},
	} {
		status, body := rawRequest(t, call.method, mountPath+"/"+call.path, nil)
		if status != http.StatusBadGateway || !containsAll(body, `\"`+name+`\"`, "HTTP 400") {
			t.Errorf("%s %s against the echo: HTTP %d %s\nwant 502 naming the config and the vendor's 400", call.method, call.path, status, clip(body))
		}
		if !strings.Contains(body, "[redacted]") {
			t.Errorf("%s %s: the vendor echoed the secrets but nothing shows as redacted: %s", call.method, call.path, clip(body))
		}
		noSecrets(t, call.method+" "+call.path, body)
	}
	received("echoed rotate", parV2)
	status, body = rawRequest(t, http.MethodGet, mountPath+"/status/"+name, nil)
	if status != http.StatusOK || strings.Contains(body, `"last_error":""`) || !strings.Contains(body, "last_error") {
		t.Errorf("status/%s: HTTP %d %s, want a last_error", name, status, clip(body))
	}
	noSecrets(t, "status/"+name, body)

	// Guard against a vacuous pass: the logs saw this traffic.
	server, _ := os.ReadFile(env.vaultLog)
	audit, _ := os.ReadFile(env.auditLog)
	if !strings.Contains(string(server), name) || !containsAll(string(audit), mountPath+"/config/"+name, mountPath+"/rotate/"+name) {
		t.Errorf("the server or audit log lacks this test's traffic")
	}
	scanLogs(t, nil)
}

func mustRotate(t *testing.T, name string) string {
	t.Helper()
	status, body := rawRequest(t, http.MethodPost, mountPath+"/rotate/"+name, nil)
	if status != http.StatusOK {
		t.Fatalf("rotate/%s: HTTP %d %s", name, status, clip(body))
	}
	return body
}

func anyMap(m map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// refusedWrite is a config write that must be refused.
type refusedWrite struct {
	label string
	field string             // the field written
	value func(v string) any // its value, around the secret v
	want  string             // the field the 400 points to
}

// checkRefusedWrites drives writes that must be refused with a 400
// naming a field without quoting a value: each one as an update of a
// stored config and as a create. Afterwards the stored config is unchanged,
// the created one does not exist, the vendor saw nothing, and neither the
// server log, the audit log nor the simulator's log shows a value. The
// values are not registered with the harness: a failure is this test's
// alone.
func checkRefusedWrites(t *testing.T, name string, writes []refusedWrite) {
	t.Helper()
	vendor := vendorsim.AgentSync
	fresh := name + "-new"
	configureVendor(t, name, vendor, map[string]any{"headers": map[string]any{"X-Trace": "e2e"}})
	t.Cleanup(func() { _, _ = rawRequest(t, http.MethodDelete, mountPath+"/config/"+fresh, nil) })
	stored := readConfigData(t, name)
	mark := env.sim.tokenRequests(t, vendor)
	var local []secret
	for _, w := range writes {
		v := "cred-secret-" + randomHex(8) + "-refused"
		s := secret{label: w.label, forms: dedupe(encodedForms(v))}
		local = append(local, s)
		for _, target := range []string{name, fresh} {
			data := map[string]any{w.field: w.value(v)}
			if target == fresh {
				data = operatorConfig(t, vendor)
				data[w.field] = w.value(v)
			}
			status, body := rawRequest(t, http.MethodPost, mountPath+"/config/"+target, data)
			if status != http.StatusBadRequest || !containsAll(body, w.field, w.want) {
				t.Errorf("config/%s with %s: HTTP %d %s\nwant 400 pointing to %s", target, w.label, status, clip(body), w.want)
			}
			if found := findAmong(body, []secret{s}); len(found) > 0 {
				t.Errorf("config/%s with %s: the 400 shows the value: %s", target, w.label, clip(body))
			}
		}
	}
	if status, body := rawRequest(t, http.MethodGet, mountPath+"/config/"+fresh, nil); status != http.StatusNotFound {
		t.Errorf("config/%s after refused creates: HTTP %d %s, want 404", fresh, status, clip(body))
	}
	now := readConfigData(t, name)
	if fmt.Sprint(now["headers"]) != fmt.Sprint(stored["headers"]) || len(setNames(now["secret_headers_set"])) > 0 {
		t.Errorf("config/%s after refused updates: headers %v secret_headers_set %v, want %v and none",
			name, now["headers"], now["secret_headers_set"], stored["headers"])
	}
	if n := env.sim.tokenRequests(t, vendor) - mark; n != 0 {
		t.Errorf("refused writes made %d token requests, want 0", n)
	}
	audit, _ := os.ReadFile(env.auditLog)
	if !strings.Contains(string(audit), mountPath+"/config/"+fresh) {
		t.Errorf("%s lacks this test's requests", env.auditLog)
	}
	scanLogs(t, local)
}

// Credential headers in plain headers are refused with a 400 pointing to
// secret_headers (api_key for the API key header); a secret_headers pair
// without "=" is malformed. No 400 or log quotes the value.
func TestCredentialHeadersRefused(t *testing.T) {
	obj := func(name, prefix string) func(string) any {
		return func(v string) any { return map[string]any{name: prefix + v} }
	}
	checkRefusedWrites(t, "cred-refuse", []refusedWrite{
		{"headers Authorization", "headers", obj("Authorization", "Bearer "), "secret_headers"},
		{"headers authorization", "headers", obj("authorization", "Bearer "), "secret_headers"},
		{"headers Proxy-Authorization", "headers", obj("Proxy-Authorization", "Basic "), "secret_headers"},
		{"headers Cookie", "headers", obj("Cookie", "session="), "secret_headers"},
		{"headers x-api-key", "headers", obj("x-api-key", ""), "api_key"},
		{"headers X-Api-Key", "headers", obj("X-Api-Key", ""), "api_key"},
		{"headers [\"Authorization=Bearer <secret>\"]", "headers",
			func(v string) any { return []any{"Authorization=Bearer " + v} }, "secret_headers"},
		{"secret_headers [\"Authorization: Bearer <secret>\"]", "secret_headers",
			func(v string) any { return []any{"Authorization: Bearer " + v} }, "secret_headers"},
	})
}

// A bearer token ending in base64 padding, pasted as "Authorization:
// Bearer <token>==": Vault splits the pair at its first "=", so the header
// name is "Authorization: Bearer <token>", which is no HTTP token. The 400
// must name the field without quoting that name: it is the credential.
func TestCredentialMalformedPairShowsNoValue(t *testing.T) {
	padded := func(v string) any { return []any{"Authorization: Bearer " + v + "=="} }
	checkRefusedWrites(t, "cred-pair", []refusedWrite{
		{"secret_headers [\"Authorization: Bearer <secret>==\"]", "secret_headers", padded, "secret_headers"},
		{"headers [\"Authorization: Bearer <secret>==\"]", "headers", padded, "headers"},
	})
}

// Secrets follow their host: a write that moves token_url to another
// scheme, host or port without giving the stored write-only values again
// is refused naming them, stores nothing and sends nothing anywhere; given
// again, the move is accepted.
func TestCredentialSecretsFollowHost(t *testing.T) {
	const name = "cred-host"
	vendor := vendorsim.AgentSync
	hdrV, parV := madeUpValue("host-hdr"), madeUpValue("host-par")
	addSecret("secret_headers X-Partner-Key (host)", hdrV)
	addSecret("secret_params account_secret (host)", parV)
	cs := env.creds[vendor].ClientSecret
	secretHeaders := map[string]any{"X-Partner-Key": hdrV}
	secretParams := map[string]any{"account_secret": parV}
	configureVendor(t, name, vendor, map[string]any{"secret_headers": secretHeaders, "secret_params": secretParams})
	orig := env.sim.tokenURL(vendor)
	tok := accessToken(t, readCreds(t, name))

	// Another listener, on another port, counting what reaches it.
	var hits atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		http.Error(w, "not a vendor", http.StatusTeapot)
	}))
	t.Cleanup(other.Close)
	u, err := url.Parse(orig)
	if err != nil {
		t.Fatal(err)
	}
	localhost := u.Scheme + "://localhost:" + u.Port() + u.Path
	https := "https://" + u.Host + u.Path
	elsewhere := other.URL + vendorsim.AgentSyncTokenPath

	mark := env.sim.tokenRequests(t, vendor)
	for _, c := range []struct {
		label string
		data  map[string]any
		give  string
	}{
		{"another port", map[string]any{"token_url": elsewhere}, "client_secret, secret_headers, secret_params"},
		{"another host (localhost)", map[string]any{"token_url": localhost}, "client_secret, secret_headers, secret_params"},
		{"another scheme", map[string]any{"token_url": https}, "client_secret, secret_headers, secret_params"},
		{"client_secret only", map[string]any{"token_url": elsewhere, "client_secret": cs}, "secret_headers, secret_params"},
		{"secret_params missing", map[string]any{"token_url": elsewhere, "client_secret": cs, "secret_headers": secretHeaders}, "secret_params"},
		{"verify=false", map[string]any{"token_url": localhost, "verify": false}, "client_secret, secret_headers, secret_params"},
	} {
		status, body := rawRequest(t, http.MethodPost, mountPath+"/config/"+name, c.data)
		if status != http.StatusBadRequest || !containsAll(body, "token_url", "give "+c.give+" again") {
			t.Errorf("[%s] moving token_url: HTTP %d %s\nwant 400 saying \"give %s again\"", c.label, status, clip(body), c.give)
		}
		noSecrets(t, "["+c.label+"] refused move", body)
	}
	if got := readConfigData(t, name)["token_url"]; got != orig {
		t.Errorf("config/%s after refused moves: token_url %v, want %s", name, got, orig)
	}
	if hits.Load() != 0 || env.sim.tokenRequests(t, vendor) != mark {
		t.Errorf("refused moves sent %d requests to the other listener and %d to the simulator, want 0",
			hits.Load(), env.sim.tokenRequests(t, vendor)-mark)
	}
	if got := accessToken(t, readCreds(t, name)); got != tok || env.sim.tokenRequests(t, vendor) != mark {
		t.Errorf("creds/%s after refused moves: the cached token %v, %d token requests, want the old config serving its token",
			name, got == tok, env.sim.tokenRequests(t, vendor)-mark)
	}

	// Emptying token_url falls back to the preset's endpoint, another host:
	// refused the same way (or, if "" means "keep", nothing moves).
	status, body := rawRequest(t, http.MethodPost, mountPath+"/config/"+name, map[string]any{"token_url": "", "verify": false})
	noSecrets(t, "token_url \"\"", body)
	if got := readConfigData(t, name)["token_url"]; got != orig {
		t.Errorf("token_url \"\": HTTP %d %s; the config now has token_url %v: the secrets would go to the preset's host", status, clip(body), got)
	}

	// Same origin, another path: no secrets needed.
	samePath := u.Scheme + "://" + u.Host + "/agentsync/other/token"
	if status, body := rawRequest(t, http.MethodPost, mountPath+"/config/"+name,
		map[string]any{"token_url": samePath, "verify": false}); status != 200 && status != 204 {
		t.Errorf("token_url to another path of the same origin: HTTP %d %s, want it accepted", status, clip(body))
	}
	if got := readConfigData(t, name)["token_url"]; got != samePath {
		t.Errorf("config/%s: token_url %v, want %s", name, got, samePath)
	}

	// The secrets again: accepted (verify=true against the simulator by
	// another name; verify=false to the other listener, which sees nothing
	// until a read).
	mark = env.sim.tokenRequests(t, vendor)
	again := map[string]any{"client_secret": cs, "secret_headers": secretHeaders, "secret_params": secretParams}
	data := map[string]any{"token_url": localhost, "verify": true}
	for k, v := range again {
		data[k] = v
	}
	if status, body := rawRequest(t, http.MethodPost, mountPath+"/config/"+name, data); status != 200 && status != 204 {
		t.Errorf("moving to localhost with the secrets again (verify=true): HTTP %d %s, want it accepted", status, clip(body))
	}
	if n := env.sim.tokenRequests(t, vendor) - mark; n != 1 {
		t.Errorf("the verified move made %d token requests, want 1", n)
	}
	if d := env.sim.lastRequest(t, vendor); d.Headers["X-Partner-Key"] != vendorsim.Digest(hdrV) ||
		d.Params["account_secret"] != vendorsim.Digest(parV) || d.Params["client_secret"] != vendorsim.Digest(cs) {
		t.Errorf("the verified move's grant did not carry the secrets given again")
	}
	if got := readConfigData(t, name)["token_url"]; got != localhost {
		t.Errorf("config/%s after the move: token_url %v, want %s", name, got, localhost)
	}
	moved := accessToken(t, readCreds(t, name))
	if !env.sim.valid(t, vendor, moved) || env.sim.tokenRequests(t, vendor)-mark != 1 {
		t.Errorf("creds/%s after the verified move: valid %v, %d token requests, want the verified token", name,
			env.sim.valid(t, vendor, moved), env.sim.tokenRequests(t, vendor)-mark)
	}
	data = map[string]any{"token_url": elsewhere, "verify": false}
	for k, v := range again {
		data[k] = v
	}
	if status, body := rawRequest(t, http.MethodPost, mountPath+"/config/"+name, data); status != 200 && status != 204 {
		t.Errorf("moving to another port with the secrets again (verify=false): HTTP %d %s, want it accepted", status, clip(body))
	}
	if got := readConfigData(t, name)["token_url"]; got != elsewhere || hits.Load() != 0 {
		t.Errorf("config/%s after the move: token_url %v (want %s), the other listener saw %d requests (want 0)", name, got, elsewhere, hits.Load())
	}
}
