package oauthvendor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/vendorsim"
)

func tokenOf(lifetime time.Duration, minted time.Time) *cachedToken {
	return &cachedToken{AccessToken: "t", MintedAt: minted, ExpiresAt: minted.Add(lifetime), Generation: 1}
}

// TestAgentReReadLandsInRefreshWindow checks API.md's invariant for every
// lifetime from 3 s to 30 days: a Vault Agent re-reading a non-renewable
// lease at 85-95% of its TTL, with the default window and no max_ttl, finds
// the token inside its refresh window (so it gets a new token), and no
// lease outlives its token or is 0.
func TestAgentReReadLandsInRefreshWindow(t *testing.T) {
	for _, l := range agentLifetimes() {
		if msg := agentLeaseReReadFails(tokenOf(l, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), 0); msg != "" {
			t.Fatalf("L=%s: %s", l, msg)
		}
	}
}

// agentLeaseReReadFails reads a leased token at every point where it is
// served from cache, and says where a lease is wrong or Agent's re-read
// (85%, 90%, 95% of the TTL) still gets the same token.
func agentLeaseReReadFails(tok *cachedToken, refreshBefore time.Duration) string {
	l := tok.lifetime()
	for readAt := time.Duration(0); readAt < l; readAt += max(l/50, time.Second) {
		now := tok.MintedAt.Add(readAt)
		if !tok.fresh(now, refreshBefore, 1) {
			break
		}
		ttl := tok.leaseTTL(now, 0)
		if ttl <= 0 {
			return fmt.Sprintf("read at %s: TTL %s", readAt, ttl)
		}
		if now.Add(ttl).After(tok.ExpiresAt) {
			return fmt.Sprintf("read at %s: lease %s outlives the token", readAt, ttl)
		}
		for _, frac := range []float64{0.85, 0.90, 0.95} {
			reRead := now.Add(time.Duration(float64(ttl) * frac))
			if tok.fresh(reRead, refreshBefore, 1) {
				return fmt.Sprintf("read at %s TTL %s: re-read at %.0f%% still gets the old token", readAt, ttl, frac*100)
			}
		}
	}
	return ""
}

// TestAgentLeaseWindowIsWhatAgentNeeds holds the refresh_before warning's
// threshold to the invariant: with refresh_before = agentLeaseWindow(L)
// every Agent re-read gets a new token, and two seconds less fails it
// wherever the threshold is the formula's (not the default window's), so
// the warning neither misses nor cries wolf by more than 2 s.
func TestAgentLeaseWindowIsWhatAgentNeeds(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tight := 0
	for _, l := range agentLifetimes() {
		need := agentLeaseWindow(l)
		if msg := agentLeaseReReadFails(tokenOf(l, t0), need); msg != "" {
			t.Fatalf("L=%s refresh_before=%s (the warning's threshold): %s", l, need, msg)
		}
		if _, short := agentWindowShort(need, l); short {
			t.Fatalf("L=%s: the threshold %s itself draws the warning", l, need)
		}
		less := need - 2*time.Second
		if less <= marginFor(l)+minLease || need == refreshWindowFor(l, 0) || refreshWindowFor(l, less) != less {
			continue
		}
		tight++
		if agentLeaseReReadFails(tokenOf(l, t0), less) == "" {
			t.Fatalf("L=%s: refresh_before=%s, 2 s under the threshold, still works: the threshold is too high", l, less)
		}
		if _, short := agentWindowShort(less, l); !short {
			t.Fatalf("L=%s: refresh_before=%s draws no warning", l, less)
		}
	}
	if tight < 20 {
		t.Fatalf("only %d lifetimes checked for tightness", tight)
	}
	// README's old AgentSync recipe: 5m on 1-hour tokens.
	if need, short := agentWindowShort(5*time.Minute, time.Hour); !short || need != 9*time.Minute+52*time.Second {
		t.Fatalf("refresh_before=5m on 1h tokens: short=%v need=%s, want short, 9m52s", short, need)
	}
}

// agentSleep is how long Vault Agent waits before re-reading a creds
// answer that has no lease, as consul-template v0.41.1 (Vault 1.21)
// decides it in dependency/vault_common.go leaseCheckWait: the data as the
// Vault API client decodes it (numbers as json.Number); rotation_period
// present and ttl an integer: ttl+1 s, no jitter; else 85-95% (frac) of
// the default lease duration, 5 minutes.
func agentSleep(t *testing.T, data map[string]interface{}, frac float64) time.Duration {
	t.Helper()
	raw, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var got map[string]interface{}
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if _, ok := got["rotation_period"]; ok {
		if n, ok := got["ttl"].(json.Number); ok {
			if ttl, err := n.Int64(); err == nil {
				return time.Duration(ttl+1) * time.Second
			}
		}
	}
	return time.Duration(float64(5*time.Minute) * frac)
}

