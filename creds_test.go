package oauthvendor

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/vendorsim"
)

func TestEachVendorEndToEnd(t *testing.T) {
	lifetimes := map[string]time.Duration{
		vendorsim.AlphaSense: 24 * time.Hour, vendorsim.ModelPortfolio: 24 * time.Hour,
		vendorsim.AlertSite: time.Hour, vendorsim.Alation: time.Hour, vendorsim.AgentSync: time.Hour,
	}
	for _, vendor := range vendorsim.Vendors {
		t.Run(vendor, func(t *testing.T) {
			env := newSimEnv(t)
			env.configure(vendor, nil)
			resp := env.read("creds/" + vendor)
			tok := resp.Data["access_token"].(string)
			if !env.sim.TokenValid(vendor, tok) {
				t.Fatalf("the vendor does not accept the token")
			}
			if resp.Data["token_type"] != "Bearer" {
				t.Errorf("token_type = %v", resp.Data["token_type"])
			}
			want := env.clock.Now().Add(lifetimes[vendor]).UTC().Format(time.RFC3339)
			if resp.Data["expires_at"] != want {
				t.Errorf("expires_at = %v, want %s", resp.Data["expires_at"], want)
			}
			if resp.Secret == nil || resp.Secret.Renewable || resp.Secret.TTL != lifetimes[vendor]-time.Minute {
				t.Fatalf("lease = %+v, want TTL %s, not renewable", resp.Secret, lifetimes[vendor]-time.Minute)
			}
			if _, ok := resp.Data["api_key"]; ok {
				t.Error("api_key returned without api_key_in_creds")
			}
			if logs := env.logs.String(); strings.Contains(logs, tok) || !strings.Contains(logs, "token minted") {
				t.Error("trace logs hold the token, or the grant was not logged")
			}
			assertNoSecret(t, env.logs.String(), secretsOf(vendor))
			again := env.read("creds/" + vendor)
			if again.Data["access_token"] != tok || env.tokenRequests(vendor) != 1 {
				t.Fatalf("second read was not served from cache (%d vendor requests)", env.tokenRequests(vendor))
			}
		})
	}
}

// TestVendorRequestShapes checks the plugin speaks each page's dialect.
func TestVendorRequestShapes(t *testing.T) {
	env := newSimEnv(t)
	for _, v := range vendorsim.Vendors {
		env.configure(v, nil)
		env.read("creds/" + v)
	}
	as := env.sim.LastTokenRequest(vendorsim.AlphaSense)
	if as.Header.Get("x-api-key") != vendorsim.DefaultCredentials(vendorsim.AlphaSense).APIKey ||
		!strings.HasPrefix(as.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		t.Errorf("alphasense request headers: %v", as.Header)
	}
	mp := env.sim.LastTokenRequest(vendorsim.ModelPortfolio)
	if mp.Header.Get("Accept") != "application/json; version=1.0.0" || mp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("model-portfolio request headers: %v", mp.Header)
	}
	if al := env.sim.LastTokenRequest(vendorsim.AlertSite); al.Header.Get("Content-Type") != "application/json" {
		t.Errorf("alertsite content type: %v", al.Header)
	}
	if al := env.sim.LastTokenRequest(vendorsim.Alation); al.URL.Path != "/alation/oauth/v2/token/" {
		t.Errorf("alation path %q", al.URL.Path)
	}
}

func TestClientSecretBasic(t *testing.T) {
	env := newSimEnv(t)
	env.configure(vendorsim.Alation, map[string]interface{}{"client_auth": "basic"})
	resp := env.read("creds/alation")
	if !env.sim.TokenValid(vendorsim.Alation, resp.Data["access_token"].(string)) {
		t.Fatal("basic-auth token not accepted")
	}
	req := env.sim.LastTokenRequest(vendorsim.Alation)
	if _, _, ok := req.BasicAuth(); !ok {
		t.Fatal("no Basic authorization header sent")
	}
}

