package oauthvendor

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/helper/consts"
	"github.com/hashicorp/vault/sdk/logical"
)

// TestRotatedRefreshTokenSurvivesFailingPut: storage refuses the rotated
// refresh token. The access token is still served, the new refresh token
// is kept in memory and is the one the next refresh sends (the vendor
// never sees a spent token), the Put is tried again at the next grant and
// stored at the first periodic pass once storage works; the old token
// stays in storage meanwhile (never the only valid one dropped).
func TestRotatedRefreshTokenSurvivesFailingPut(t *testing.T) {
	fs := &faultyStorage{}
	env := newConsentEnv(t, fs)
	env.write("config/xero", authCodeConfig("xero"))
	env.consent("xero")
	consented := env.heldRefreshToken("xero")

	fs.failPut.Store(refreshPrefix)
	for i := range 3 {
		env.clock.Advance(50 * time.Minute)
		got := env.read("creds/xero")
		if !strings.HasPrefix(got.Data["access_token"].(string), "at-") {
			t.Fatalf("refresh %d with storage refusing the refresh token: %v", i, got.Data)
		}
		if rec, _ := loadRefresh(context.Background(), fs, "xero"); rec == nil || rec.Current != consented {
			t.Fatalf("refresh %d: the stored refresh token changed or went while its Put fails: %v", i, rec)
		}
	}
	var vendorCurrent string
	env.v.get(func(v *codeVendor) {
		if v.refreshes != 3 || v.replays != 0 || v.unknownSent != 0 {
			t.Fatalf("vendor saw %d refreshes, %d replays, %d unknown tokens; want 3, 0, 0", v.refreshes, v.replays, v.unknownSent)
		}
		vendorCurrent = v.current[v.family[consented]]
	})
	if held := env.heldRefreshToken("xero"); held != vendorCurrent {
		t.Fatalf("memory holds %q, the vendor's valid token is %q", held, vendorCurrent)
	}
	if !strings.Contains(env.logs.String(), "kept in memory") {
		t.Error("no warning logged for the refresh token kept in memory")
	}
	fs.failPut.Store("")
	env.b.periodic(context.Background(), &logical.Request{Storage: fs})
	rec, _ := loadRefresh(context.Background(), fs, "xero")
	if rec == nil || rec.Current != vendorCurrent {
		t.Fatalf("after the periodic pass storage holds %v, want the vendor's valid token", rec)
	}
	if _, ok := env.b.pending.Load("xero"); ok {
		t.Fatal("the stored refresh token is still pending in memory")
	}
	// A restart (or a new leader) continues from storage with no replay.
	next := newTestEnvWith(t, fs, env.clock)
	env.v.install(next.b)
	env.clock.Advance(50 * time.Minute)
	next.read("creds/xero")
	env.v.get(func(v *codeVendor) {
		if v.replays != 0 || v.unknownSent != 0 || v.refreshes != 4 {
			t.Fatalf("after restart: %d refreshes, %d replays, %d unknown", v.refreshes, v.replays, v.unknownSent)
		}
	})
	env.assertNoSecrets(consented, vendorCurrent)
}

// TestRefreshServedWhenNothingCanBeStored: storage refuses the refresh
// token and the access token: the reader still gets the access token
// (with a warning), from memory; the next reader gets it from memory
// without a vendor request.
func TestRefreshServedWhenNothingCanBeStored(t *testing.T) {
	fs := &faultyStorage{}
	env := newConsentEnv(t, fs)
	env.write("config/xero", authCodeConfig("xero"))
	env.consent("xero")
	env.clock.Advance(50 * time.Minute)
	both := &prefixesFailing{faultyStorage: fs, prefixes: []string{refreshPrefix, tokenPrefix}}
	resp, err := env.b.HandleRequest(context.Background(), &logical.Request{Operation: logical.ReadOperation, Path: "creds/xero", Storage: both})
	if err != nil || resp.Data["access_token"] == nil || len(resp.Warnings) == 0 {
		t.Fatalf("read with token/ and refresh/ refused: %v %v", resp, err)
	}
	again, err := env.b.HandleRequest(context.Background(), &logical.Request{Operation: logical.ReadOperation, Path: "creds/xero", Storage: both})
	if err != nil || again.Data["access_token"] != resp.Data["access_token"] {
		t.Fatalf("second read: %v %v", again, err)
	}
	env.v.get(func(v *codeVendor) {
		if v.refreshes != 1 || v.replays != 0 {
			t.Fatalf("%d refreshes, %d replays; want 1, 0", v.refreshes, v.replays)
		}
	})
}

// prefixesFailing refuses Puts under any of prefixes.
type prefixesFailing struct {
	*faultyStorage
	prefixes []string
}

func (s *prefixesFailing) Put(ctx context.Context, e *logical.StorageEntry) error {
	for _, p := range s.prefixes {
		if strings.HasPrefix(e.Key, p) {
			return errInjected
		}
	}
	return s.faultyStorage.InmemStorage.Put(ctx, e)
}

