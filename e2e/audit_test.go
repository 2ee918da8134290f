//go:build e2e

package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/testproc"
	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/vendorsim"
)

// responses keeps every answer Vault gave a test, raw (data, warnings,
// errors as sent on the wire), for a secrets scan at the end.
type responses struct {
	list  []response
	phase string // what the test is driving, to say where a leak was
}

type response struct {
	what   string
	status int
	body   string
}

// do sends method to <mount>/path through Vault's HTTP API and records the
// answer whatever its status.
func (r *responses) do(t *testing.T, method, path string, data map[string]any) (int, string) {
	t.Helper()
	status, body := rawRequest(t, method, mountPath+"/"+path, data)
	what := method + " " + path
	if r.phase != "" {
		what += " [" + r.phase + "]"
	}
	r.list = append(r.list, response{what: what, status: status, body: body})
	return status, body
}

// want is do for a call whose status is known; it returns the body.
func (r *responses) want(t *testing.T, status int, method, path string, data map[string]any) string {
	t.Helper()
	got, body := r.do(t, method, path, data)
	if got != status {
		t.Errorf("%s %s [%s]: HTTP %d, want %d: %s", method, path, r.phase, got, status, clip(body))
	}
	return body
}

// vendorFailure does a call that the vendor fails and checks the answer:
// status (502 or 504), the config named, and what went wrong.
func (r *responses) vendorFailure(t *testing.T, method, path, name string, status int, text string) string {
	t.Helper()
	got, body := r.do(t, method, path, nil)
	if got != status || !strings.Contains(body, `\"`+name+`\"`) || !strings.Contains(body, text) {
		t.Errorf("%s %s [%s]: HTTP %d %s\nwant %d naming config %q and saying %q", method, path, r.phase, got, clip(body), status, name, text)
	}
	return body
}

// write writes a config: 200 with warnings (a preset's token_url on a host
// the vendor does not publish) or 204.
// write stores a config; verify=false unless data says otherwise, so that
// configs with made-up credentials are stored and fail at read.
func (r *responses) write(t *testing.T, name string, data map[string]any) {
	t.Helper()
	if status, body := r.do(t, http.MethodPost, "config/"+name, withVerify(data, false)); status != 200 && status != 204 {
		t.Fatalf("write config/%s [%s]: HTTP %d %s", name, r.phase, status, clip(body))
	}
}

func (r *responses) bytes() int {
	n := 0
	for _, x := range r.list {
		n += len(x.body)
	}
	return n
}

// answer is the JSON of a Vault answer.
type answer struct {
	Data          map[string]any `json:"data"`
	Warnings      []string       `json:"warnings"`
	Errors        []string       `json:"errors"`
	LeaseID       string         `json:"lease_id"`
	LeaseDuration int            `json:"lease_duration"`
}

func parseAnswer(t *testing.T, body string) answer {
	t.Helper()
	var a answer
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&a); err != nil {
		t.Fatalf("Vault answer is not JSON: %v: %s", err, clip(body))
	}
	return a
}

func clip(s string) string {
	if len(s) > 700 {
		return s[:700] + "..."
	}
	return s
}

// failureMode is one way a token endpoint fails, as set on the simulator.
type failureMode struct {
	name   string
	knobs  map[string]any
	status int    // what Vault answers: 502, or 504 when the vendor never answers
	text   string // what the message says went wrong (a config with good credentials)
	// textBadCreds: what it says for a config whose credentials the vendor
	// refuses, when the vendor checks them before the fault (expires_in).
	textBadCreds string
	timeout      string // config timeout for this mode
}

