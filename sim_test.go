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

// configure writes the vendor's seed config under the vendor's name, with
// extra fields on top.
func (e *simEnv) configure(vendor string, extra map[string]interface{}) {
	e.t.Helper()
	cfg := vendorsim.OperatorConfig(vendor, e.srv.URL, vendorsim.DefaultCredentials(vendor))
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
