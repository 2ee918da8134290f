//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/vendorsim"
)

// A private_key_jwt key rotates with no failed read, against a vendor that
// caches the client's jwks_uri as oidc-provider does: it keeps a fetched
// JWKS for max(60 s, Cache-Control max-age, Expires) and refetches only
// when an assertion's kid is unknown and that time has passed
// (lib/models/client.js ClientKeyStore.refresh, lib/helpers/jwt.js
// verify). A new key therefore signs only once the vendor has seen it, and
// until then the old one keeps signing.
func TestOIDCKeyRotation(t *testing.T) {
	steps := map[string]func(t *testing.T, name string) string{
		"auto":           rotateKeyAuto,
		"publish-switch": rotateKeyPublishSwitch,
	}
	var clients []map[string]any
	for step := range steps {
		clients = append(clients, jwksURIClient("e2e-rot-"+step, vaultJWKSURL("oidc-rot-"+step)))
	}
	srv := startOIDC(t, oidcConfig{Clients: clients})
	for step, rotate := range steps {
		t.Run(step, func(t *testing.T) {
			// Each waits out oidc-provider's JWKS cache (a minute): in
			// parallel, the two wait once. Neither counts simulator
			// traffic.
			t.Parallel()
			name, clientID := "oidc-rot-"+step, "e2e-rot-"+step
			writeConfig(t, name, map[string]any{"token_url": srv.tokenURL(), "client_auth": "private_key_jwt",
				"client_id": clientID})
			// The first grant makes oidc-provider fetch (and cache) the JWKS.
			srv.mustBeActive(t, accessToken(t, readCreds(t, name)), clientID)
			old := onlyKid(t, name)

			r := startReaders(t, name)
			newKid := rotate(t, name)
			r.finish(t)

			if newKid == old {
				t.Fatalf("rotate-key left kid %s signing", old)
			}
			if got := onlyKid(t, name); got != newKid {
				t.Fatalf("jwks/%s after the rotation: kid %s, want only the new %s", name, got, newKid)
			}
			// The new key signs: a grant now is one oidc-provider accepts
			// with the new key only.
			grantTwice(t, srv, name, clientID)
		})
	}
}

// rotateKeyAuto is `vault write -f oauthvendor/rotate-key/<name>`: publish
// and switch in one. oidc-provider refuses it while its JWKS cache is
// fresh, as it is within a minute of the first grant (then both keys stay
// published and step=switch finishes it later); a vendor that refetches at
// once takes it in one call (TestRotateKeyAutoRefetchingVendor).
func rotateKeyAuto(t *testing.T, name string) string {
	s, err := rotateKey(name, nil)
	if err == nil {
		return kidField(t, s, "current_kid")
	}
	if !strings.Contains(err.Error(), "step=switch") {
		t.Fatalf("rotate-key/%s refused without pointing to step=switch: %v", name, err)
	}
	noSecrets(t, "rotate-key's error", err.Error())
	if n := len(readPublicJWKS(t, name).Keys); n != 2 {
		t.Fatalf("jwks/%s while the switch is pending: %d keys, want the old and the new", name, n)
	}
	return kidField(t, switchWhenAccepted(t, name), "current_kid")
}

// rotateKeyPublishSwitch is the runbook for vendors where the operator
// uploads the public key: publish (the current key keeps signing), upload,
// switch.
func rotateKeyPublishSwitch(t *testing.T, name string) string {
	old := onlyKid(t, name)
	s, err := rotateKey(name, map[string]any{"step": "publish"})
	if err != nil {
		t.Fatalf("rotate-key/%s step=publish: %v", name, err)
	}
	next := kidField(t, s, "next_kid")
	if kidField(t, s, "current_kid") != old || next == old {
		t.Fatalf("step=publish: want current_kid %s and a new next_kid, got %v", old, s.Data)
	}
	for _, field := range []string{"next_public_key", "next_jwk"} {
		if s.Data[field] == nil {
			t.Errorf("step=publish answers no %s: keys %v", field, keys(s.Data))
		}
	}
	if jwk, ok := s.Data["next_jwk"].(map[string]any); ok {
		if jwk["kid"] != next {
			t.Errorf("step=publish: next_jwk kid %v, want %s", jwk["kid"], next)
		}
		for member := range jwk {
			if !publicJWKMembers[member] {
				t.Errorf("step=publish: jwk member %q is not a public one", member)
			}
		}
	}
	if pemText, _ := s.Data["next_public_key"].(string); strings.Contains(pemText, "PRIVATE") || !strings.Contains(pemText, "PUBLIC KEY") {
		t.Errorf("step=publish answers private material")
	}
	set := readPublicJWKS(t, name)
	if len(set.Keys) != 2 || len(set.Key(old)) != 1 || len(set.Key(next)) != 1 {
		t.Fatalf("jwks/%s after step=publish: want %s and %s, got %+v", name, old, next, set.Keys)
	}
	if got := kidField(t, switchWhenAccepted(t, name), "current_kid"); got != next {
		t.Fatalf("step=switch: current_kid %s, want the published %s", got, next)
	}
	return next
}

