//go:build e2e

package e2e

import (
	"errors"
	"testing"
	"time"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/vendorsim"
)

var errNotYet = errors.New("not yet")

// A vendor that does not answer holds up nobody else (issue 12): while a
// cold read of one config waits on its hanging token endpoint, a config
// at another endpoint of the same host (the simulator: one host, one
// shared connection pool) is written with verify, read cold and rotated,
// all before the hanging read gives up at its timeout.
func TestHungVendorDelaysNoOtherConfig(t *testing.T) {
	const hungName, okName = "iso-hung", "iso-healthy"
	configureVendor(t, hungName, vendorsim.AlertSite, map[string]any{"timeout": "15s"})
	env.sim.setKnobs(t, vendorsim.AlertSite, map[string]any{"fault": "hang"})
	before := env.sim.tokenRequests(t, vendorsim.AlertSite)

	hung := make(chan error, 1)
	go func() {
		_, err := env.vault.Logical().Read(mountPath + "/creds/" + hungName)
		hung <- err
	}()
	if _, err := eventually(30*time.Second, func() error {
		if env.sim.tokenRequests(t, vendorsim.AlertSite) == before {
			return errNotYet
		}
		return nil
	}); err != nil {
		t.Fatalf("the hanging request never reached the simulator: %v", err)
	}

	began := time.Now()
	if _, err := env.vault.Logical().Write(mountPath+"/config/"+okName, withVerify(operatorConfig(t, vendorsim.Alation), true)); err != nil {
		t.Fatalf("verified write of config/%s: %v", okName, err)
	}
	t.Cleanup(func() { _, _ = env.vault.Logical().Delete(mountPath + "/config/" + okName) })
	tok := accessToken(t, readCreds(t, okName))
	if _, err := env.vault.Logical().Write(mountPath+"/rotate/"+okName, nil); err != nil {
		t.Fatalf("rotate/%s: %v", okName, err)
	}
	if accessToken(t, readCreds(t, okName)) == tok {
		t.Errorf("rotate/%s did not replace the token", okName)
	}
	took := time.Since(began)
	select {
	case err := <-hung:
		t.Fatalf("the hanging read ended (%v) before the healthy config was done: the healthy one waited for it", err)
	default:
	}
	if err := <-hung; err == nil {
		t.Error("the hanging read succeeded")
	} else if code := responseError(t, err).StatusCode; code != 504 {
		t.Errorf("the hanging read: HTTP %d, want 504 (%v)", code, err)
	}
	t.Logf("while one vendor hung: a verified write, two reads and a rotate of another config in %s", took.Round(time.Millisecond))
}
