package oauthvendor

import (
	"context"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// TestRotatingRefreshSchedules extends the randomized schedules to
// rotating refresh tokens: seeded schedules of concurrent reads, rotates,
// periodic passes, clock jumps, config writes (a request field, which
// drops the access token, and a lease field, which does not), token
// invalidations, vendor 503s and storage refusing Puts and Gets of
// refresh/, token/ and status/, against a vendor that rotates strictly
// and revokes a grant on any reuse. Run with -race. It holds that no
// refresh token is ever sent twice (or sent unissued), and that none is
// dropped while valid: once storage works again, the token the plugin
// holds is the vendor's one valid token, and reads serve.
func TestRotatingRefreshSchedules(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		runRotatingSchedule(t, seed)
		if t.Failed() {
			t.Fatalf("seed %d failed", seed)
		}
	}
}

func runRotatingSchedule(t *testing.T, seed uint64) {
	rng := mrand.New(mrand.NewPCG(seed, 0x5eed))
	fs := &faultyStorage{}
	env := newConsentEnv(t, fs)
	env.v.lifetime = []time.Duration{5 * time.Minute, time.Hour}[rng.IntN(2)]
	env.write("config/xero", authCodeConfig("xero"))
	env.consent("xero")
	ctx := context.Background()
	prefixes := []string{"", "", refreshPrefix, tokenPrefix, statusPrefix}
	// Each op gets its random draw when picked: ops then run concurrently
	// without sharing the generator.
	ops := []func(r uint64){
		func(uint64) { env.do(logical.ReadOperation, "creds/xero", nil) },
		func(uint64) { env.do(logical.ReadOperation, "creds/xero", nil) },
		func(uint64) { env.do(logical.UpdateOperation, "rotate/xero", nil) },
		func(uint64) { env.b.periodic(ctx, &logical.Request{Storage: fs}) },
		func(r uint64) { env.clock.Advance(time.Duration(r % uint64(env.v.lifetime))) },
		func(r uint64) { fs.failPut.Store(prefixes[r%uint64(len(prefixes))]) },
		func(r uint64) { fs.failGet.Store(prefixes[r%uint64(len(prefixes)-1)]) },
		func(r uint64) { env.v.set(func(v *codeVendor) { v.failNext = int(r % 3) }) },
		func(uint64) { env.b.invalidate(ctx, tokenPrefix+"xero") },
		func(r uint64) {
			env.do(logical.UpdateOperation, "config/xero", map[string]interface{}{"verify": false, "max_ttl": int(r % 600)})
		},
		func(r uint64) {
			env.do(logical.UpdateOperation, "config/xero", map[string]interface{}{"verify": false,
				"scopes": []string{"offline_access,read", "offline_access,read,write"}[r%2]})
		},
	}
	for range 40 {
		var wg sync.WaitGroup
		for range 2 + rng.IntN(5) {
			op, r := ops[rng.IntN(len(ops))], rng.Uint64()
			wg.Add(1)
			go func() {
				defer wg.Done()
				op(r)
			}()
		}
		wg.Wait()
	}
	fs.failPut.Store("")
	fs.failGet.Store("")
	env.v.set(func(v *codeVendor) { v.failNext = 0 })
	env.b.periodic(ctx, &logical.Request{Storage: fs})
	rec, err := loadRefresh(ctx, fs, "xero")
	env.v.get(func(v *codeVendor) {
		if v.replays != 0 || v.unknownSent != 0 {
			t.Errorf("seed %d: %d refresh tokens sent twice, %d never issued", seed, v.replays, v.unknownSent)
		}
		if err != nil || rec == nil || v.revoked[v.family[rec.Current]] || v.current[v.family[rec.Current]] != rec.Current {
			t.Errorf("seed %d: storage holds %v (%v), not the vendor's one valid token", seed, rec, err)
		}
	})
	if _, ok := env.b.pending.Load("xero"); ok {
		t.Errorf("seed %d: a refresh token still only in memory after storage recovered", seed)
	}
	env.clock.Advance(env.v.lifetime)
	if _, err := env.do(logical.ReadOperation, "creds/xero", nil); err != nil {
		t.Errorf("seed %d: read after recovery: %v", seed, err)
	}
	if st := env.read("status/xero").Data["state"]; st == "needs-consent" || strings.Contains(env.logs.String(), "needs consent") {
		t.Errorf("seed %d: a refresh token was lost (needs-consent)", seed)
	}
}