// A published key can be dropped before it ever signs.
func TestOIDCKeyRotationCancel(t *testing.T) {
	writeConfig(t, "oidc-rot-cancel", map[string]any{"token_url": "http://127.0.0.1:1/token",
		"client_auth": "private_key_jwt", "client_id": "e2e-rot-cancel"})
	old := onlyKid(t, "oidc-rot-cancel")
	if _, err := rotateKey("oidc-rot-cancel", map[string]any{"step": "publish"}); err != nil {
		t.Fatalf("step=publish: %v", err)
	}
	s, err := rotateKey("oidc-rot-cancel", map[string]any{"step": "cancel"})
	if err != nil {
		t.Fatalf("step=cancel: %v", err)
	}
	if kidField(t, s, "current_kid") != old || s.Data["next_kid"] != nil {
		t.Errorf("step=cancel: want current_kid %s and no next_kid, got %v", old, s.Data)
	}
	if got := onlyKid(t, "oidc-rot-cancel"); got != old {
		t.Errorf("jwks after step=cancel: %s, want only %s", got, old)
	}
}

func rotateKey(name string, data map[string]any) (*api.Secret, error) {
	return env.vault.Logical().Write(mountPath+"/rotate-key/"+name, data)
}

// switchWhenAccepted retries step=switch until the vendor accepts the new
// key: oidc-provider refetches the JWKS on an unknown kid only after its
// cache (60 s) is stale. Each refused try leaves the old key signing.
func switchWhenAccepted(t *testing.T, name string) *api.Secret {
	t.Helper()
	deadline := time.Now().Add(4 * time.Minute)
	for try := 1; ; try++ {
		s, err := rotateKey(name, map[string]any{"step": "switch"})
		if err == nil {
			t.Logf("rotate-key/%s step=switch accepted on try %d", name, try)
			return s
		}
		noSecrets(t, "step=switch's error", err.Error())
		if time.Now().After(deadline) {
			t.Fatalf("rotate-key/%s step=switch still refused after %d tries: %v", name, try, err)
		}
		time.Sleep(5 * time.Second)
	}
}

func kidField(t *testing.T, s *api.Secret, field string) string {
	t.Helper()
	if s == nil {
		t.Fatalf("no answer where %s was expected", field)
	}
	kid, _ := s.Data[field].(string)
	if kid == "" {
		t.Fatalf("answer without %s: %v", field, s.Data)
	}
	return kid
}

// onlyKid is the kid of the single key jwks/<name> publishes.
func onlyKid(t *testing.T, name string) string {
	t.Helper()
	set := readPublicJWKS(t, name)
	if len(set.Keys) != 1 {
		t.Fatalf("jwks/%s: %d keys, want 1", name, len(set.Keys))
	}
	return set.Keys[0].KeyID
}

// readers read creds/<name> in a loop, and force a grant (rotate/<name>)
// in another, while a key rotates: every read and every grant must
// succeed, whichever key signs it.
type readers struct {
	stop   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	errs   []string
	reads  int
	grants int
}

// maxReaderLoops bounds each loop whatever happens to the rotation.
const maxReaderLoops = 5000

func startReaders(t *testing.T, name string) *readers {
	return startReaderLoops(t, name, 2)
}

