package oauthvendor

import (
	"encoding/json"
	"encoding/pem"
	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/vendorsim"
)

// readErr reads creds and returns the handler error, failing when there is none.
func (e *simEnv) readErr(name string) error {
	e.t.Helper()
	resp, err := e.do(logical.ReadOperation, "creds/"+name, nil)
	if err == nil {
		e.t.Fatalf("read creds/%s succeeded: %v", name, resp)
	}
	return err
}

func TestVendorErrorShapes(t *testing.T) {
	cases := []struct {
		vendor, want string
	}{
		{vendorsim.AlphaSense, "invalid_client"},
		{vendorsim.ModelPortfolio, "client authentication failed"}, // a plain message
		{vendorsim.AlertSite, "invalid_request - User authentication failed."},
		{vendorsim.Alation, "invalid_client"},
		{vendorsim.AgentSync, "invalid_client"},
	}
	for _, c := range cases {
		t.Run(c.vendor, func(t *testing.T) {
			env := newSimEnv(t)
			// The vendor now expects other credentials: ours are wrong.
			creds := vendorsim.DefaultCredentials(c.vendor)
			creds.ClientSecret += "-rotated"
			creds.Password += "-rotated"
			env.sim.SetCredentials(c.vendor, creds)
			env.configure(c.vendor, nil)
			err := env.readErr(c.vendor)
			msg := err.Error()
			if codedStatus(err) != http.StatusBadGateway || !strings.Contains(msg, `"`+c.vendor+`"`) ||
				!strings.Contains(msg, "HTTP 401") || !strings.Contains(msg, c.want) {
				t.Fatalf("error %q (status %d) should be a 502 naming the config, HTTP 401 and %q", msg, codedStatus(err), c.want)
			}
		})
	}
}

// TestSecretEchoNeverLeaks: a vendor echoes the whole request (body, form
// values, headers incl. Authorization and x-api-key) in its error.
func TestSecretEchoNeverLeaks(t *testing.T) {
	for _, vendor := range vendorsim.Vendors {
		for _, auth := range []string{"body", "basic"} {
			if auth == "basic" && (vendor == vendorsim.AlertSite || vendor == vendorsim.AlphaSense || vendor == vendorsim.ModelPortfolio) {
				continue
			}
			t.Run(vendor+"/"+auth, func(t *testing.T) {
				env := newSimEnv(t)
				env.configure(vendor, map[string]interface{}{"client_auth": auth})
				env.sim.SetKnobs(vendor, vendorsim.Knobs{Fault: vendorsim.FaultEcho})
				msg := env.readErr(vendor).Error()
				assertNoSecret(t, msg, secretsOf(vendor))
				st := env.read("status/" + vendor)
				assertNoSecret(t, st.Data["last_error"].(string), secretsOf(vendor))
				if !strings.Contains(env.logs.String(), "token grant failed") {
					t.Fatal("the failure was not logged")
				}
				assertNoSecret(t, env.logs.String(), secretsOf(vendor))
			})
		}
	}
}

func assertNoSecret(t *testing.T, text string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		for _, enc := range oauth.Encodings(s) {
			if strings.Contains(text, enc) {
				t.Fatalf("secret (encoded as %q) found in %q", enc, text)
			}
		}
	}
}

