//go:build e2e

package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/vendorsim"
)

// leaseMargin is API.md's margin between a lease's end and its token's
// expiry for tokens of ten minutes or more.
const leaseMargin = time.Minute

// Each seed vendor, configured as an operator would, yields a token its
// API accepts, under a lease that ends a margin before the token and
// cannot be renewed; a second reader shares the token.
func TestSeedVendorsTokensWork(t *testing.T) {
	for _, vendor := range seedVendors {
		t.Run(vendor, func(t *testing.T) {
			configureVendor(t, vendor, vendor, nil)
			before := env.sim.stats(t, vendor)

			start := time.Now()
			s := readCreds(t, vendor)
			took := time.Since(start)
			tok := accessToken(t, s)
			status, body := env.sim.callAPI(t, vendor, tok, apiHeaders(vendor, s.Data))
			if status != http.StatusOK {
				t.Fatalf("%s API answered %d to the Vault token: %s", vendor, status, body)
			}
			if tt := s.Data["token_type"]; tt != "Bearer" {
				t.Errorf("token_type = %v, want Bearer", tt)
			}
			checkLease(t, s, start, vendorLifetime[vendor])

			again := readCreds(t, vendor)
			if accessToken(t, again) != tok {
				t.Errorf("second read got another token: the cache was not used")
			}
			after := env.sim.stats(t, vendor)
			if n := after.TokenRequests - before.TokenRequests; n != 1 {
				t.Errorf("vendor saw %d token requests for two reads, want 1", n)
			}
			t.Logf("%s: first read %s, lease %ds, API %s", vendor, took.Round(time.Millisecond), s.LeaseDuration, body)
		})
	}
}

// checkLease holds a creds answer, read at start for a token of the given
// lifetime, to API.md: a non-renewable lease of (time left - margin) in
// whole seconds, never beyond the token.
func checkLease(t *testing.T, sec *api.Secret, start time.Time, lifetime time.Duration) {
	t.Helper()
	if sec.LeaseID == "" || sec.Renewable {
		t.Errorf("lease_id %q renewable %v: want a non-renewable lease", sec.LeaseID, sec.Renewable)
	}
	exp := expiresAt(t, sec)
	if d := exp.Sub(start); d < lifetime-5*time.Second || d > lifetime+5*time.Second {
		t.Errorf("expires_at %s is %s after the read, want about %s", exp, d, lifetime)
	}
	lease := time.Duration(sec.LeaseDuration) * time.Second
	if lease <= 0 || time.Now().Add(lease).After(exp) {
		t.Errorf("lease_duration %s outlives the token (expires_at %s)", lease, exp)
	}
	if want := lifetime - leaseMargin; lease > want || lease < want-10*time.Second {
		t.Errorf("lease_duration %s, want %s (lifetime %s - margin %s) minus the read's time", lease, want, lifetime, leaseMargin)
	}
}

// lease=false: plain data with ttl, no lease for fleets that read per
// request; max_ttl caps the lease; revoking a lease leaves the shared
// token alone.
func TestLeaseOptions(t *testing.T) {
	const vendor = vendorsim.AgentSync
	t.Run("lease=false", func(t *testing.T) {
		configureVendor(t, "agentsync-nolease", vendor, map[string]any{"lease": false})
		s := readCreds(t, "agentsync-nolease")
		if s.LeaseID != "" || s.LeaseDuration != 0 || s.Renewable {
			t.Errorf("lease_id %q lease_duration %d renewable %v: want no lease", s.LeaseID, s.LeaseDuration, s.Renewable)
		}
		ttl := time.Duration(jsonNumber(t, s.Data["ttl"])) * time.Second
		left := time.Until(expiresAt(t, s))
		if want := left - leaseMargin; ttl <= 0 || ttl > want+2*time.Second || ttl < want-10*time.Second {
			t.Errorf("data ttl %s with %s left on the token: want time left - %s margin", ttl, left, leaseMargin)
		}
		if rp := jsonNumber(t, s.Data["rotation_period"]); rp <= 0 {
			t.Errorf("rotation_period %d: want the seconds between tokens (Vault Agent honours ttl only with it)", rp)
		}
		if !env.sim.valid(t, vendor, accessToken(t, s)) {
			t.Error("the simulator does not know the token")
		}
	})
	t.Run("max_ttl", func(t *testing.T) {
		configureVendor(t, "agentsync-maxttl", vendor, map[string]any{"max_ttl": "90s"})
		if s := readCreds(t, "agentsync-maxttl"); s.LeaseDuration != 90 {
			t.Errorf("lease_duration %d with max_ttl=90s, want 90", s.LeaseDuration)
		}
	})
	t.Run("revoke", func(t *testing.T) {
		configureVendor(t, "agentsync-revoke", vendor, nil)
		s := readCreds(t, "agentsync-revoke")
		if err := env.vault.Sys().Revoke(s.LeaseID); err != nil {
			t.Fatalf("revoking %s: %v", s.LeaseID, err)
		}
		tok := accessToken(t, s)
		if !env.sim.valid(t, vendor, tok) {
			t.Error("revoking one reader's lease invalidated the shared vendor token")
		}
		if next := readCreds(t, "agentsync-revoke"); accessToken(t, next) != tok {
			t.Error("after a revoke the next reader got another token")
		}
	})
}