// startReaderLoops starts n read loops (every 50 ms each) and one grant
// loop (every second) on creds/<name>.
func startReaderLoops(t *testing.T, name string, n int) *readers {
	r := &readers{stop: make(chan struct{})}
	loop := func(what string, pause time.Duration, op func() error, count *int) {
		defer r.wg.Done()
		for i := 0; i < maxReaderLoops; i++ {
			select {
			case <-r.stop:
				return
			case <-time.After(pause):
			}
			err := op()
			r.mu.Lock()
			*count++
			if err != nil {
				r.errs = append(r.errs, fmt.Sprintf("%s %d: %v", what, *count, err))
			}
			r.mu.Unlock()
		}
	}
	read := func() error {
		s, err := env.vault.Logical().Read(mountPath + "/creds/" + name)
		if err == nil && (s == nil || s.Data["access_token"] == nil) {
			err = fmt.Errorf("no access_token")
		}
		return err
	}
	grant := func() error {
		_, err := env.vault.Logical().Write(mountPath+"/rotate/"+name, nil)
		return err
	}
	r.wg.Add(n + 1)
	for range n {
		go loop("read", 50*time.Millisecond, read, &r.reads)
	}
	go loop("grant", time.Second, grant, &r.grants)
	t.Cleanup(r.halt)
	return r
}

// counts are the reads and grants done so far.
func (r *readers) counts() (reads, grants int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reads, r.grants
}

func (r *readers) halt() {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	r.wg.Wait()
}

func (r *readers) finish(t *testing.T) {
	t.Helper()
	r.halt()
	r.mu.Lock()
	defer r.mu.Unlock()
	t.Logf("during the rotation: %d reads, %d grants, %d failed", r.reads, r.grants, len(r.errs))
	if len(r.errs) > 0 {
		t.Fatalf("failed during the rotation:\n%s", strings.Join(r.errs[:min(len(r.errs), 10)], "\n"))
	}
	if r.reads == 0 || r.grants == 0 {
		t.Fatalf("the readers did not run: %d reads, %d grants", r.reads, r.grants)
	}
}

// rotate-key step=auto passes in one call against a vendor that refetches
// the JWKS when an assertion's kid is unknown (the simulator's
// private_key_jwt mode, which has no minimum cache time): the verifying
// grant makes the vendor fetch jwks/<name> from Vault, which must answer
// with the published key while rotate-key still holds the config (issue
// 17.1: it waited on the grant, so the vendor refused and the call took
// the whole grant timeout).
func TestRotateKeyAutoRefetchingVendor(t *testing.T) {
	const name = "sim-rot-auto"
	vendor := vendorsim.AgentSync
	writeConfig(t, name, map[string]any{"token_url": env.sim.tokenURL(vendor), "client_auth": "private_key_jwt",
		"client_id": env.creds[vendor].ClientID})
	env.sim.setKnobs(t, vendor, map[string]any{"jwks_url": vaultJWKSURL(name)})
	fetches := func() int { return env.sim.stats(t, vendor).JWKSFetches }
	before := fetches()
	if tok := accessToken(t, readCreds(t, name)); !env.sim.valid(t, vendor, tok) {
		t.Fatal("the first grant's token is not one the simulator issued")
	}
	if got := fetches() - before; got != 1 {
		t.Fatalf("the first grant made the vendor fetch the JWKS %d times, want 1", got)
	}
	old := onlyKid(t, name)

	start := time.Now()
	s, err := rotateKey(name, nil)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("rotate-key/%s step=auto refused by a vendor that refetches the JWKS (after %s): %v", name, took, err)
	}
	newKid := kidField(t, s, "current_kid")
	if newKid == old || s.Data["expires_at"] == nil {
		t.Fatalf("step=auto answered %v (old kid %s)", s.Data, old)
	}
	if took > 10*time.Second {
		t.Errorf("step=auto took %s: the vendor's JWKS fetch waited", took)
	}
	if got := fetches() - before; got != 2 {
		t.Errorf("the vendor fetched the JWKS %d times, want 2 (the first grant, the new kid)", got)
	}
	if got := onlyKid(t, name); got != newKid {
		t.Fatalf("jwks/%s after step=auto: kid %s, want only the new %s", name, got, newKid)
	}
	// The new key signs the next grants, from the vendor's kept JWKS.
	for i := 1; i <= 2; i++ {
		if _, err := env.vault.Logical().Write(mountPath+"/rotate/"+name, nil); err != nil {
			t.Fatalf("grant %d after the rotation: %v", i, err)
		}
	}
	if tok := accessToken(t, readCreds(t, name)); !env.sim.valid(t, vendor, tok) {
		t.Fatal("after the rotation the served token is not one the simulator issued")
	}
	if got := fetches() - before; got != 2 {
		t.Errorf("grants after the rotation refetched the JWKS (%d fetches in all, want 2)", got)
	}
}
