package oauthvendor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/helper/consts"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/vendorsim"
)

// faultyStorage injects failures into InmemStorage by key prefix.
type faultyStorage struct {
	logical.InmemStorage
	failPut, failGet, failDelete, failList atomic.Value // string prefix; "" = none
}

var errInjected = errors.New("injected storage failure")

func (s *faultyStorage) fails(v *atomic.Value, key string) bool {
	p, _ := v.Load().(string)
	return p != "" && strings.HasPrefix(key, p)
}

func (s *faultyStorage) Put(ctx context.Context, e *logical.StorageEntry) error {
	if s.fails(&s.failPut, e.Key) {
		return errInjected
	}
	return s.InmemStorage.Put(ctx, e)
}

func (s *faultyStorage) Get(ctx context.Context, key string) (*logical.StorageEntry, error) {
	if s.fails(&s.failGet, key) {
		return nil, errInjected
	}
	return s.InmemStorage.Get(ctx, key)
}

func (s *faultyStorage) List(ctx context.Context, prefix string) ([]string, error) {
	if s.fails(&s.failList, prefix) {
		return nil, errInjected
	}
	return s.InmemStorage.List(ctx, prefix)
}

func (s *faultyStorage) Delete(ctx context.Context, key string) error {
	if s.fails(&s.failDelete, key) {
		return errInjected
	}
	return s.InmemStorage.Delete(ctx, key)
}

// TestRecreatedAfterFailedDeleteStartsClean: a delete that fails after
// removing the config leaves the old status behind; a config created
// under the name must not inherit its counts or last_error (found by
// TestRandomizedSchedulesSerial, seed 20).
func TestRecreatedAfterFailedDeleteStartsClean(t *testing.T) {
	env, fs := newFaultyEnv(t)
	env.configure(vendorsim.AgentSync, nil)
	env.read("creds/agentsync")
	fs.failDelete.Store(tokenPrefix)
	if _, err := env.do(logical.DeleteOperation, "config/agentsync", nil); !errors.Is(err, errInjected) {
		t.Fatalf("delete with a failing token Delete: %v, want the storage error", err)
	}
	fs.failDelete.Store("")
	env.configure(vendorsim.AgentSync, map[string]interface{}{"verify": false})
	st := env.read("status/agentsync").Data
	if fmt.Sprint(st["grants"], st["failures"]) != "0 0" || st["last_error"] != nil && st["last_error"] != "" {
		t.Fatalf("re-created config's status: grants %v failures %v last_error %v, want a clean start", st["grants"], st["failures"], st["last_error"])
	}
	if e, _ := fs.Get(context.Background(), tokenPrefix+"agentsync"); e != nil {
		t.Fatal("the old config's token survived into the new one")
	}
}

func newFaultyEnv(t *testing.T) (*simEnv, *faultyStorage) {
	fs := &faultyStorage{}
	return attachSim(newTestEnvWith(t, fs, newFakeClock())), fs
}

func TestFailingPutDoesNotHandOutToken(t *testing.T) {
	env, fs := newFaultyEnv(t)
	env.configure(vendorsim.AgentSync, nil)
	fs.failPut.Store(tokenPrefix)
	_, err := env.do(logical.ReadOperation, "creds/agentsync", nil)
	if !errors.Is(err, errInjected) {
		t.Fatalf("read with a failing Put: %v, want the storage error (not an error response)", err)
	}
	if e := env.b.cached("agentsync"); e != nil && e.tok.Load() != nil {
		t.Fatal("a token that could not be stored is cached in memory")
	}
	if _, err := env.do(logical.ReadOperation, "creds/agentsync", nil); !errors.Is(err, errInjected) || env.tokenRequests(vendorsim.AgentSync) != 1 {
		t.Fatalf("a read in the back-off: %v after %d vendor requests, want the same error and no new request", err, env.tokenRequests(vendorsim.AgentSync))
	}
	if st := env.read("status/agentsync").Data; st["failures"] != uint64(1) || st["grants"] != uint64(0) {
		t.Fatalf("status after a token that could not be cached: %v", st)
	}
	fs.failPut.Store("")
	env.clock.Advance(time.Second)
	tok := env.read("creds/agentsync").Data["access_token"].(string)
	again := newTestEnvWith(t, fs, env.clock).read("creds/agentsync").Data["access_token"]
	if again != tok {
		t.Fatal("after recovery the served token is not the stored one")
	}
}