func agentLifetimes() []time.Duration {
	lifetimes := []time.Duration{}
	for l := 3 * time.Second; l <= 30*24*time.Hour; l += l/7 + time.Second {
		lifetimes = append(lifetimes, l)
	}
	return append(lifetimes, 30*time.Second, 8*time.Minute, 10*time.Minute, time.Hour, 24*time.Hour)
}

// TestAgentReReadOfPlainAnswer is the lease=false half of API.md's Agent
// invariant, for every lifetime from 3 s to 30 days and any refresh_before:
// Agent, reading the answer's ttl and rotation_period, re-reads no later
// than the lease would have ended (so at least the margin before expiry)
// and finds the token due (so it gets a new one). Without rotation_period
// Agent waits 85-95% of 5 minutes whatever the token's lifetime.
func TestAgentReReadOfPlainAnswer(t *testing.T) {
	env := newTestEnv(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, rb := range []time.Duration{0, time.Second, 30 * time.Second, 5 * time.Minute, 2 * time.Hour} {
		cfg := &vendorConfig{Lease: boolPtr(false), RefreshBefore: rb}
		for _, l := range agentLifetimes() {
			tok := tokenOf(l, t0)
			for readAt := time.Duration(0); readAt < l; readAt += max(l/50, time.Second) {
				now := t0.Add(readAt)
				if !tok.fresh(now, rb, 1) {
					break
				}
				data := env.b.credsResponse(cfg, tok, now).Data
				for _, frac := range []float64{0.85, 0.90, 0.95} {
					reRead := now.Add(agentSleep(t, data, frac))
					if reRead.After(now.Add(tok.rawLease(now))) || !reRead.Before(tok.ExpiresAt) {
						t.Fatalf("refresh_before=%s L=%s read at %s (ttl %v): Agent re-reads %s before expiry, after the margin %s",
							rb, l, readAt, data["ttl"], tok.ExpiresAt.Sub(reRead), tok.margin())
					}
					if tok.fresh(reRead, rb, 1) {
						t.Fatalf("refresh_before=%s L=%s read at %s (ttl %v): Agent's re-read %s before expiry gets the old token",
							rb, l, readAt, data["ttl"], tok.ExpiresAt.Sub(reRead))
					}
				}
			}
		}
	}
}

// TestAgentRendersPlainAnswerInTime drives Agent's loop through the
// backend against the simulator, with 10-minute tokens and lease=false:
// each re-read (when Agent's rule says) returns a new token while the one
// it replaces is still valid at the vendor, five rotations in a row.
func TestAgentRendersPlainAnswerInTime(t *testing.T) {
	env := newSimEnv(t)
	env.sim.SetKnobs(vendorsim.AgentSync, vendorsim.Knobs{Lifetime: 10 * time.Minute})
	env.configure(vendorsim.AgentSync, map[string]interface{}{"lease": false})
	// Another reader had the token minted 2m40s before Agent starts.
	env.read("creds/agentsync")
	env.clock.Advance(2*time.Minute + 40*time.Second)
	resp := env.read("creds/agentsync")
	for i := range 5 {
		if ttl, rp := resp.Data["ttl"], resp.Data["rotation_period"]; ttl == nil || rp == nil {
			t.Fatalf("lease=false answer without ttl (%v) or rotation_period (%v)", ttl, rp)
		}
		old := resp.Data["access_token"].(string)
		env.clock.Advance(agentSleep(t, resp.Data, 0.95))
		if !env.sim.TokenValid(vendorsim.AgentSync, old) {
			t.Fatalf("rotation %d: the rendered token expired before Agent re-read", i+1)
		}
		resp = env.read("creds/agentsync")
		if resp.Data["access_token"] == old {
			t.Fatalf("rotation %d: Agent's re-read got the same token back", i+1)
		}
	}
}

func TestLeaseArithmetic(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name     string
		lifetime time.Duration
		at       time.Duration
		maxTTL   time.Duration
		wantTTL  time.Duration
	}{
		{"one hour fresh: minus one minute", time.Hour, 0, 0, 59 * time.Minute},
		{"24h fresh", 24 * time.Hour, 0, 0, 24*time.Hour - time.Minute},
		{"short token: a tenth as margin", 30 * time.Second, 0, 0, 27 * time.Second},
		{"9m59s: tenth margin, whole seconds", 599 * time.Second, 0, 0, 539 * time.Second},
		{"max_ttl caps", time.Hour, 0, 10 * time.Minute, 10 * time.Minute},
		{"max_ttl above what is left does not extend", time.Hour, 50 * time.Minute, time.Hour, 9 * time.Minute},
		{"fraction truncated", time.Hour, 1500 * time.Millisecond, 0, 58*time.Minute + 58*time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok := tokenOf(c.lifetime, t0)
			if got := tok.leaseTTL(t0.Add(c.at), c.maxTTL); got != c.wantTTL {
				t.Fatalf("leaseTTL = %s, want %s", got, c.wantTTL)
			}
		})
	}
}