// Every config path and every way a token endpoint can fail, driven with
// credentials whose values are known: the simulator's own (which the
// vendor accepts) and made-up ones (audit-secret-<random>, with characters
// that every encoding changes) that the vendor refuses, echoes, or never
// receives. Every answer Vault gave (data, warnings, errors), the
// trace-level server log, the file audit log and both simulators' logs
// must show none of them in any encoding. Each vendor failure must be a 502
// (504 when the vendor does not answer) naming the config; a refresh that
// fails inside the refresh window must serve the still-valid token with a
// warning.
func TestSecretsAudit(t *testing.T) {
	began := time.Now()
	rec := &responses{}
	al, ag := env.creds[vendorsim.Alation], env.creds[vendorsim.AgentSync]

	// Made-up secrets. The suffixes change under form, JSON, HTML, Basic and
	// Go quoting, so each encoding is a different string to find; the
	// random core shows through any of them (leak.go's fragments).
	csV := "audit-secret-" + randomHex(8) + `-cs+/&="%:`
	pwV := "audit-secret-" + randomHex(8) + `-pw&"=+/%`
	keyV := "audit-secret-" + randomHex(8) + "-key.~_"
	hdrV := "audit-secret-" + randomHex(8) + `-hdr+/&="%:`
	parV := "audit-secret-" + randomHex(8) + `-par&"=+/%`
	made := []madeUpSecret{
		{addSecret("made-up client_secret", csV, al.ClientID), csV, al.ClientID},
		{addSecret("made-up password", pwV), pwV, ""},
		{addSecret("made-up api_key", keyV), keyV, ""},
		{addSecret("made-up secret_headers value", hdrV), hdrV, ""},
		{addSecret("made-up secret_params value", parV), parV, ""},
	}
	scannerSeesMadeUpSecrets(t, made)
	// A made-up Google key file (preset=google, jwt_bearer) whose token_uri
	// is Alation's endpoint: the vendor refuses its assertions, echoes
	// them, fails under them. The assertions Alation received join the
	// scanned secrets before the scan (bearer.go).
	keyFileX := newKeyFile(t, env.sim.tokenURL(vendorsim.Alation))
	addKeyFileSecret(t, "made-up credentials_json", keyFileX)
	scannerSees(t, "the made-up key file", mustJSON(t, map[string]string{"credentials_json": keyFileX.json}))

	tlsSim, caPEM := startTLSSim(t)
	tlsAS := tlsSim.credentials(t, vendorsim.AlphaSense)
	refused := closedPort(t)

	// Knobs go back to the defaults when the test ends, failed or not.
	simVendors := []string{vendorsim.AlphaSense, vendorsim.Alation, vendorsim.ModelPortfolio, vendorsim.AlertSite}
	t.Cleanup(func() {
		for _, v := range append(simVendors, vendorsim.AgentSync) {
			env.sim.postKnobs(t, v, map[string]any{})
		}
	})

	with := func(base map[string]any, extra map[string]any) map[string]any {
		for k, v := range extra {
			base[k] = v
		}
		return base
	}
	tlsURL := tlsSim.base + vendorsim.AlphaSenseTokenPath
	configs := []struct {
		name string
		data map[string]any
	}{
		// The simulator's credentials: tokens come back.
		{"audit-as", with(operatorConfig(t, vendorsim.AlphaSense), map[string]any{"api_key_in_creds": false})},
		{"audit-as-nolease", with(operatorConfig(t, vendorsim.AlphaSense), map[string]any{"api_key_in_creds": false, "lease": false})},
		{"audit-tls", map[string]any{"preset": "alphasense", "token_url": tlsURL, "client_id": tlsAS.ClientID,
			"client_secret": tlsAS.ClientSecret, "username": tlsAS.Username, "password": tlsAS.Password, "api_key": tlsAS.APIKey}},
		// Made-up secrets, in every place a secret travels: form body,
		// JSON body, x-api-key header, HTTP Basic.
		{"audit-as-x", with(operatorConfig(t, vendorsim.AlphaSense), map[string]any{
			"client_secret": csV, "password": pwV, "api_key": keyV, "api_key_in_creds": false})},
		{"audit-al-basic-x", with(operatorConfig(t, vendorsim.Alation), map[string]any{"client_auth": "basic", "client_secret": csV})},
		{"audit-mp-x", with(operatorConfig(t, vendorsim.ModelPortfolio), map[string]any{"client_secret": csV, "api_key": keyV})},
		{"audit-at-x", with(operatorConfig(t, vendorsim.AlertSite), map[string]any{"password": pwV})},
		// A signing key in a key file, and the assertions it signs.
		{"audit-google-x", map[string]any{"preset": "google", "credentials_json": keyFileX.json,
			"scopes": "https://www.googleapis.com/auth/cloud-platform"}},
		// Secret headers and parameters: a partner key header, a body
		// parameter.
		{"audit-al-kv-x", with(operatorConfig(t, vendorsim.Alation), map[string]any{"client_secret": csV,
			"secret_headers": map[string]any{"X-Partner-Key": hdrV}, "secret_params": map[string]any{"account_secret": parV}})},
		{"audit-refused-x", map[string]any{"token_url": fmt.Sprintf("http://127.0.0.1:%d/oauth/token", refused),
			"grant_type": "password", "client_id": "audit-client", "client_secret": csV,
			"username": "audit-user", "password": pwV, "api_key": keyV}},
		{"audit-tls-x", map[string]any{"preset": "alphasense", "token_url": tlsURL, "client_id": tlsAS.ClientID,
			"client_secret": csV, "username": tlsAS.Username, "password": pwV, "api_key": keyV}},
		{"audit-tls-ca-x", map[string]any{"preset": "alphasense", "token_url": tlsURL, "ca_cert": caPEM,
			"client_id": tlsAS.ClientID, "client_secret": csV, "username": tlsAS.Username, "password": pwV, "api_key": keyV}},
	}
	var names []string
	for _, c := range configs {
		names = append(names, c.name)
	}
	names = append(names, "audit-window")
	t.Cleanup(func() {
		for _, n := range append(names, "audit-bad-x", "audit-verify-x") {
			_, _ = rawRequest(t, http.MethodDelete, mountPath+"/config/"+n, nil)
		}
	})

	// Config paths.
	rec.phase = "config"
	for _, c := range configs {
		rec.write(t, c.name, c.data)
	}
	// A partial update resending a secret.
	rec.write(t, "audit-as-x", map[string]any{"client_secret": csV, "max_ttl": "1h"})
	for _, c := range configs {
		d := parseAnswer(t, rec.want(t, 200, http.MethodGet, "config/"+c.name, nil)).Data
		for _, f := range []string{"client_secret", "password", "api_key", "credentials_json", "private_key"} {
			_, given := c.data[f]
			if f == "private_key" {
				_, given = c.data["credentials_json"] // the key file's key
			}
			if d[f+"_set"] != given || d[f] != nil {
				t.Errorf("read config/%s: %s_set = %v (want %v), %s present: %v", c.name, f, d[f+"_set"], given, f, d[f] != nil)
			}
		}
		for _, f := range []string{"secret_headers", "secret_params"} {
			m, _ := c.data[f].(map[string]any)
			want := slices.Sorted(maps.Keys(m))
			if got := setNames(d[f+"_set"]); !slices.Equal(got, want) || d[f] != nil {
				t.Errorf("read config/%s: %s_set = %v (want %v), %s present: %v", c.name, f, d[f+"_set"], want, f, d[f] != nil)
			}
		}
	}
	if body := rec.want(t, 200, "LIST", "config", nil); !containsAll(body, `"audit-as-x"`, `"audit-tls-ca-x"`) {
		t.Errorf("list config/: %s", clip(body))
	}
	rec.phase = "presets"
	presets := parseAnswer(t, rec.want(t, 200, "LIST", "presets", nil)).Data["keys"]
	list, _ := presets.([]any)
	if want := []string{"agentsync", "alation", "alertsite", "alphasense", "box", "databricks", "docusign", "google", "google-sts", "salesforce", "zoom"}; !slices.Equal(setNames(presets), want) {
		t.Errorf("list presets/: %v, want the presets %v", presets, want)
	}
	for _, p := range list {
		rec.want(t, 200, http.MethodGet, fmt.Sprintf("presets/%v", p), nil)
	}
	rec.want(t, 404, http.MethodGet, "presets/audit-nope", nil)

	// Writes the plugin refuses, carrying every secret: the 400 names the
	// field, and the config is not created.
	rec.phase = "bad config"
	secretsToo := func(m map[string]any) map[string]any {
		return with(m, map[string]any{"client_id": "audit-client", "client_secret": csV, "password": pwV,
			"username": "audit-user", "api_key": keyV})
	}
	good := env.sim.tokenURL(vendorsim.AgentSync)
	for _, bad := range []struct {
		field string
		data  map[string]any
	}{
		{"token_url", secretsToo(map[string]any{"token_url": "ftp://127.0.0.1/token"})},
		{"token_url", secretsToo(map[string]any{"token_url": "http://audit.example.com/token"})},
		{"body_format", secretsToo(map[string]any{"token_url": good, "body_format": "xml"})},
		{"grant_type", secretsToo(map[string]any{"token_url": good, "grant_type": "implicit"})},
		{"ca_cert", secretsToo(map[string]any{"token_url": good, "ca_cert": "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"})},
		{"headers", secretsToo(map[string]any{"token_url": good, "headers": map[string]any{"Content-Length": "1"}})},
		{"params", secretsToo(map[string]any{"token_url": good, "params": map[string]any{"client_secret": csV}})},
		{"api_key_header", secretsToo(map[string]any{"token_url": good, "api_key_header": "bad header"})},
		{"timeout", secretsToo(map[string]any{"token_url": good, "timeout": "10m"})},
	} {
		if body := rec.want(t, 400, http.MethodPost, "config/audit-bad-x", bad.data); !strings.Contains(body, bad.field) {
			t.Errorf("refused config write: the 400 does not name %s: %s", bad.field, clip(body))
		}
	}
	rec.want(t, 404, http.MethodGet, "config/audit-bad-x", nil)
	// An update that fails validation leaves the stored config alone.
	rec.want(t, 400, http.MethodPost, "config/audit-as-x", map[string]any{"client_secret": csV, "token_url": "ftp://x/"})
	rec.phase = "unknown name"
	for _, p := range []string{"creds", "status", "config"} {
		if body := rec.want(t, 404, http.MethodGet, p+"/audit-nope", nil); !strings.Contains(body, "audit-nope") {
			t.Errorf("GET %s/audit-nope: the 404 does not name it: %s", p, clip(body))
		}
	}
	rec.want(t, 404, http.MethodPost, "rotate/audit-nope", nil)

	// Tokens: lease and lease=false, api_key_in_creds=false, rotate.
	rec.phase = "tokens"
	var tokens []string
	a := parseAnswer(t, rec.want(t, 200, http.MethodGet, "creds/audit-as", nil))
	tok, _ := a.Data["access_token"].(string)
	if tok == "" || a.LeaseID == "" || a.Data["api_key"] != nil {
		t.Errorf("creds/audit-as: token %v lease %q api_key present %v: want a token, a lease, no api_key (api_key_in_creds=false)",
			tok != "", a.LeaseID, a.Data["api_key"] != nil)
	}
	tokens = append(tokens, tok)
	a = parseAnswer(t, rec.want(t, 200, http.MethodGet, "creds/audit-as-nolease", nil))
	if a.LeaseID != "" || a.Data["ttl"] == nil || a.Data["api_key"] != nil {
		t.Errorf("creds/audit-as-nolease: lease %q ttl %v api_key present %v: want no lease, a ttl, no api_key", a.LeaseID, a.Data["ttl"], a.Data["api_key"] != nil)
	}
	tokens = append(tokens, fmt.Sprint(a.Data["access_token"]))
	if body := rec.want(t, 200, http.MethodPost, "rotate/audit-as", nil); !strings.Contains(body, "expires_at") || strings.Contains(body, tok) {
		t.Errorf("rotate/audit-as: %s: want expires_at and never the token", clip(body))
	}
	a = parseAnswer(t, rec.want(t, 200, http.MethodGet, "creds/audit-as", nil))
	cached, _ := a.Data["access_token"].(string)
	if cached == tok || !env.sim.valid(t, vendorsim.AlphaSense, cached) {
		t.Errorf("creds/audit-as after rotate: same token %v, valid %v", cached == tok, env.sim.valid(t, vendorsim.AlphaSense, cached))
	}
	tokens = append(tokens, cached)
	if body := rec.want(t, 200, http.MethodPost, "rotate/audit-as-nolease", nil); strings.Contains(body, "access_token") {
		t.Errorf("rotate/audit-as-nolease shows a token: %s", clip(body))
	}

	// The vendor refuses the made-up credentials.
	rec.phase = "refused credentials"
	sims := []string{"audit-as-x", "audit-al-basic-x", "audit-mp-x", "audit-at-x", "audit-al-kv-x", "audit-google-x"}
	for _, n := range sims {
		rec.vendorFailure(t, http.MethodGet, "creds/"+n, n, 502, "HTTP 40")
	}
	rec.vendorFailure(t, http.MethodPost, "rotate/audit-as-x", "audit-as-x", 502, "HTTP 40")

	// Every failure mode of the simulator's token endpoint, against configs
	// with the simulator's credentials (a rotate: audit-as holds a cached
	// token) and with the made-up ones (a read and a rotate).
	garbage := "without a usable token"
	modes := []failureMode{
		{name: "html", knobs: map[string]any{"fault": "html"}, status: 502, text: "HTTP 503: an HTML page"},
		{name: "empty", knobs: map[string]any{"fault": "empty"}, status: 502, text: "empty response body"},
		{name: "invalid_json", knobs: map[string]any{"fault": "invalid_json"}, status: 502, text: "not a JSON object"},
		{name: "no_token", knobs: map[string]any{"fault": "no_token"}, status: 502, text: garbage},
		{name: "nonstring_token", knobs: map[string]any{"fault": "nonstring_token"}, status: 502, text: "not a string"},
		{name: "expires_in=-5", knobs: map[string]any{"fault": "expires_in", "expires_in_raw": "-5"}, status: 502, text: "seconds", textBadCreds: "HTTP 40"},
		{name: "expires_in=0", knobs: map[string]any{"fault": "expires_in", "expires_in_raw": "0"}, status: 502, text: "seconds", textBadCreds: "HTTP 40"},
		{name: "expires_in=1e30", knobs: map[string]any{"fault": "expires_in", "expires_in_raw": "1e30"}, status: 502, text: "10 years", textBadCreds: "HTTP 40"},
		{name: `expires_in="abc"`, knobs: map[string]any{"fault": "expires_in", "expires_in_raw": `"abc"`}, status: 502, text: "not a number of seconds", textBadCreds: "HTTP 40"},
		{name: "huge", knobs: map[string]any{"fault": "huge"}, status: 502, text: "larger than 1 MiB"},
		{name: "echo", knobs: map[string]any{"fault": "echo"}, status: 502, text: "HTTP 400"},
		{name: "rate_limit", knobs: map[string]any{"fault": "rate_limit", "retry_after": "120"}, status: 502, text: "HTTP 429"},
		{name: "redirect", knobs: map[string]any{"fault": "redirect"}, status: 502, text: "HTTP 307"},
		{name: "status=500", knobs: map[string]any{"fault": "status", "status": 500}, status: 502, text: "HTTP 500"},
		{name: "hang", knobs: map[string]any{"fault": "hang"}, status: 504, text: "did not answer in time", timeout: "1s"},
	}
	before := parseAnswer(t, rec.want(t, 200, http.MethodGet, "status/audit-as", nil)).Data
	modesBegan := time.Now()
	for _, m := range modes {
		rec.phase = m.name
		for _, v := range simVendors {
			env.sim.postKnobs(t, v, m.knobs)
		}
		// A config write tries again at once (API.md "Failures and
		// back-off"): each mode's reads meet its own failure, not the
		// back-off of the last one.
		timeout := m.timeout
		if timeout == "" {
			timeout = "15s"
		}
		for _, n := range append(sims, "audit-as") {
			rec.write(t, n, map[string]any{"timeout": timeout})
		}
		rec.vendorFailure(t, http.MethodPost, "rotate/audit-as", "audit-as", m.status, m.text)
		// A failed rotate has dropped the cached token: readers get the
		// failure, with when the next attempt is due.
		rec.vendorFailure(t, http.MethodGet, "creds/audit-as", "audit-as", m.status, "next attempt at")
		text := m.text
		if m.textBadCreds != "" {
			text = m.textBadCreds
		}
		for _, n := range sims {
			body := rec.vendorFailure(t, http.MethodGet, "creds/"+n, n, m.status, text)
			if m.name == "echo" && !strings.Contains(body, "[redacted]") {
				t.Errorf("[echo] creds/%s: the vendor echoed the request but nothing shows as redacted: %s", n, clip(body))
			}
		}
		rec.vendorFailure(t, http.MethodPost, "rotate/audit-as-x", "audit-as-x", m.status, text)
		if m.name == "echo" {
			auditVerifyRefused(t, rec, with(operatorConfig(t, vendorsim.Alation), map[string]any{"client_auth": "basic", "client_secret": csV,
				"secret_headers": map[string]any{"X-Partner-Key": hdrV}, "secret_params": map[string]any{"account_secret": parV}}), csV)
		}
	}
	for _, v := range simVendors {
		env.sim.postKnobs(t, v, map[string]any{})
	}
	modesTook := time.Since(modesBegan)
	// The refused verified update stored nothing: the vendor back, the
	// stored (good) credentials still get a token.
	rec.want(t, 200, http.MethodPost, "rotate/audit-as-nolease", nil)
	after := parseAnswer(t, rec.want(t, 200, http.MethodGet, "status/audit-as", nil)).Data
	if n := jsonNumber(t, after["failures"]) - jsonNumber(t, before["failures"]); n != int64(len(modes)) {
		t.Errorf("status/audit-as: %d more failures after %d failed rotates, want %d", n, len(modes), len(modes))
	}

	// No answer at all: nothing listens on the port.
	rec.phase = "connection refused"
	rec.vendorFailure(t, http.MethodGet, "creds/audit-refused-x", "audit-refused-x", 502, "connection refused")
	rec.vendorFailure(t, http.MethodPost, "rotate/audit-refused-x", "audit-refused-x", 502, "connection refused")

	// TLS with a CA the plugin does not know, then with ca_cert.
	rec.phase = "tls unknown CA"
	rec.vendorFailure(t, http.MethodGet, "creds/audit-tls-x", "audit-tls-x", 502, "certificate")
	rec.vendorFailure(t, http.MethodGet, "creds/audit-tls", "audit-tls", 502, "certificate")
	rec.phase = "tls ca_cert"
	// A new ca_cert is a new endpoint: the secrets are given again.
	rec.write(t, "audit-tls", map[string]any{"ca_cert": caPEM, "client_secret": tlsAS.ClientSecret, "password": tlsAS.Password, "api_key": tlsAS.APIKey})
	a = parseAnswer(t, rec.want(t, 200, http.MethodGet, "creds/audit-tls", nil))
	tlsTok, _ := a.Data["access_token"].(string)
	if !tlsSim.valid(t, vendorsim.AlphaSense, tlsTok) {
		t.Errorf("creds/audit-tls with ca_cert: the TLS simulator does not know the token")
	}
	tokens = append(tokens, tlsTok)
	rec.vendorFailure(t, http.MethodGet, "creds/audit-tls-ca-x", "audit-tls-ca-x", 502, "HTTP 40")

	// Inside the refresh window, a failed refresh serves the cached token.
	rec.phase = "refresh window"
	windowBegan := time.Now()
	windowTok := auditRefreshWindow(t, rec, ag)
	windowTook := time.Since(windowBegan)
	tokens = append(tokens, windowTok...)

	rec.phase = "status"
	for _, n := range names {
		body := rec.want(t, 200, http.MethodGet, "status/"+n, nil)
		for _, tk := range tokens {
			if tk != "" && strings.Contains(body, tk) {
				t.Errorf("status/%s shows an access token", n)
			}
		}
	}
	rec.phase = "delete"
	for _, n := range names {
		rec.want(t, 204, http.MethodDelete, "config/"+n, nil)
		rec.want(t, 404, http.MethodGet, "creds/"+n, nil)
		rec.want(t, 404, http.MethodGet, "config/"+n, nil)
	}
	// (Vault answers an empty list with a 404.)
	if status, body := rec.do(t, "LIST", "config", nil); (status != 200 && status != 404) || strings.Contains(body, "audit-") {
		t.Errorf("list config/ after the deletes: HTTP %d %s", status, clip(body))
	}
	// Deleting what is not there is not an error.
	rec.want(t, 204, http.MethodDelete, "config/audit-nope", nil)

	// The scan.
	if n := addAssertionSecrets(t, vendorsim.Alation); n < len(modes) {
		t.Errorf("Alation received %d jwt_bearer assertions, want one at least per failure mode (%d)", n, len(modes))
	}
	leaks := 0
	for _, r := range rec.list {
		if found := env.findSecrets(r.body); len(found) > 0 {
			leaks++
			t.Errorf("%s -> HTTP %d shows secrets: %s\n%s", r.what, r.status, strings.Join(found, "; "), clip(r.body))
		}
	}
	logs := []string{env.vaultLog, env.auditLog, filepath.Join(env.dir, "sim.log"), filepath.Join(env.dir, "sim-tls.log")}
	var logBytes []int
	for _, path := range logs {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		logBytes = append(logBytes, len(b))
		if found := env.findSecrets(string(b)); len(found) > 0 {
			t.Errorf("%s shows secrets: %s", path, strings.Join(found, "; "))
		}
		for _, tk := range tokens {
			if tk != "" && strings.Contains(string(b), tk) {
				t.Errorf("%s shows an access token in clear", path)
			}
		}
	}
	// Guard against a vacuous pass: the logs recorded this test's traffic.
	server, _ := os.ReadFile(env.vaultLog)
	audit, _ := os.ReadFile(env.auditLog)
	if !containsAll(string(server), `config=audit-as-x`, "token grant failed") {
		t.Errorf("%s lacks the plugin's grant failures for audit-as-x", env.vaultLog)
	}
	if !containsAll(string(audit), mountPath+"/creds/audit-as-x", mountPath+"/config/audit-bad-x", mountPath+"/rotate/audit-window") {
		t.Errorf("%s lacks this test's requests", env.auditLog)
	}

	forms, all := 0, env.secrets()
	for _, s := range all {
		forms += len(s.forms)
	}
	t.Logf("audit: %d Vault answers (%d bytes) scanned, %d with a secret; logs scanned: server %d B, audit %d B, simulators %d B + %d B; %d secrets (%d made up) in %d forms (secrets x encodings); %d failure modes (%d of the token endpoint, connection refused, unknown TLS CA) + credentials refused; %s (failure modes %s, refresh window %s)",
		len(rec.list), rec.bytes(), leaks, logBytes[0], logBytes[1], logBytes[2], logBytes[3],
		len(all), len(made), forms, len(modes)+2, len(modes), time.Since(began).Round(100*time.Millisecond),
		modesTook.Round(100*time.Millisecond), windowTook.Round(100*time.Millisecond))
}

