package oauthvendor

import (
	"testing"
	"time"
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
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lifetimes := []time.Duration{}
	for l := 3 * time.Second; l <= 30*24*time.Hour; l += l/7 + time.Second {
		lifetimes = append(lifetimes, l)
	}
	lifetimes = append(lifetimes, 30*time.Second, 8*time.Minute, 10*time.Minute, time.Hour, 24*time.Hour)
	for _, l := range lifetimes {
		tok := tokenOf(l, t0)
		// Read at every point where the token is still served from cache.
		for readAt := time.Duration(0); readAt < l; readAt += max(l/50, time.Second) {
			now := t0.Add(readAt)
			if !tok.fresh(now, 0, 1) {
				break
			}
			ttl := tok.leaseTTL(now, 0)
			if ttl <= 0 {
				t.Fatalf("L=%s read at %s: TTL %s", l, readAt, ttl)
			}
			if now.Add(ttl).After(tok.ExpiresAt) {
				t.Fatalf("L=%s read at %s: lease %s outlives the token", l, readAt, ttl)
			}
			for _, frac := range []float64{0.85, 0.90, 0.95} {
				reRead := now.Add(time.Duration(float64(ttl) * frac))
				if tok.fresh(reRead, 0, 1) {
					t.Fatalf("L=%s read at %s TTL %s: re-read at %.0f%% still gets the old token", l, readAt, ttl, frac*100)
				}
			}
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