func TestConcurrentColdReadsMakeOneVendorRequest(t *testing.T) {
	env := newSimEnv(t)
	env.configure(vendorsim.AgentSync, nil)
	env.sim.SetKnobs(vendorsim.AgentSync, vendorsim.Knobs{Latency: 50 * time.Millisecond})
	const readers = 100
	tokens := make([]string, readers)
	var wg sync.WaitGroup
	for i := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := env.do(logical.ReadOperation, "creds/agentsync", nil)
			if err != nil || resp.IsError() {
				t.Errorf("reader %d: %v %v", i, err, resp)
				return
			}
			tokens[i] = resp.Data["access_token"].(string)
		}()
	}
	wg.Wait()
	if n := env.tokenRequests(vendorsim.AgentSync); n != 1 {
		t.Fatalf("%d readers made %d vendor requests, want 1", readers, n)
	}
	for i := range tokens {
		if tokens[i] != tokens[0] {
			t.Fatalf("reader %d got a different token", i)
		}
	}
}

func TestRefreshCycleAndRestart(t *testing.T) {
	env := newSimEnv(t)
	env.configure(vendorsim.AgentSync, nil) // 1 h tokens: window 15 m, margin 1 m
	first := env.read("creds/agentsync").Data["access_token"]

	env.clock.Advance(44 * time.Minute) // 16 m left: outside the window
	if got := env.read("creds/agentsync"); got.Data["access_token"] != first || got.Secret.TTL != 15*time.Minute {
		t.Fatalf("outside the window: token changed or TTL %s", got.Secret.TTL)
	}
	env.clock.Advance(2 * time.Minute) // 14 m left: inside
	second := env.read("creds/agentsync").Data["access_token"]
	if second == first || env.tokenRequests(vendorsim.AgentSync) != 2 {
		t.Fatalf("inside the window: no new token (%d requests)", env.tokenRequests(vendorsim.AgentSync))
	}

	// A plugin restart or a new leader: same storage, empty memory.
	restarted := newTestEnvWith(t, env.storage, env.clock)
	resp := restarted.read("creds/agentsync")
	if resp.Data["access_token"] != second || env.tokenRequests(vendorsim.AgentSync) != 2 {
		t.Fatalf("restart minted a new token (%d requests)", env.tokenRequests(vendorsim.AgentSync))
	}
}

func TestShortTokensAndJWTExpiry(t *testing.T) {
	env := newSimEnv(t)
	env.sim.SetKnobs(vendorsim.AgentSync, vendorsim.Knobs{Lifetime: 30 * time.Second})
	// Ignore expires_in so that the JWT's exp claim is the only lifetime.
	env.configure(vendorsim.AgentSync, map[string]interface{}{"expires_in_field": "not_there"})
	resp := env.read("creds/agentsync")
	if resp.Secret.TTL != 27*time.Second {
		t.Fatalf("30 s JWT: TTL %s, want 27s (a tenth as margin)", resp.Secret.TTL)
	}
	if want := env.clock.Now().Add(30 * time.Second).UTC().Format(time.RFC3339); resp.Data["expires_at"] != want {
		t.Fatalf("expires_at %v, want %s from exp", resp.Data["expires_at"], want)
	}
}

func TestMaxTTLAndLeaseFalse(t *testing.T) {
	env := newSimEnv(t)
	env.configure(vendorsim.Alation, map[string]interface{}{"max_ttl": "5m"})
	if resp := env.read("creds/alation"); resp.Secret.TTL != 5*time.Minute {
		t.Fatalf("max_ttl: TTL %s", resp.Secret.TTL)
	}
	env.write("config/alation", map[string]interface{}{"lease": false})
	resp := env.read("creds/alation")
	if resp.Secret != nil {
		t.Fatal("lease=false still returned a lease")
	}
	// One second short of the lease: Vault Agent re-reads ttl+1 s later.
	if resp.Data["ttl"] != int64(299) {
		t.Fatalf("ttl = %v, want 299 (max_ttl 5m less Agent's 1 s)", resp.Data["ttl"])
	}
	if rp, ok := resp.Data["rotation_period"].(int64); !ok || rp <= 0 {
		t.Fatalf("rotation_period = %v, want the seconds between tokens", resp.Data["rotation_period"])
	}
	if env.tokenRequests(vendorsim.Alation) != 1 {
		t.Fatal("changing max_ttl or lease dropped the cached token")
	}
}