// auditRefreshWindow: 40 s vendor tokens (refresh window 20 s, margin 4 s):
// room for the back-off of three failures in a row (1 s, 2 s, 4 s) inside
// the window.
// Once a read is inside the window, the vendor failing (echo, 429, garbage)
// still leaves readers with the cached token, under a warning naming the
// config and the failure; rotate fails; once the token has too little
// lease left it is no longer served; when the vendor is back, a new token.
// It returns the tokens it saw.
func auditRefreshWindow(t *testing.T, rec *responses, creds vendorsim.Credentials) []string {
	t.Helper()
	const (
		name     = "audit-window"
		vendor   = vendorsim.AgentSync
		lifetime = 40 * time.Second
		window   = 20 * time.Second // min(max(L/4, 2m), L/2)
		margin   = 4 * time.Second  // L/10
	)
	knobs := func(extra map[string]any) map[string]any {
		k := map[string]any{"lifetime": lifetime.String()}
		for key, v := range extra {
			k[key] = v
		}
		return k
	}
	env.sim.postKnobs(t, vendor, knobs(nil))
	rec.write(t, name, map[string]any{
		"preset": "agentsync", "token_url": env.sim.tokenURL(vendor), "client_id": creds.ClientID, "client_secret": creds.ClientSecret,
	})
	a := parseAnswer(t, rec.want(t, 200, http.MethodGet, "creds/"+name, nil))
	tok, _ := a.Data["access_token"].(string)
	exp, err := time.Parse(time.RFC3339, fmt.Sprint(a.Data["expires_at"]))
	if err != nil || tok == "" {
		t.Fatalf("creds/%s: %v %v", name, err, a.Data["expires_at"])
	}
	// From now on every token request fails (the periodic refresh's too).
	env.sim.postKnobs(t, vendor, knobs(map[string]any{"fault": "echo"}))
	st := parseAnswer(t, rec.want(t, 200, http.MethodGet, "status/"+name, nil)).Data
	refreshAt, err := time.Parse(time.RFC3339, fmt.Sprint(st["refresh_at"]))
	if err != nil || !refreshAt.Equal(exp.Add(-window)) {
		t.Errorf("status/%s refresh_at %v, want expires_at %s - %s", name, st["refresh_at"], exp.Format(time.RFC3339), window)
	}

	// Read until a read is inside the window: until then the cached token
	// comes without a warning.
	var first answer
	if _, err := eventually(lifetime, func() error {
		at := time.Now()
		a := parseAnswer(t, rec.want(t, 200, http.MethodGet, "creds/"+name, nil))
		if a.Data["access_token"] != tok {
			t.Fatalf("creds/%s before the window: another token", name)
		}
		if len(a.Warnings) == 0 {
			return fmt.Errorf("no warning yet")
		}
		if at.Before(refreshAt.Add(-time.Second)) {
			t.Errorf("creds/%s warned at %s, before refresh_at %s", name, at.Format(time.RFC3339Nano), refreshAt.Format(time.RFC3339))
		}
		first = a
		return nil
	}); err != nil {
		t.Fatalf("creds/%s never entered the refresh window: %v", name, err)
	}
	checkStaleServe(t, name, "echo", first, tok, exp, margin)
	if !strings.Contains(strings.Join(first.Warnings, " "), "[redacted]") {
		t.Errorf("creds/%s: the vendor echoed the request but the warning shows nothing redacted: %v", name, first.Warnings)
	}
	// The periodic refresh (once a minute, ahead of the window) may have
	// met the echo before the window opened: one more failure in a row
	// doubles every back-off below, past what the window holds. An
	// operator's write restarts the back-off (the cached token stays: a
	// timeout-only write changes no request field).
	st = parseAnswer(t, rec.want(t, 200, http.MethodGet, "status/"+name, nil)).Data
	if n := jsonNumber(t, st["consecutive_failures"]); n > 1 {
		t.Logf("the periodic refresh failed before the window (%d failures in a row): restarting the back-off", n)
		rec.write(t, name, map[string]any{"timeout": "15s"})
	}

	// After a failed refresh the plugin holds further attempts off for its
	// back-off (from 1 s, never before the vendor's Retry-After, at most
	// half the lease left), serving the cached token with the last warning. So for each further failure mode, read
	// until the vendor is asked again: that answer must carry the new
	// failure; the reads before it must not have reached the vendor.
	for _, m := range []struct {
		name, text string
		knobs      map[string]any
	}{
		{"invalid_json", "not a JSON object", map[string]any{"fault": "invalid_json"}},
		{"expires_in=0", "seconds", map[string]any{"fault": "expires_in", "expires_in_raw": "0"}},
		// Last: its Retry-After holds the next attempt off past the token
		// (only the rotate below tries again before).
		{"rate_limit", "HTTP 429", map[string]any{"fault": "rate_limit", "retry_after": "120"}},
	} {
		env.sim.postKnobs(t, vendor, knobs(m.knobs))
		mark := env.sim.tokenRequests(t, vendor)
		reads, heldOff := 0, time.Now()
		var a answer
		if _, err := eventually(5*time.Second, func() error {
			if left := time.Until(exp); left < 2*margin+500*time.Millisecond {
				t.Fatalf("only %s left on the token during [%s]: the in-window checks ran too slowly", left, m.name)
			}
			a = parseAnswer(t, rec.want(t, 200, http.MethodGet, "creds/"+name, nil))
			reads++
			checkStaleServe(t, name, m.name, a, tok, exp, margin)
			if env.sim.tokenRequests(t, vendor) == mark {
				return fmt.Errorf("the vendor was not asked again")
			}
			return nil
		}); err != nil {
			t.Fatalf("[%s] creds/%s: %v", m.name, name, err)
		}
		if warn := strings.Join(a.Warnings, " "); !strings.Contains(warn, m.text) {
			t.Errorf("[%s] creds/%s: the read that asked the vendor warns %q, want the new failure (%q)", m.name, name, a.Warnings, m.text)
		}
		if n := env.sim.tokenRequests(t, vendor) - mark; n != 1 {
			t.Errorf("[%s] %d reads during the cooldown: the vendor saw %d token requests, want 1", m.name, reads, n)
		}
		t.Logf("[%s] in the window: %d read(s) served the cached token over %s before the vendor was asked again",
			m.name, reads, time.Since(heldOff).Round(10*time.Millisecond))
	}
	// Rotate drops the cached token first (API.md): when its grant fails,
	// readers get the failure with its back-off, not the old token.
	env.sim.postKnobs(t, vendor, knobs(map[string]any{"fault": "echo"}))
	rec.vendorFailure(t, http.MethodPost, "rotate/"+name, name, 502, "HTTP 400")
	rec.vendorFailure(t, http.MethodGet, "creds/"+name, name, 502, "next attempt at")
	st = parseAnswer(t, rec.want(t, 200, http.MethodGet, "status/"+name, nil)).Data
	if st["token_cached"] != false || jsonNumber(t, st["failures"]) < 5 || st["last_error"] == "" || st["state"] != "backing-off" {
		t.Errorf("status/%s after the failed rotate: %v: want no token cached, backing-off, at least 5 failures, a last_error", name, st)
	}

	// The vendor is back: rotate tries at once, whatever the back-off;
	// readers get the new token, no warning.
	env.sim.postKnobs(t, vendor, knobs(nil))
	rec.want(t, 200, http.MethodPost, "rotate/"+name, nil)
	a = parseAnswer(t, rec.want(t, 200, http.MethodGet, "creds/"+name, nil))
	next, _ := a.Data["access_token"].(string)
	if next == "" || next == tok || len(a.Warnings) != 0 || !env.sim.valid(t, vendor, next) {
		t.Errorf("creds/%s after the vendor recovered: new %v, warnings %v, valid %v", name, next != tok, a.Warnings, env.sim.valid(t, vendor, next))
	}
	return []string{tok, next}
}

