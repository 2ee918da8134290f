//go:build e2e

package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/vendorsim"
)

// noSecrets fails the test when text shows any vendor secret in any form.
func noSecrets(t *testing.T, where, text string) {
	t.Helper()
	if found := env.findSecrets(text); len(found) > 0 {
		t.Errorf("%s shows secrets: %s", where, strings.Join(found, "; "))
	}
}

// Reads and lists of config/ answer *_set booleans, never a value.
func TestConfigIsWriteOnly(t *testing.T) {
	configs := map[string]map[string]any{}
	for _, vendor := range seedVendors {
		configs[vendor] = operatorConfig(t, vendor)
		writeConfig(t, vendor+"-wo", configs[vendor])
	}
	for _, vendor := range seedVendors {
		t.Run(vendor, func(t *testing.T) {
			name := vendor + "-wo"
			status, body := rawRequest(t, http.MethodGet, mountPath+"/config/"+name, nil)
			if status != http.StatusOK {
				t.Fatalf("read config/%s: %d %s", name, status, body)
			}
			noSecrets(t, "read config/"+name, body)
			for _, field := range []string{"client_secret", "password", "api_key"} {
				_, set := configs[vendor][field]
				want := `"` + field + `_set":` + map[bool]string{true: "true", false: "false"}[set]
				if !strings.Contains(body, want) {
					t.Errorf("read config/%s: want %s in %s", name, want, body)
				}
			}
		})
	}
	status, body := rawRequest(t, "LIST", mountPath+"/config", nil)
	if status != http.StatusOK || !strings.Contains(body, `"alphasense-wo"`) {
		t.Fatalf("list config/: %d %s", status, body)
	}
	noSecrets(t, "list config/", body)
}

// A vendor that echoes the whole token request (headers, form values, raw
// body) in its error answer: Vault's error, rotate's error and status/ name
// the config and the vendor's status, and show no secret.
func TestVendorErrorsShowNoSecret(t *testing.T) {
	cases := []struct {
		name, vendor string
		extra        map[string]any
		// redacted: a secret travels in the part of the echo the plugin
		// quotes (it keeps the first 300 characters of a vendor message,
		// and the simulator echoes headers before the body), so the
		// message must show the redaction marker where the secret was.
		redacted bool
		// config, when set, is the whole config instead of the vendor's
		// operator config with extra.
		config func(t *testing.T) map[string]any
	}{
		{name: "alphasense-echo", vendor: vendorsim.AlphaSense},
		// A header name sorting before the others puts the API key first.
		{name: "alphasense-key-echo", vendor: vendorsim.AlphaSense, extra: map[string]any{"api_key_header": "A-Api-Key"}, redacted: true},
		{name: "modelportfolio-echo", vendor: vendorsim.ModelPortfolio},
		{name: "alertsite-echo", vendor: vendorsim.AlertSite},
		{name: "alation-echo", vendor: vendorsim.Alation},
		// The client secret travels base64'd in Authorization: Basic.
		{name: "alation-basic-echo", vendor: vendorsim.Alation, extra: map[string]any{"client_auth": "basic"}, redacted: true},
		{name: "agentsync-echo", vendor: vendorsim.AgentSync},
		{name: "agentsync-basic-echo", vendor: vendorsim.AgentSync, extra: map[string]any{"client_auth": "basic"}, redacted: true},
		// jwt_bearer: the form body starts with the assertion (and carries
		// the client secret after it, Box-style).
		{name: "agentsync-jwt-bearer-echo", vendor: vendorsim.AgentSync, redacted: true,
			extra: map[string]any{"grant_type": "jwt_bearer", "key_type": "ec", "signing_alg": "ES256"}},
		// preset=google with a key file: the assertion alone, RS256.
		{name: "google-echo", vendor: vendorsim.AgentSync, redacted: true, config: func(t *testing.T) map[string]any {
			kf := newKeyFile(t, env.sim.tokenURL(vendorsim.AgentSync))
			addKeyFileSecret(t, "google-echo key file", kf)
			return map[string]any{"preset": "google", "credentials_json": kf.json, "scopes": "https://www.googleapis.com/auth/cloud-platform"}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.config != nil {
				writeConfig(t, c.name, c.config(t))
			} else {
				configureVendor(t, c.name, c.vendor, c.extra)
			}
			env.sim.setKnobs(t, c.vendor, map[string]any{"fault": "echo"})
			before := env.sim.tokenRequests(t, c.vendor)

			status, body := rawRequest(t, http.MethodGet, mountPath+"/creds/"+c.name, nil)
			// The jwt_bearer assertions the vendor received are secrets
			// too (bearer.go).
			addAssertionSecrets(t, c.vendor)
			if status != http.StatusBadGateway || !containsAll(body, `\"`+c.name+`\"`, "HTTP 400") {
				t.Errorf("read creds/%s: %d %s\nwant 502 naming the config and the vendor's 400", c.name, status, body)
			}
			if c.redacted && !strings.Contains(body, "[redacted]") {
				t.Errorf("read creds/%s: the echoed secret is neither shown nor marked redacted: %s", c.name, body)
			}
			noSecrets(t, "creds error", body)

			status, body = rawRequest(t, http.MethodPost, mountPath+"/rotate/"+c.name, nil)
			addAssertionSecrets(t, c.vendor)
			if status != http.StatusBadGateway {
				t.Errorf("rotate/%s: %d %s, want 502", c.name, status, body)
			}
			noSecrets(t, "rotate error", body)

			if n := env.sim.tokenRequests(t, c.vendor) - before; n != 2 {
				t.Fatalf("the vendor saw %d token requests, want 2 (creds, rotate)", n)
			}
			_, body = rawRequest(t, http.MethodGet, mountPath+"/status/"+c.name, nil)
			if !strings.Contains(body, "last_error") || strings.Contains(body, `"last_error":""`) {
				t.Errorf("status/%s has no last_error: %s", c.name, body)
			}
			noSecrets(t, "status", body)
		})
	}
}