// TestConsentOnStandbyForwards: a performance standby (replication state)
// and an OpenBao standby (storage refuses writes, no state says so)
// answer consent writes, the callback and a read that must refresh with
// logical.ErrReadOnly itself, before any vendor request, so Vault
// forwards them to the active node.
func TestConsentOnStandbyForwards(t *testing.T) {
	env := newConsentEnv(t, &logical.InmemStorage{})
	env.write("config/xero", authCodeConfig("xero"))
	redirect := env.v.approve(env.write("consent/xero", nil).Data["authorize_url"].(string))

	perf := newTestEnvWith(t, env.storage, env.clock)
	perf.sys.ReplicationStateVal = consts.ReplicationPerformanceStandby
	bao := newTestEnvWith(t, &refusingWrites{env.storage}, env.clock)
	for _, standby := range []*testEnv{perf, bao} {
		env.v.install(standby.b)
		for _, req := range []struct {
			op   logical.Operation
			path string
			data map[string]interface{}
		}{
			{logical.UpdateOperation, "consent/xero", nil},
			{logical.UpdateOperation, "consent/xero", map[string]interface{}{"code": redirect.Get("code")}},
			{logical.ReadOperation, "callback", map[string]interface{}{"code": redirect.Get("code"), "state": redirect.Get("state")}},
			{logical.ReadOperation, "callback", map[string]interface{}{"error": "access_denied", "state": redirect.Get("state")}},
		} {
			_, err := standby.do(req.op, req.path, req.data)
			if err == nil || err.Error() != logical.ErrReadOnly.Error() {
				t.Fatalf("%s %v on a standby: %v, want exactly logical.ErrReadOnly", req.path, req.data, err)
			}
		}
	}
	env.v.get(func(v *codeVendor) {
		if v.requests != 0 {
			t.Fatalf("standbys asked the vendor %d times", v.requests)
		}
	})
	// The consent is intact: the active node finishes it.
	if status, page := env.callback(redirect); status != 200 {
		t.Fatalf("callback on the active node after the standbys: %d %s", status, page)
	}
	// A standby read that needs a refresh forwards too.
	env.clock.Advance(50 * time.Minute)
	for _, standby := range []*testEnv{perf, bao} {
		if _, err := standby.do(logical.ReadOperation, "creds/xero", nil); err == nil || err.Error() != logical.ErrReadOnly.Error() {
			t.Fatalf("standby read needing a refresh: %v", err)
		}
	}
	env.v.get(func(v *codeVendor) {
		if v.refreshes != 0 {
			t.Fatalf("a standby refreshed %d times", v.refreshes)
		}
	})
}

// refusingWrites is an OpenBao standby's storage: reads work, writes and
// deletes are refused as read-only.
type refusingWrites struct{ logical.Storage }

func (s *refusingWrites) Put(_ context.Context, e *logical.StorageEntry) error {
	return fmt.Errorf("put %s: %w", e.Key, logical.ErrReadOnly)
}

func (s *refusingWrites) Delete(_ context.Context, key string) error {
	return fmt.Errorf("delete %s: %w", key, logical.ErrReadOnly)
}

// TestLostAnswerIsNeedsConsent: the vendor spends the refresh token but
// its answer never arrives (a 503 after the rotation). With no reuse
// window nothing can recover the new token: the next refresh sends the
// spent one, the vendor revokes the grant, and the loss is reported as
// needs-consent, never hidden behind retries.
func TestLostAnswerIsNeedsConsent(t *testing.T) {
	env := newConsentEnv(t, &logical.InmemStorage{})
	env.write("config/xero", authCodeConfig("xero"))
	env.consent("xero")
	env.v.set(func(v *codeVendor) { v.lostAnswer = true })
	env.clock.Advance(50 * time.Minute)
	if got := env.read("creds/xero"); len(got.Warnings) == 0 {
		t.Fatal("the failed refresh served the old token without a warning")
	}
	env.clock.Advance(5 * time.Minute) // past the transient back-off
	env.read("creds/xero")             // the spent token: revoked, still-valid token served
	if st := env.read("status/xero").Data["state"]; st != "needs-consent" {
		t.Fatalf("after a lost rotation and a revoked grant: state %v, want needs-consent", st)
	}
}

// TestRefusedAnswerKeepsItsRefreshToken: an answer whose access token is
// refused (a lifetime too short to serve) still carries the
// new refresh token, and the vendor has spent the old one: it is kept,
// and the next refresh sends it.
func TestRefusedAnswerKeepsItsRefreshToken(t *testing.T) {
	env := newConsentEnv(t, &logical.InmemStorage{})
	env.write("config/xero", authCodeConfig("xero"))
	env.consent("xero")
	env.clock.Advance(50 * time.Minute)
	env.v.set(func(v *codeVendor) { v.lifetime = 2 * time.Second })
	if got := env.read("creds/xero"); len(got.Warnings) == 0 { // the 2 s token refused, the old one served
		t.Fatalf("a 2 s token was not refused: %v", got.Data)
	}
	env.v.set(func(v *codeVendor) { v.lifetime = time.Hour })
	env.clock.Advance(5 * time.Second)
	env.read("creds/xero")
	env.v.get(func(v *codeVendor) {
		if v.refreshes != 2 || v.replays != 0 {
			t.Fatalf("%d refreshes, %d replays; want 2, 0", v.refreshes, v.replays)
		}
	})
	if st := env.read("status/xero").Data["state"]; st != "ok" {
		t.Fatalf("state %v", st)
	}
}