// checkStaleServe: the cached token, with a warning naming the config and
// the refresh failure, under a lease that still ends a margin before it.
func checkStaleServe(t *testing.T, name, mode string, a answer, tok string, exp time.Time, margin time.Duration) {
	t.Helper()
	warn := strings.Join(a.Warnings, " ")
	if a.Data["access_token"] != tok {
		t.Errorf("[%s] creds/%s: not the cached token", mode, name)
	}
	if !containsAll(warn, "refreshing the token failed", `"`+name+`"`) {
		t.Errorf("[%s] creds/%s: warnings %q: want one saying the refresh failed, naming the config", mode, name, a.Warnings)
	}
	if strings.Contains(warn, tok) {
		t.Errorf("[%s] creds/%s: the warning shows the token", mode, name)
	}
	lease := time.Duration(a.LeaseDuration) * time.Second
	if a.LeaseDuration < 1 || time.Now().Add(lease).After(exp.Add(-margin+time.Second)) {
		t.Errorf("[%s] creds/%s: lease %s with %s left on the token: want at least 1s, ending a margin (%s) before it",
			mode, name, lease, time.Until(exp).Round(time.Millisecond), margin)
	}
}

type madeUpSecret struct {
	secret
	value   string
	basicID string // the client ID it goes with in HTTP Basic, if any
}

