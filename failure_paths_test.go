package oauthvendor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

type fakeEnv struct {
	*testEnv
	vendor *fakeVendor
}

func newFakeEnv(t *testing.T) *fakeEnv {
	return newFakeEnvWith(t, &logical.InmemStorage{}, newFakeClock())
}

func newFakeEnvWith(t *testing.T, s logical.Storage, clock *fakeClock) *fakeEnv {
	env := newTestEnvWith(t, s, clock)
	v := newFakeVendor(clock)
	v.install(env.b)
	return &fakeEnv{testEnv: env, vendor: v}
}

func (e *fakeEnv) configure(name, secret string) {
	e.t.Helper()
	e.write("config/"+name, fakeVendorConfig(name, secret))
}

func (e *fakeEnv) readErr(name string) error {
	_, err := e.do(logical.ReadOperation, "creds/"+name, nil)
	return err
}

func (e *fakeEnv) status(name string) map[string]interface{} {
	e.t.Helper()
	return e.read("status/" + name).Data
}

func TestRejectedCredentialsBackOff(t *testing.T) {
	env := newFakeEnv(t)
	env.configure("as", "wrong")
	env.vendor.setMode("as", vendorMode{status: 401, oauthError: "invalid_client"})
	var first string
	for i := range 20 { // 20 reads in 5 s
		err := env.readErr("as")
		if codedStatus(err) != 502 || !strings.Contains(err.Error(), "invalid_client") || !strings.Contains(err.Error(), "next attempt at") {
			t.Fatalf("read %d: %v, want the 502 naming invalid_client and the next attempt", i, err)
		}
		if i == 0 {
			first = err.Error()
		} else if err.Error() != first {
			t.Fatalf("read %d in the back-off got another error:\n%s\nwant\n%s", i, err, first)
		}
		env.clock.Advance(250 * time.Millisecond)
	}
	if n := len(env.vendor.requests("as")); n != 1 {
		t.Fatalf("20 reads in 5 s with rejected credentials made %d token requests, want 1", n)
	}
	st := env.status("as")
	if st["state"] != "backing-off" || st["consecutive_failures"] != 1 || st["next_attempt_at"] != rfc3339(newFakeClock().Now().Add(backoffRejected)) {
		t.Fatalf("status in the back-off: %v", st)
	}
	env.clock.Advance(backoffRejected) // the first back-off has passed
	_ = env.readErr("as")
	if n := len(env.vendor.requests("as")); n != 2 {
		t.Fatalf("after the back-off: %d requests, want 2", n)
	}
	if got := env.status("as")["next_attempt_at"]; got != rfc3339(env.clock.Now().Add(2*backoffRejected)) {
		t.Fatalf("second back-off ends %v, want twice the first", got)
	}
	// An operator's actions try at once.
	if _, err := env.do(logical.UpdateOperation, "rotate/as", nil); codedStatus(err) != 502 || len(env.vendor.requests("as")) != 3 {
		t.Fatalf("rotate in the back-off: %v after %d requests, want a new attempt", err, len(env.vendor.requests("as")))
	}
	env.vendor.setMode("as", vendorMode{})
	env.write("config/as", map[string]interface{}{"client_secret": "right"})
	env.read("creds/as")
	if reqs := env.vendor.requests("as"); len(reqs) != 4 || reqs[3].secret != "right" {
		t.Fatalf("a config write did not try again at once: %d requests", len(reqs))
	}
	if st := env.status("as"); st["state"] != "ok" || st["consecutive_failures"] != 0 || st["failures"] != uint64(3) || st["grants"] != uint64(1) {
		t.Fatalf("status after recovery: %v", st)
	}
}