func TestFailingGetDoesNotMint(t *testing.T) {
	env, fs := newFaultyEnv(t)
	env.configure(vendorsim.AgentSync, nil)
	fs.failGet.Store(tokenPrefix)
	_, err := env.do(logical.ReadOperation, "creds/agentsync", nil)
	if !errors.Is(err, errInjected) {
		t.Fatalf("read with a failing Get: %v", err)
	}
	if n := env.tokenRequests(vendorsim.AgentSync); n != 0 {
		t.Fatalf("a failing Get minted (%d vendor requests)", n)
	}
	fs.failGet.Store(configPrefix)
	if _, err := env.do(logical.ReadOperation, "config/agentsync", nil); !errors.Is(err, errInjected) {
		t.Fatalf("config read with a failing Get: %v", err)
	}
}

// TestPerformanceStandbyForwards: a node that cannot write storage returns
// ErrReadOnly before calling the vendor, so Vault forwards the request to
// the active node; a cached token is still served locally.
func TestPerformanceStandbyForwards(t *testing.T) {
	env := newSimEnv(t)
	env.configure(vendorsim.AgentSync, nil)
	env.sys.ReplicationStateVal = consts.ReplicationPerformanceStandby
	_, err := env.do(logical.ReadOperation, "creds/agentsync", nil)
	if err == nil || err.Error() != logical.ErrReadOnly.Error() {
		t.Fatalf("standby miss: %v, want ErrReadOnly", err)
	}
	if env.tokenRequests(vendorsim.AgentSync) != 0 {
		t.Fatal("the standby called the vendor")
	}
	// The active node mints into the shared storage...
	active := newTestEnvWith(t, env.storage, env.clock)
	tok := active.read("creds/agentsync").Data["access_token"]
	// ...and the standby, told by Invalidate, serves it.
	env.b.invalidate(context.Background(), tokenPrefix+"agentsync")
	if got := env.read("creds/agentsync").Data["access_token"]; got != tok {
		t.Fatal("standby did not serve the replicated token")
	}
}

func TestStatus(t *testing.T) {
	env := newSimEnv(t)
	env.configure(vendorsim.AgentSync, nil)
	env.read("creds/agentsync")
	env.clock.Advance(50 * time.Minute)
	env.sim.SetKnobs(vendorsim.AgentSync, vendorsim.Knobs{Fault: vendorsim.FaultStatus, Status: 401})
	env.read("creds/agentsync") // refresh fails, cached token served
	st := env.read("status/agentsync").Data
	if st["grants"] != uint64(1) || st["failures"] != uint64(1) || st["token_cached"] != true {
		t.Fatalf("status = %v", st)
	}
	if !strings.Contains(st["last_error"].(string), "HTTP 401") || st["expires_at"] == "" || st["minted_at"] == "" {
		t.Fatalf("status = %v", st)
	}
	for k, v := range st {
		if s, ok := v.(string); ok && strings.HasPrefix(s, "eyJ") {
			t.Fatalf("status field %s holds the token", k)
		}
	}
}

func TestProactiveRefresh(t *testing.T) {
	env := newSimEnv(t)
	env.configure(vendorsim.AgentSync, nil) // 1 h: read window 15 m, proactive 17 m
	env.configure(vendorsim.Alation, nil)
	first := env.read("creds/agentsync").Data["access_token"]
	env.read("creds/alation")
	env.write("rotate/alation", nil) // a new token nobody has read yet
	req := &logical.Request{Storage: env.storage}

	env.clock.Advance(42 * time.Minute) // 18 m left: not due
	if err := env.b.periodic(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if env.tokenRequests(vendorsim.AgentSync) != 1 {
		t.Fatal("refreshed before the proactive window")
	}
	env.clock.Advance(2 * time.Minute) // 16 m left: due, still outside the read window
	if err := env.b.periodic(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if env.tokenRequests(vendorsim.AgentSync) != 2 {
		t.Fatalf("read token not refreshed proactively (%d requests)", env.tokenRequests(vendorsim.AgentSync))
	}
	if env.tokenRequests(vendorsim.Alation) != 2 {
		t.Fatalf("an unread token was refreshed (%d alation requests)", env.tokenRequests(vendorsim.Alation))
	}
	if got := env.read("creds/agentsync").Data["access_token"]; got == first || env.tokenRequests(vendorsim.AgentSync) != 2 {
		t.Fatal("reader after the proactive refresh did not get the new token without waiting")
	}
	// A second tick in the same cycle does nothing: the new token was just minted.
	if err := env.b.periodic(context.Background(), req); err != nil || env.tokenRequests(vendorsim.AgentSync) != 2 {
		t.Fatalf("second tick: %v, %d requests", err, env.tokenRequests(vendorsim.AgentSync))
	}
}