// scannerSeesMadeUpSecrets guards against a vacuous pass: the scanner
// finds each made-up secret in the carriers it travels in.
func scannerSeesMadeUpSecrets(t *testing.T, made []madeUpSecret) {
	t.Helper()
	for _, m := range made {
		v := m.value
		form := "grant_type=password&client_secret=" + url.QueryEscape(v)
		body := mustJSON(t, map[string]string{"password": v})
		// A vendor echoing the JSON body inside its JSON error, quoted by
		// Vault's JSON answer.
		echo := mustJSON(t, map[string]string{"error": mustJSON(t, map[string]string{"body": body})})
		carriers := []string{form, body, echo, strconv.Quote(v)}
		if m.basicID != "" {
			carriers = append(carriers, "Basic "+base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(m.basicID)+":"+url.QueryEscape(v))))
		}
		for i, c := range carriers {
			if len(findAmong(c, []secret{m.secret})) == 0 {
				t.Fatalf("the scanner misses the %s in carrier %d (%d bytes)", m.label, i, len(c))
			}
		}
	}
}

// findAmong names the secrets of ss whose value shows in text, in any form.
func findAmong(text string, ss []secret) []string {
	var found []string
	for _, s := range ss {
		for _, f := range s.forms {
			if strings.Contains(text, f) {
				found = append(found, fmt.Sprintf("%s (as %q)", s.label, f))
				break
			}
		}
	}
	return found
}