func TestTransientBackoffGrowsToItsCap(t *testing.T) {
	env := newFakeEnv(t)
	env.configure("x", "s")
	env.vendor.setMode("x", vendorMode{status: 503})
	for n := 1; n <= 12; n++ {
		if err := env.readErr("x"); codedStatus(err) != 502 {
			t.Fatalf("failure %d: %v", n, err)
		}
		want := min(backoffTransient<<(n-1), backoffMax)
		if got := env.status("x")["next_attempt_at"]; got != rfc3339(env.clock.Now().Add(want)) {
			t.Fatalf("after failure %d the next attempt is %v, want in %s", n, got, want)
		}
		env.clock.Advance(want - time.Millisecond)
		_ = env.readErr("x")
		if len(env.vendor.requests("x")) != n {
			t.Fatalf("asked the vendor before the back-off of %s passed", want)
		}
		env.clock.Advance(time.Millisecond)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	env := newFakeEnv(t)
	env.configure("x", "s")
	env.vendor.setMode("x", vendorMode{status: 429, oauthError: "rate_limit_exceeded", retryAfter: "120"})
	_ = env.readErr("x")
	env.clock.Advance(119 * time.Second)
	_ = env.readErr("x")
	if n := len(env.vendor.requests("x")); n != 1 {
		t.Fatalf("asked again %d times inside Retry-After", n-1)
	}
	env.clock.Advance(time.Second)
	env.vendor.setMode("x", vendorMode{})
	env.read("creds/x")
}

func TestBackoffSurvivesRestart(t *testing.T) {
	env := newFakeEnv(t)
	env.configure("x", "s")
	env.vendor.setMode("x", vendorMode{status: 400, oauthError: "invalid_grant"})
	first := env.readErr("x")
	restarted := newFakeEnvWith(t, env.storage, env.clock)
	restarted.vendor = env.vendor
	env.vendor.install(restarted.b)
	env.clock.Advance(10 * time.Second)
	err := restarted.readErr("x")
	if codedStatus(err) != 502 || !strings.Contains(err.Error(), "invalid_grant") || len(env.vendor.requests("x")) != 1 {
		t.Fatalf("after a restart in the back-off: %v (first: %v), %d requests", err, first, len(env.vendor.requests("x")))
	}
}

// TestTokenAgesInTransit: a 12 s token whose answer takes 3 s to arrive
// must not be claimed past the vendor's own expiry.
func TestTokenAgesInTransit(t *testing.T) {
	env := newFakeEnv(t)
	env.configure("slow", "s")
	env.vendor.setMode("slow", vendorMode{lifetime: 12 * time.Second, transit: 3 * time.Second})
	resp := env.read("creds/slow")
	issued, _ := env.vendor.token(resp.Data["access_token"].(string))
	if resp.Data["expires_at"] != rfc3339(issued.expiresAt) {
		t.Fatalf("expires_at = %v, the vendor's expiry is %s", resp.Data["expires_at"], rfc3339(issued.expiresAt))
	}
	if end := env.clock.Now().Add(resp.Secret.TTL); end.After(issued.expiresAt) || resp.Secret.TTL < time.Second {
		t.Fatalf("lease of %s ends %s, after the token (%s)", resp.Secret.TTL, end, issued.expiresAt)
	}
}

// TestDeleteDuringGrantLeavesNothing: a delete that races a grant in
// flight waits for it, then removes everything; a config re-created under
// the name starts clean.
func TestDeleteDuringGrantLeavesNothing(t *testing.T) {
	for round := range 20 {
		env := newFakeEnv(t)
		env.configure("x", "s")
		env.vendor.setMode("x", vendorMode{hold: true})
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); _ = env.readErr("x") }()
		<-env.vendor.arrived
		go func() {
			defer wg.Done()
			if _, err := env.do(logical.DeleteOperation, "config/x", nil); err != nil {
				t.Errorf("delete: %v", err)
			}
		}()
		if round%2 == 0 {
			env.vendor.setMode("x", vendorMode{})
		}
		env.vendor.release("x")
		wg.Wait()
		keys, _ := logical.CollectKeys(context.Background(), env.storage)
		if len(keys) != 0 {
			t.Fatalf("round %d: after the delete storage holds %v", round, keys)
		}
		env.vendor.setMode("x", vendorMode{})
		env.configure("x", "t")
		env.read("creds/x")
		if st := env.status("x"); st["grants"] != uint64(1) || st["failures"] != uint64(0) {
			t.Fatalf("round %d: a re-created config starts with %v", round, st)
		}
	}
}