// TestBadVendorAnswers: each garbage answer is a clear 502/504, and a
// still-valid cached token stays in service through it.
func TestBadVendorAnswers(t *testing.T) {
	cases := []struct {
		name   string
		knobs  vendorsim.Knobs
		status int
		want   string
	}{
		{"html error page", vendorsim.Knobs{Fault: vendorsim.FaultHTML}, 502, "HTML page"},
		{"empty body", vendorsim.Knobs{Fault: vendorsim.FaultEmpty}, 502, "empty response body"},
		{"invalid json", vendorsim.Knobs{Fault: vendorsim.FaultInvalidJSON}, 502, "not a JSON object"},
		{"200 without token", vendorsim.Knobs{Fault: vendorsim.FaultNoToken}, 502, `no "access_token" field`},
		{"token not a string", vendorsim.Knobs{Fault: vendorsim.FaultNonStringToken}, 502, "not a string"},
		{"expires_in negative", vendorsim.Knobs{Fault: vendorsim.FaultExpiresIn, ExpiresInRaw: "-5"}, 502, "at least 3 needed"},
		{"expires_in zero", vendorsim.Knobs{Fault: vendorsim.FaultExpiresIn, ExpiresInRaw: "0"}, 502, "at least 3 needed"},
		{"expires_in absurd", vendorsim.Knobs{Fault: vendorsim.FaultExpiresIn, ExpiresInRaw: "1e300"}, 502, "more than 10 years"},
		{"expires_in non-numeric", vendorsim.Knobs{Fault: vendorsim.FaultExpiresIn, ExpiresInRaw: `"soon"`}, 502, "not a number of seconds"},
		{"8 MiB body", vendorsim.Knobs{Fault: vendorsim.FaultHuge}, 502, "larger than 1 MiB"},
		{"redirect to another host", vendorsim.Knobs{Fault: vendorsim.FaultRedirect}, 502, "redirect to another host or port (https, port 443) not followed"},
		{"vendor never answers", vendorsim.Knobs{Fault: vendorsim.FaultHang}, 504, "did not answer in time"},
		{"400 not retried", vendorsim.Knobs{Fault: vendorsim.FaultStatus, Status: 400}, 502, "HTTP 400"},
	}
	for _, c := range cases {
		// 1s keeps the hang case short; reading 1 MiB over TLS under
		// -race on a loaded 2-core machine can take longer than that, and
		// what the 8 MiB case tests is the cap, not the time.
		timeout := "1s"
		if c.knobs.Fault == vendorsim.FaultHuge {
			timeout = "30s"
		}
		t.Run(c.name, func(t *testing.T) {
			env := newSimEnv(t)
			env.configure(vendorsim.AgentSync, map[string]interface{}{"timeout": timeout})
			valid := env.read("creds/agentsync").Data["access_token"]

			// Cold: no token to fall back on -> the error.
			env.configure(vendorsim.AgentSync, map[string]interface{}{"timeout": timeout, "scopes": "fresh"})
			env.sim.SetKnobs(vendorsim.AgentSync, c.knobs)
			before := env.tokenRequests(vendorsim.AgentSync)
			err := env.readErr(vendorsim.AgentSync)
			if codedStatus(err) != c.status || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `"agentsync"`) {
				t.Fatalf("error %q status %d, want %d with %q", err, codedStatus(err), c.status, c.want)
			}
			if c.name == "400 not retried" && env.tokenRequests(vendorsim.AgentSync)-before != 1 {
				t.Fatalf("a 400 was retried: %d requests", env.tokenRequests(vendorsim.AgentSync)-before)
			}

			// Warm, in the refresh window: the valid token keeps serving.
			env.sim.SetKnobs(vendorsim.AgentSync, vendorsim.Knobs{})
			env.configure(vendorsim.AgentSync, map[string]interface{}{"timeout": timeout})
			valid = env.read("creds/agentsync").Data["access_token"]
			env.clock.Advance(50 * time.Minute)
			env.sim.SetKnobs(vendorsim.AgentSync, c.knobs)
			resp := env.read("creds/agentsync")
			if resp.Data["access_token"] != valid || len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], c.want) {
				t.Fatalf("failed refresh lost the valid token or gave no warning: %v %v", resp.Data, resp.Warnings)
			}
			if resp.Secret.TTL != 9*time.Minute {
				t.Fatalf("fallback lease TTL %s, want 9m", resp.Secret.TTL)
			}
		})
	}
}