// tlsSimulator is a second simulator process serving HTTPS with its own
// self-signed CA, which the plugin does not trust unless told (ca_cert).
type tlsSimulator struct {
	*simClient
}

func (s tlsSimulator) credentials(t *testing.T, vendor string) vendorsim.Credentials {
	t.Helper()
	var c vendorsim.Credentials
	s.getJSON(t, "/_sim/credentials/"+vendor, &c)
	return c
}

// startTLSSim runs `vendorsim -tls -ca-file` (log: sim-tls.log in the work
// dir) until the test ends, and returns it with its CA certificate (PEM).
func startTLSSim(t *testing.T) (tlsSimulator, string) {
	t.Helper()
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	bin := envOr("VENDORSIM_BIN", filepath.Join(repo, "bin", "vendorsim"))
	tag := randomHex(4)
	addrFile := filepath.Join(env.dir, "sim-tls-"+tag+".addr")
	caFile := filepath.Join(env.dir, "sim-tls-"+tag+"-ca.pem")
	p, err := testproc.Start(env.dir, "sim-tls.log", bin, "-tls", "-ca-file", caFile, "-addr-file", addrFile)
	if err != nil {
		t.Fatalf("starting the TLS simulator: %v", err)
	}
	t.Cleanup(p.Stop)
	base, err := p.WaitFile(addrFile, 20*time.Second)
	if err != nil {
		t.Fatalf("TLS simulator: %v (see sim-tls.log)", err)
	}
	ca, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatalf("%s holds no certificate", caFile)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}}
	return tlsSimulator{&simClient{base: base, http: client}}, string(ca)
}

