package oauthvendor

import (
	"net/http/httptest"
	"testing"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/vendorsim"
)

// simEnv is a backend wired to an in-process vendor simulator that shares
// the test's clock, so tokens expire at the vendor when the test says.
type simEnv struct {
	*testEnv
	sim *vendorsim.Sim
	srv *httptest.Server
}

func newSimEnv(t *testing.T) *simEnv {
	t.Helper()
	env := newTestEnv(t)
	return attachSim(env)
}

func attachSim(env *testEnv) *simEnv {
	sim := vendorsim.New()
	sim.SetClock(env.clock.Now)
	srv := httptest.NewServer(sim)
	env.t.Cleanup(srv.Close)
	return &simEnv{testEnv: env, sim: sim, srv: srv}
}

// seedConfig is how an operator configures each seed vendor: four through
// their presets, the model-portfolio API (page 001) through generic fields.
func seedConfig(vendor, base string) map[string]interface{} {
	c := vendorsim.DefaultCredentials(vendor)
	cfg := map[string]interface{}{}
	switch vendor {
	case vendorsim.AlphaSense:
		cfg = map[string]interface{}{"preset": "alphasense", "client_id": c.ClientID, "client_secret": c.ClientSecret,
			"username": c.Username, "password": c.Password, "api_key": c.APIKey}
	case vendorsim.AlertSite:
		cfg = map[string]interface{}{"preset": "alertsite", "username": c.Username, "password": c.Password}
	case vendorsim.Alation:
		// A bare instance URL: the preset completes /oauth/v2/token/.
		cfg = map[string]interface{}{"preset": "alation", "client_id": c.ClientID, "client_secret": c.ClientSecret}
		cfg["token_url"] = base + "/alation"
		return cfg
	case vendorsim.AgentSync:
		cfg = map[string]interface{}{"preset": "agentsync", "client_id": c.ClientID, "client_secret": c.ClientSecret}
	case vendorsim.ModelPortfolio:
		cfg = map[string]interface{}{"grant_type": "client_credentials", "body_format": "json",
			"headers":     map[string]interface{}{"Accept": "application/json; version=1.0.0"},
			"token_field": "accessToken", "expires_in_field": "expiresIn",
			"client_id": c.ClientID, "client_secret": c.ClientSecret}
	}
	cfg["token_url"] = base + vendorsim.TokenPath(vendor)
	return cfg
}

// configure writes the vendor's seed config under the vendor's name, with
// extra fields on top.
func (e *simEnv) configure(vendor string, extra map[string]interface{}) {
	e.t.Helper()
	cfg := seedConfig(vendor, e.srv.URL)
	for k, v := range extra {
		cfg[k] = v
	}
	e.write("config/"+vendor, cfg)
}

func (e *simEnv) tokenRequests(vendor string) int { return e.sim.Stats(vendor).TokenRequests }

// secretsOf lists the vendor's write-only values, for leak checks.
func secretsOf(vendor string) []string {
	c := vendorsim.DefaultCredentials(vendor)
	var out []string
	for _, s := range []string{c.ClientSecret, c.Password, c.APIKey} {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