// TestConcurrentPartialWritesKeepEveryField: writes of one config are
// serialised, so neither of two concurrent partial writes is lost, and a
// secret rotation racing an unrelated write is never undone.
func TestConcurrentPartialWritesKeepEveryField(t *testing.T) {
	env := newFakeEnv(t)
	for round := range 30 {
		env.configure("x", "old")
		secret := fmt.Sprintf("new-%d", round)
		var wg sync.WaitGroup
		for _, data := range []map[string]interface{}{
			{"max_ttl": 60 + round}, {"scopes": "a,b"}, {"client_secret": secret}, {"headers": map[string]interface{}{"X-Round": "r"}},
		} {
			wg.Add(1)
			go func() { defer wg.Done(); env.write("config/x", data) }()
		}
		wg.Wait()
		cfg, err := loadConfig(context.Background(), env.storage, "x")
		if err != nil || cfg.MaxTTL != time.Duration(60+round)*time.Second || len(cfg.Scopes) != 2 || cfg.ClientSecret != secret || cfg.Headers["X-Round"] != "r" {
			t.Fatalf("round %d: a concurrent partial write lost a field: %+v", round, cfg)
		}
		env.read("creds/x")
		if reqs := env.vendor.requests("x"); reqs[len(reqs)-1].secret != secret {
			t.Fatalf("round %d: the vendor got secret %q, want the rotated one", round, reqs[len(reqs)-1].secret)
		}
		env.mustOK(logical.DeleteOperation, "config/x", nil)
	}
}

// TestFailedRotateDropsTheToken: API.md, rotate drops the cached token
// first; when the new grant fails, readers get the failure.
func TestFailedRotateDropsTheToken(t *testing.T) {
	env := newFakeEnv(t)
	env.configure("x", "s")
	env.read("creds/x")
	env.vendor.setMode("x", vendorMode{status: 503})
	if _, err := env.do(logical.UpdateOperation, "rotate/x", nil); codedStatus(err) != 502 {
		t.Fatalf("failed rotate: %v, want the vendor's 502", err)
	}
	if err := env.readErr("x"); codedStatus(err) != 502 || !strings.Contains(err.Error(), "next attempt at") {
		t.Fatalf("read after a failed rotate: %v, want the failure with its back-off", err)
	}
	if n := len(env.vendor.requests("x")); n != 2 {
		t.Fatalf("%d vendor requests, want 2 (the read and the rotate)", n)
	}
	if tok, _ := loadToken(context.Background(), env.storage, "x"); tok != nil {
		t.Fatal("the old token is still in storage after a rotate")
	}
}

// readOnlyStorage refuses writes the way a performance standby's (or an
// OpenBao 2.5+ standby's) storage view does, with no replication state
// telling the plugin.
type readOnlyStorage struct {
	logical.InmemStorage
	readOnly bool
}

func (s *readOnlyStorage) Put(ctx context.Context, e *logical.StorageEntry) error {
	if s.readOnly {
		return fmt.Errorf("put %s: %w", e.Key, logical.ErrReadOnly)
	}
	return s.InmemStorage.Put(ctx, e)
}

func TestReadOnlyStorageForwardsBeforeTheVendor(t *testing.T) {
	s := &readOnlyStorage{}
	env := newFakeEnvWith(t, s, newFakeClock())
	env.configure("x", "s")
	s.readOnly = true
	for _, op := range []struct {
		op   logical.Operation
		path string
	}{{logical.ReadOperation, "creds/x"}, {logical.UpdateOperation, "rotate/x"}} {
		_, err := env.do(op.op, op.path, nil)
		if err == nil || err.Error() != logical.ErrReadOnly.Error() {
			t.Fatalf("%s on a read-only node: %v, want exactly logical.ErrReadOnly", op.path, err)
		}
	}
	if n := len(env.vendor.requests("x")); n != 0 {
		t.Fatalf("a node that cannot store the token asked the vendor %d times", n)
	}
}

// TestCancelledReaderStopsWaiting: a reader that gives up returns at once;
// the grant goes on for the others and is not repeated.
func TestCancelledReaderStopsWaiting(t *testing.T) {
	env := newFakeEnv(t)
	env.configure("x", "s")
	env.vendor.setMode("x", vendorMode{hold: true})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := env.b.HandleRequest(ctx, &logical.Request{Operation: logical.ReadOperation, Path: "creds/x", Storage: env.storage})
		done <- err
	}()
	<-env.vendor.arrived
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled reader: %v", err)
	}
	other := make(chan *logical.Response, 1)
	go func() { other <- env.read("creds/x") }()
	env.vendor.release("x")
	if resp := <-other; resp.Data["access_token"] == nil || len(env.vendor.requests("x")) != 1 {
		t.Fatalf("after the cancelled reader the grant was not shared: %d requests", len(env.vendor.requests("x")))
	}
}