// closedPort is a loopback port nothing listens on (it was free a moment
// ago; nothing in the suite binds fixed ports).
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// A write-only field sent with the wrong JSON type (an object or a list
// instead of a string): the 400 names the field, and neither it, the
// server log nor the audit log shows the value. The values here are not
// registered with the harness: a failure is this test's alone.
func TestConfigWriteTypeErrorShowsNoSecret(t *testing.T) {
	const name = "audit-typed"
	t.Cleanup(func() { _, _ = rawRequest(t, http.MethodDelete, mountPath+"/config/"+name, nil) })
	cases := []struct {
		field string
		wrap  func(string) any
		shape string
	}{
		{"client_secret", func(s string) any { return map[string]any{"value": s} }, "an object"},
		{"password", func(s string) any { return []any{s} }, "a list"},
		{"api_key", func(s string) any { return map[string]any{"key": []any{s}} }, "a nested object"},
	}
	var secrets []secret
	for _, c := range cases {
		v := "audit-secret-" + randomHex(8) + "-typed"
		s := secret{label: c.field + " sent as " + c.shape, forms: dedupe(encodedForms(v))}
		secrets = append(secrets, s)
		data := operatorConfig(t, vendorsim.AgentSync)
		data[c.field] = c.wrap(v)
		status, body := rawRequest(t, http.MethodPost, mountPath+"/config/"+name, data)
		if status != http.StatusBadRequest || !strings.Contains(body, c.field) {
			t.Errorf("%s: HTTP %d %s, want 400 naming the field", s.label, status, clip(body))
		}
		if found := findAmong(body, []secret{s}); len(found) > 0 {
			t.Errorf("the 400 for %s shows the value: %s", s.label, clip(body))
		}
	}
	for _, path := range []string{env.vaultLog, env.auditLog} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if found := findAmong(string(b), secrets); len(found) > 0 {
			t.Errorf("%s shows secrets: %s", path, strings.Join(found, "; "))
		}
	}
}

// auditVerifyRefused: writes with verify=true while the vendor echoes the
// request (the grant of the write meets the echo): a new config carrying
// the made-up secrets (data), and an update of audit-as-nolease (good
// credentials) to the made-up client secret cs. Each is a 400 naming the
// config and the vendor's 400, with the echoed secrets redacted (the
// answers are scanned with the rest), and nothing is stored.
func auditVerifyRefused(t *testing.T, rec *responses, data map[string]any, cs string) {
	t.Helper()
	data["verify"] = true
	for _, w := range []struct {
		name string
		data map[string]any
	}{
		{"audit-verify-x", data},
		{"audit-as-nolease", map[string]any{"client_secret": cs, "verify": true}},
	} {
		body := rec.want(t, 400, http.MethodPost, "config/"+w.name, w.data)
		if !containsAll(body, w.name, "HTTP 400", "[redacted]") {
			t.Errorf("[echo] verified write of config/%s: %s\nwant the config named, the vendor's 400, the echo redacted", w.name, clip(body))
		}
	}
	rec.want(t, 404, http.MethodGet, "config/audit-verify-x", nil)
}