// A config the plugin rejects: the 400 names the field, not the secrets
// that came with it.
func TestBadConfigErrorShowsNoSecret(t *testing.T) {
	cfg := operatorConfig(t, vendorsim.AlphaSense)
	cfg["token_url"] = "ftp://127.0.0.1/alphasense/auth"
	status, body := rawRequest(t, http.MethodPost, mountPath+"/config/alphasense-bad", cfg)
	if status != http.StatusBadRequest || !strings.Contains(body, "token_url") {
		t.Errorf("bad token_url: %d %s, want 400 naming token_url", status, body)
	}
	noSecrets(t, "config error", body)

	status, body = rawRequest(t, http.MethodGet, mountPath+"/creds/no-such-config", nil)
	if status != http.StatusNotFound || !strings.Contains(body, "no-such-config") {
		t.Errorf("unknown name: %d %s, want 404 naming it", status, body)
	}
}

// The trace-level server log and the audit log saw every secret above go
// by (config writes, echoed vendor errors) and hold none. TestMain checks
// again after the last test.
func TestLogsHoldNoSecret(t *testing.T) {
	server, err := os.ReadFile(env.vaultLog)
	if err != nil {
		t.Fatal(err)
	}
	audit, err := os.ReadFile(env.auditLog)
	if err != nil {
		t.Fatal(err)
	}
	// Guard against a vacuous pass: the scanner must see secrets in the
	// carriers they travel in, and the logs must have recorded the traffic.
	for _, v := range seedVendors {
		c := env.creds[v]
		carriers := []string{
			url.Values{"client_secret": {c.ClientSecret}, "password": {c.Password}}.Encode(),
			mustJSON(t, map[string]string{"password": c.Password, "api_key": c.APIKey, "client_secret": c.ClientSecret}),
		}
		for _, carrier := range carriers {
			if len(env.findSecrets(carrier)) == 0 {
				t.Fatalf("the scanner misses %s's secrets in %d bytes of encoded request", v, len(carrier))
			}
		}
	}
	if !containsAll(string(server), "[TRACE]", "token grant failed") {
		t.Errorf("%s lacks trace lines or the plugin's grant failures", env.vaultLog)
	}
	if !containsAll(string(audit), mountPath+"/config/", mountPath+"/creds/", `"type":"response"`) {
		t.Errorf("%s lacks the config and creds requests", env.auditLog)
	}
	noSecrets(t, env.vaultLog, string(server))
	noSecrets(t, env.auditLog, string(audit))
	t.Logf("scanned %d bytes of server log and %d bytes of audit log for %d secrets", len(server), len(audit), len(env.secrets()))
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
