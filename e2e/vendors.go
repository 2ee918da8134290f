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
// out: presets where the plugin has one, the generic engine spelled out for
// the model-portfolio API, which has none.
func operatorConfig(t testing.TB, vendor string) map[string]any {
	t.Helper()
	c := env.creds[vendor]
	base := env.sim.base
	switch vendor {
	case vendorsim.AlphaSense:
		return map[string]any{
			"preset": "alphasense", "token_url": base + vendorsim.AlphaSenseTokenPath,
			"client_id": c.ClientID, "client_secret": c.ClientSecret,
			"username": c.Username, "password": c.Password, "api_key": c.APIKey,
			// The search API wants the key on every call: apps get it with the token.
			"api_key_in_creds": true,
		}
	case vendorsim.AlertSite:
		return map[string]any{
			"preset": "alertsite", "token_url": base + vendorsim.AlertSiteTokenPath,
			"username": c.Username, "password": c.Password,
		}
	case vendorsim.Alation:
		// The instance's base URL: the preset completes /oauth/v2/token/.
		return map[string]any{
			"preset": "alation", "token_url": base + "/alation",
			"client_id": c.ClientID, "client_secret": c.ClientSecret,
		}
	case vendorsim.AgentSync:
		return map[string]any{
			"preset": "agentsync", "token_url": base + vendorsim.AgentSyncTokenPath,
			"client_id": c.ClientID, "client_secret": c.ClientSecret,
		}
	case vendorsim.ModelPortfolio:
		return map[string]any{
			"token_url": base + vendorsim.ModelPortfolioTokenPath, "grant_type": "client_credentials",
			"body_format": "json", "headers": []string{"Accept=application/json; version=1.0.0"},
			"token_field": "accessToken", "expires_in_field": "expiresIn",
			"client_id": c.ClientID, "client_secret": c.ClientSecret,
		}
	}
	t.Fatalf("no operator config for vendor %q", vendor)
	return nil
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