func TestConnectionRefused(t *testing.T) {
	env := newSimEnv(t)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	env.configure(vendorsim.AgentSync, map[string]interface{}{"token_url": closed.URL + "/oauth/token", "timeout": "2s"})
	err := env.readErr(vendorsim.AgentSync)
	if s := codedStatus(err); s != 502 && s != 504 {
		t.Fatalf("connection refused: %v (status %d)", err, s)
	}
	if !strings.Contains(err.Error(), `"agentsync"`) {
		t.Fatalf("error does not name the config: %v", err)
	}
}

func TestTLSUnknownCAThenCACert(t *testing.T) {
	env := newSimEnv(t)
	tlsSrv := httptest.NewTLSServer(env.sim)
	t.Cleanup(tlsSrv.Close)
	cfg := map[string]interface{}{"token_url": tlsSrv.URL + vendorsim.AgentSyncTokenPath}
	env.configure(vendorsim.AgentSync, cfg)
	err := env.readErr(vendorsim.AgentSync)
	if codedStatus(err) != 502 || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("unknown CA: %v", err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw})
	cfg["ca_cert"] = string(caPEM)
	env.configure(vendorsim.AgentSync, cfg)
	if tok := env.read("creds/agentsync").Data["access_token"].(string); !env.sim.TokenValid(vendorsim.AgentSync, tok) {
		t.Fatal("token over TLS with ca_cert not valid")
	}
}

func TestRetries(t *testing.T) {
	httpDate := time.Now().Add(time.Second).UTC().Format(http.TimeFormat)
	cases := []struct {
		name     string
		knobs    vendorsim.Knobs
		requests int
	}{
		{"429 with Retry-After seconds", vendorsim.Knobs{Fault: vendorsim.FaultRateLimit, RetryAfter: "1", FaultCount: 1}, 2},
		{"429 with Retry-After HTTP date", vendorsim.Knobs{Fault: vendorsim.FaultRateLimit, RetryAfter: httpDate, FaultCount: 1}, 2},
		{"two 500s", vendorsim.Knobs{Fault: vendorsim.FaultStatus, Status: 500, FaultCount: 2}, 3},
		{"503 HTML", vendorsim.Knobs{Fault: vendorsim.FaultHTML, FaultCount: 1}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := newSimEnv(t)
			env.configure(vendorsim.AgentSync, nil)
			env.sim.SetKnobs(vendorsim.AgentSync, c.knobs)
			resp := env.read("creds/agentsync")
			if !env.sim.TokenValid(vendorsim.AgentSync, resp.Data["access_token"].(string)) {
				t.Fatal("token after retries not valid")
			}
			if n := env.tokenRequests(vendorsim.AgentSync); n != c.requests {
				t.Fatalf("%d vendor requests, want %d", n, c.requests)
			}
		})
	}
}

func TestRetryAfterBeyondTimeoutGivesUpAtOnce(t *testing.T) {
	env := newSimEnv(t)
	env.configure(vendorsim.AgentSync, map[string]interface{}{"timeout": "2s"})
	env.sim.SetKnobs(vendorsim.AgentSync, vendorsim.Knobs{Fault: vendorsim.FaultRateLimit, RetryAfter: "120"})
	// Waiting would end in the 2 s timeout: a 504, not the vendor's 429.
	err := env.readErr(vendorsim.AgentSync)
	if !strings.Contains(err.Error(), "HTTP 429") || !strings.Contains(err.Error(), "rate_limit_exceeded") {
		t.Fatalf("error %v", err)
	}
	if env.tokenRequests(vendorsim.AgentSync) != 1 {
		t.Fatalf("waited for a Retry-After past the timeout (%d requests)", env.tokenRequests(vendorsim.AgentSync))
	}
}