func TestAPIKeyInCreds(t *testing.T) {
	env := newSimEnv(t)
	env.configure(vendorsim.AlphaSense, map[string]interface{}{"api_key_in_creds": true})
	resp := env.read("creds/alphasense")
	if resp.Data["api_key"] != vendorsim.DefaultCredentials(vendorsim.AlphaSense).APIKey {
		t.Fatalf("api_key = %v", resp.Data["api_key"])
	}
}

func TestRotate(t *testing.T) {
	env := newSimEnv(t)
	env.configure(vendorsim.AlertSite, nil)
	first := env.read("creds/alertsite").Data["access_token"]
	resp := env.write("rotate/alertsite", nil)
	if _, ok := resp.Data["access_token"]; ok || resp.Data["expires_at"] == nil {
		t.Fatalf("rotate answered %v", resp.Data)
	}
	second := env.read("creds/alertsite").Data["access_token"]
	if second == first || env.tokenRequests(vendorsim.AlertSite) != 2 {
		t.Fatal("rotate did not mint a new token for readers")
	}
}

func TestConfigChangeDropsCache(t *testing.T) {
	env := newSimEnv(t)
	env.configure(vendorsim.AgentSync, nil)
	env.read("creds/agentsync")
	for _, keep := range []map[string]interface{}{{"refresh_before": "5m"}, {"timeout": "20s"}, {"max_ttl": "1h"}} {
		env.write("config/agentsync", keep)
	}
	env.read("creds/agentsync")
	if n := env.tokenRequests(vendorsim.AgentSync); n != 1 {
		t.Fatalf("non-request changes dropped the token (%d requests)", n)
	}
	env.write("config/agentsync", map[string]interface{}{"scopes": "read"})
	env.read("creds/agentsync")
	if n := env.tokenRequests(vendorsim.AgentSync); n != 2 {
		t.Fatalf("a request change kept the old token (%d requests)", n)
	}
	env.mustOK(logical.DeleteOperation, "config/agentsync", nil)
	if _, err := env.do(logical.ReadOperation, "creds/agentsync", nil); codedStatus(err) != http.StatusNotFound {
		t.Fatalf("after delete: %v", err)
	}
	if entry, _ := env.storage.Get(t.Context(), "token/agentsync"); entry != nil {
		t.Fatal("delete left the cached token in storage")
	}
}

// TestAPIKeyInCredsNeedsTheKey: api_key_in_creds=true written alone would
// make every creds read return an api_key its writer never knew (issue
// 17.2). Turning it on takes api_key in the same write.
func TestAPIKeyInCredsNeedsTheKey(t *testing.T) {
	env := newSimEnv(t)
	env.configure(vendorsim.AlphaSense, nil)
	key := vendorsim.DefaultCredentials(vendorsim.AlphaSense).APIKey
	resp, err := env.do(logical.UpdateOperation, "config/alphasense", map[string]interface{}{"api_key_in_creds": true})
	if err != nil || resp == nil || !resp.IsError() {
		t.Fatalf("api_key_in_creds=true alone: %v %v, want a 400", resp, err)
	}
	if msg := resp.Error().Error(); !strings.HasPrefix(msg, "api_key_in_creds:") || !strings.Contains(msg, "give api_key") || strings.Contains(msg, key) {
		t.Fatalf("refusal says %q: want api_key_in_creds, asking for api_key, never the key", msg)
	}
	if got := env.read("creds/alphasense").Data["api_key"]; got != nil {
		t.Fatalf("after a refused write creds returns api_key %v", got)
	}
	// Turning it off, or writing other fields while it is on, needs no key.
	env.write("config/alphasense", map[string]interface{}{"api_key_in_creds": true, "api_key": key})
	if got := env.read("creds/alphasense").Data["api_key"]; got != key {
		t.Fatalf("with the key given, creds api_key = %v", got)
	}
	env.write("config/alphasense", map[string]interface{}{"max_ttl": 600})
	env.write("config/alphasense", map[string]interface{}{"api_key_in_creds": false})
}