func TestRefreshWindowDefaults(t *testing.T) {
	cases := []struct {
		lifetime, refreshBefore, want time.Duration
	}{
		{24 * time.Hour, 0, 6 * time.Hour},            // L/4
		{time.Hour, 0, 15 * time.Minute},              // L/4
		{6 * time.Minute, 0, 2 * time.Minute},         // at least 2m
		{30 * time.Second, 0, 15 * time.Second},       // at most L/2
		{time.Hour, 5 * time.Minute, 5 * time.Minute}, // AgentSync's "less than 5 minutes"
		{time.Hour, 2 * time.Hour, 30 * time.Minute},  // an explicit window is capped at L/2
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range cases {
		if got := tokenOf(c.lifetime, t0).refreshWindow(c.refreshBefore); got != c.want {
			t.Errorf("L=%s refresh_before=%s: window %s, want %s", c.lifetime, c.refreshBefore, got, c.want)
		}
	}
}

func TestTokenNotServedWithUnderTwoSecondsOfLease(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tok := tokenOf(time.Hour, t0)
	// An explicit tiny refresh_before would keep serving; the 2 s floor does not.
	edge := tok.ExpiresAt.Add(-time.Minute - 2*time.Second)
	if !tok.fresh(edge, time.Second, 1) {
		t.Fatal("token with exactly 2s of lease left should be served")
	}
	if tok.fresh(edge.Add(time.Millisecond), time.Second, 1) {
		t.Fatal("token with under 2s of lease left was served")
	}
	if tok.fresh(t0, 0, 2) {
		t.Fatal("token from another config generation was served")
	}
}

// TestRefreshBeforeTooShortForAgentWarns: a config write whose
// refresh_before leaves a window Agent's re-read of a lease cannot reach
// answers a warning naming the window it needs, with the lifetime taken
// from the verified token, else the cached one, else default_ttl, else the
// preset's documented lifetime; no warning when the window suffices, with
// lease=false, or when no lifetime is known.
func TestRefreshBeforeTooShortForAgentWarns(t *testing.T) {
	env := newSimEnv(t)
	env.sim.SetKnobs(vendorsim.AgentSync, vendorsim.Knobs{Lifetime: 2 * time.Hour})
	agentWarning := func(resp *logical.Response) string {
		if resp == nil {
			return ""
		}
		for _, w := range resp.Warnings {
			if strings.Contains(w, "Vault Agent") {
				return w
			}
		}
		return ""
	}
	expect := func(step string, resp *logical.Response, want ...string) {
		t.Helper()
		w := agentWarning(resp)
		if len(want) == 0 && w != "" {
			t.Fatalf("%s: unexpected warning %q", step, w)
		}
		for _, s := range want {
			if !strings.Contains(w, s) {
				t.Fatalf("%s: warning %q does not say %q", step, w, s)
			}
		}
	}
	cfg := vendorsim.OperatorConfig(vendorsim.AgentSync, env.srv.URL, vendorsim.DefaultCredentials(vendorsim.AgentSync))
	cfg["verify"], cfg["refresh_before"] = true, "10m"
	// 2 h tokens: 0.15 x 2h + 0.85 x 61s = 18m51.85s.
	expect("verified", env.write("config/agentsync", cfg), "refresh_before=10m0s", "2h0m0s tokens", "verified token", "at least 18m52s", "30m0s")
	expect("enough", env.write("config/agentsync", map[string]interface{}{"refresh_before": "20m"}))
	expect("cached", env.write("config/agentsync", map[string]interface{}{"refresh_before": "15m"}), "refresh_before=15m0s", "cached token", "18m52s")
	expect("lease=false", env.write("config/agentsync", map[string]interface{}{"lease": false}))
	if n := env.tokenRequests(vendorsim.AgentSync); n != 1 {
		t.Fatalf("%d token requests, want the verified one only", n)
	}

	// No token: the lifetime AgentSync documents (1 h), the README's old
	// recipe; default_ttl as written wins over it.
	nv := map[string]interface{}{"preset": "agentsync", "token_url": env.srv.URL + "/x", "client_id": "c", "client_secret": "s", "refresh_before": "5m"}
	expect("preset", env.write("config/nv", nv), "refresh_before=5m0s", "AgentSync's documented", "1h0m0s tokens", "at least 9m52s", "15m0s")
	nv["default_ttl"] = "20m" // needs 3m52s
	expect("default_ttl", env.write("config/nv", nv))
	generic := map[string]interface{}{"token_url": env.srv.URL + "/x", "client_id": "c", "client_secret": "s", "refresh_before": "1s"}
	expect("unknown lifetime", env.write("config/generic", generic))
}