// TestTokenNearlyExpiredOnArrivalIsRefused: a 5 s token whose answer took
// 3 s has less than the minimum lease left; it is a vendor failure, not a
// lease of a second.
func TestTokenNearlyExpiredOnArrivalIsRefused(t *testing.T) {
	env := newFakeEnv(t)
	env.configure("slow", "s")
	env.vendor.setMode("slow", vendorMode{lifetime: 5 * time.Second, transit: 3 * time.Second})
	if err := env.readErr("slow"); codedStatus(err) != 502 || !strings.Contains(err.Error(), "nearly over") {
		t.Fatalf("read: %v, want a 502 saying the token arrived nearly expired", err)
	}
}

// TestBackoffAfterRestartServesEveryReaderTheValidToken: the back-off read
// back from storage keeps the still-valid token for every reader, not only
// the first.
func TestBackoffAfterRestartServesEveryReaderTheValidToken(t *testing.T) {
	env := newFakeEnv(t)
	env.configure("x", "s")
	tok := env.read("creds/x").Data["access_token"]
	env.clock.Advance(50 * time.Minute)
	env.vendor.setMode("x", vendorMode{status: 401, oauthError: "invalid_client"})
	env.read("creds/x") // the refresh fails: served stale, back-off stored
	restarted := newFakeEnvWith(t, env.storage, env.clock)
	env.vendor.install(restarted.b)
	for i := range 3 {
		resp := restarted.read("creds/x")
		if resp.Data["access_token"] != tok || len(resp.Warnings) != 1 {
			t.Fatalf("read %d after the restart: %v %v, want the cached token with a warning", i, resp.Data["access_token"], resp.Warnings)
		}
		env.clock.Advance(time.Second)
	}
	if n := len(env.vendor.requests("x")); n != 2 {
		t.Fatalf("%d vendor requests, want 2 (the first grant and the failed refresh)", n)
	}
}

// TestStorageFaultDuringRefreshServesTheValidToken: a failing status Put
// or token Get on the way to a refresh is no reason to take a still-valid
// token from readers; no grant runs.
func TestStorageFaultDuringRefreshServesTheValidToken(t *testing.T) {
	for _, fault := range []string{"put status", "get token"} {
		fs := &faultyStorage{}
		env := newFakeEnvWith(t, fs, newFakeClock())
		env.configure("x", "s")
		tok := env.read("creds/x").Data["access_token"]
		env.clock.Advance(50 * time.Minute) // inside the refresh window
		if fault == "put status" {
			fs.failPut.Store(statusPrefix)
		} else {
			fs.failGet.Store(tokenPrefix)
		}
		resp := env.read("creds/x")
		if resp.Data["access_token"] != tok || len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "storage") {
			t.Fatalf("%s: %v %v, want the cached token with a warning naming storage", fault, resp.Data["access_token"], resp.Warnings)
		}
		if n := len(env.vendor.requests("x")); n != 1 {
			t.Fatalf("%s: %d vendor requests, want no grant", fault, n)
		}
	}
}

// TestRejectedRefreshKeepsTheLongBackoff: with a still-valid token, a
// vendor refusing the credentials is still asked no more often than the
// rejected back-off allows (password grants lock accounts).
func TestRejectedRefreshKeepsTheLongBackoff(t *testing.T) {
	env := newFakeEnv(t)
	env.configure("x", "s")
	env.vendor.setMode("x", vendorMode{lifetime: 5 * time.Minute})
	env.read("creds/x")
	env.vendor.setMode("x", vendorMode{status: 401, oauthError: "invalid_client"})
	env.clock.Advance(3 * time.Minute) // the 2 min refresh window opens
	for range 110 {
		_, _ = env.do(logical.ReadOperation, "creds/x", nil)
		env.clock.Advance(time.Second)
	}
	if n := len(env.vendor.requests("x")) - 1; n > 3 {
		t.Fatalf("110 reads in the window made %d refusing requests, want at most 3 (30 s, then 60 s apart)", n)
	}
}