// TestRedirectNeverResendsCredentials: a 307 to another host is reported,
// and that host never sees a request (so never the credentials).
func TestRedirectNeverResendsCredentials(t *testing.T) {
	env := newSimEnv(t)
	var hits atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(other.Close)
	env.configure(vendorsim.AgentSync, nil)
	env.sim.SetKnobs(vendorsim.AgentSync, vendorsim.Knobs{Fault: vendorsim.FaultRedirect, RedirectTo: other.URL + "/steal"})
	err := env.readErr(vendorsim.AgentSync)
	port := other.URL[strings.LastIndexByte(other.URL, ':')+1:]
	if codedStatus(err) != 502 || !strings.Contains(err.Error(), "HTTP 307") || !strings.Contains(err.Error(), "another host or port (http, port "+port+")") ||
		strings.Contains(err.Error(), other.URL) || strings.Contains(err.Error(), "steal") {
		t.Fatalf("redirect: %v, want the 307, scheme and port, never the target URL", err)
	}
	if hits.Load() != 0 {
		t.Fatalf("the other host got %d requests", hits.Load())
	}
}

// TestFailedRefreshCoolsDown: while the cached token is valid, readers in
// the window after a failed refresh do not each ask the failing vendor.
func TestFailedRefreshCoolsDown(t *testing.T) {
	env := newSimEnv(t)
	env.configure(vendorsim.AgentSync, nil) // 1 h: window 15 m, cooldown 30 s
	valid := env.read("creds/agentsync").Data["access_token"]
	env.clock.Advance(50 * time.Minute)
	env.sim.SetKnobs(vendorsim.AgentSync, vendorsim.Knobs{Fault: vendorsim.FaultStatus, Status: 401})
	for range 20 {
		resp := env.read("creds/agentsync")
		if resp.Data["access_token"] != valid || len(resp.Warnings) != 1 {
			t.Fatalf("read during cooldown: %v %v", resp.Data, resp.Warnings)
		}
	}
	if n := env.tokenRequests(vendorsim.AgentSync); n != 2 {
		t.Fatalf("20 reads after a failed refresh made %d vendor requests, want 2 in all", n)
	}
	env.sim.SetKnobs(vendorsim.AgentSync, vendorsim.Knobs{})
	env.clock.Advance(31 * time.Second)
	resp := env.read("creds/agentsync")
	if resp.Data["access_token"] == valid || len(resp.Warnings) != 0 || env.tokenRequests(vendorsim.AgentSync) != 3 {
		t.Fatalf("after the cooldown the vendor was not asked again: %v", resp.Warnings)
	}
}

// TestRedirectQuotesNoHost: a vendor that puts the client secret in a
// redirect's host name has it lower-cased, past a case-sensitive
// redactor (issue 17.3). No part of the target's host, path or query
// reaches the error, status/<name> or the log, in any case.
func TestRedirectQuotesNoHost(t *testing.T) {
	const secret = "SecretInHostName42"
	for to, says := range map[string]string{
		"https://" + strings.ToLower(secret) + ".evil.example/steal?c=" + strings.ToLower(secret): "another host or port (https, port 443)",
		"/" + strings.ToLower(secret) + "/steal?c=" + secret:                                      "another path on token_url's host",
		"https://evil.example:8443/steal":                                                         "another host or port (https, port 8443)",
		"ftp://evil.example/steal":                                                                "another scheme",
	} {
		env := newSimEnv(t)
		env.configure(vendorsim.AgentSync, map[string]interface{}{"client_secret": secret})
		env.sim.SetKnobs(vendorsim.AgentSync, vendorsim.Knobs{Fault: vendorsim.FaultRedirect, RedirectTo: to})
		err := env.readErr(vendorsim.AgentSync)
		st, _ := json.Marshal(env.read("status/" + vendorsim.AgentSync).Data)
		for where, text := range map[string]string{"error": err.Error(), "status": string(st), "log": env.logs.String()} {
			low := strings.ToLower(text)
			if strings.Contains(low, strings.ToLower(secret)) || strings.Contains(low, "evil") || strings.Contains(low, "steal") {
				t.Fatalf("redirect to %s: the %s quotes the target: %s", to, where, text)
			}
		}
		if !strings.Contains(err.Error(), "HTTP 307: redirect to "+says+" not followed") {
			t.Fatalf("redirect to %s: %v, want the 307 and %q", to, err, says)
		}
	}
}
