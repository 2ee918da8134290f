//go:build e2e

package e2e

import (
	"sync"
	"testing"
	"time"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/vendorsim"
)

// 50 readers arriving together at a config with no token yet: the vendor
// sees one token request and every reader gets that token.
func TestColdReadersShareOneGrant(t *testing.T) {
	const (
		name    = "agentsync-burst"
		vendor  = vendorsim.AgentSync
		readers = 50
	)
	configureVendor(t, name, vendor, nil)
	// A slow vendor keeps the first grant in flight while the others
	// arrive, so they must wait for it rather than find it cached.
	env.sim.setKnobs(t, vendor, map[string]any{"latency": "1s"})
	before := env.sim.tokenRequests(t, vendor)

	var (
		wg     sync.WaitGroup
		start  = make(chan struct{})
		tokens = make([]string, readers)
		errs   = make([]error, readers)
	)
	for i := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			s, err := env.vault.Logical().Read(mountPath + "/creds/" + name)
			if err != nil {
				errs[i] = err
				return
			}
			tokens[i], _ = s.Data["access_token"].(string)
		}()
	}
	began := time.Now()
	close(start)
	wg.Wait()
	took := time.Since(began)

	distinct := map[string]int{}
	for i := range readers {
		if errs[i] != nil {
			t.Errorf("reader %d: %v", i, errs[i])
			continue
		}
		distinct[tokens[i]]++
	}
	if len(distinct) != 1 {
		t.Errorf("readers got %d distinct tokens, want 1", len(distinct))
	}
	got := env.sim.tokenRequests(t, vendor) - before
	if got != 1 {
		t.Errorf("%d cold readers caused %d vendor token requests, want 1", readers, got)
	}
	for tok := range distinct {
		if !env.sim.valid(t, vendor, tok) {
			t.Errorf("the shared token is not valid at the simulator")
		}
	}
	t.Logf("%d concurrent cold reads in %s (vendor latency 1s): %d token request(s)", readers, took.Round(time.Millisecond), got)
}
