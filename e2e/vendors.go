//go:build e2e

package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/vendorsim"
)

// seedVendors are the five vendors the plugin ships for, in the order the
// tests walk them.
var seedVendors = vendorsim.Vendors

// vendorLifetime is the simulator's default token lifetime per vendor
// (what the vendor pages document), which the lease checks rely on.
var vendorLifetime = map[string]time.Duration{
	vendorsim.AlphaSense:     24 * time.Hour,
	vendorsim.ModelPortfolio: 24 * time.Hour,
	vendorsim.AlertSite:      time.Hour, // no expires_in: the preset's default_ttl
	vendorsim.Alation:        time.Hour,
	vendorsim.AgentSync:      time.Hour,
}

// operatorConfig is what an operator writes to config/<name> to connect
// vendor through the simulator, with the credentials the simulator hands
// out. AlphaSense's search API wants the key on every call: apps get it
// with the token.
func operatorConfig(t testing.TB, vendor string) map[string]any {
	t.Helper()
	cfg := vendorsim.OperatorConfig(vendor, env.sim.base, env.creds[vendor])
	if cfg == nil {
		t.Fatalf("no operator config for vendor %q", vendor)
	}
	if vendor == vendorsim.AlphaSense {
		cfg["api_key_in_creds"] = true
	}
	return cfg
}

// apiHeaders are the headers vendor's API wants besides the bearer token;
// data is the creds/<name> response data (AlphaSense's api_key comes with
// the token).
func apiHeaders(vendor string, data map[string]any) http.Header {
	h := http.Header{}
	switch vendor {
	case vendorsim.AlphaSense:
		if k, ok := data["api_key"].(string); ok {
			h.Set("x-api-key", k)
		}
	case vendorsim.ModelPortfolio:
		h.Set("Accept", "application/json; version=1.0.0")
	}
	return h
}
