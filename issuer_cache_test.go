package oauthvendor

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
)

// midReadStorage answers one Get of oidc/config with the record as it was,
// after letting a newer record land and its invalidation run (what a
// standby sees when the active node's oidc/config write replicates while
// it reads).
type midReadStorage struct {
	logical.InmemStorage
	during atomic.Pointer[func()]
}

func (s *midReadStorage) Get(ctx context.Context, key string) (*logical.StorageEntry, error) {
	old, err := s.InmemStorage.Get(ctx, key)
	if f := s.during.Load(); key == oidcConfigKey && f != nil && s.during.CompareAndSwap(f, nil) {
		(*f)()
	}
	return old, err
}

// TestIssuerCacheFollowsInvalidation: a node whose read of oidc/config
// returned the record from before a write that narrowed
// allowed_token_hosts, the write's invalidation landing during that read,
// does not keep the old record cached (it would sign for the hosts the
// write removed until the next oidc/config write or a restart).
func TestIssuerCacheFollowsInvalidation(t *testing.T) {
	s := &midReadStorage{}
	env := newTestEnvWith(t, s, newFakeClock())
	env.write("oidc/config", map[string]interface{}{"issuer": testIssuer, allowedTokenHostsField: "old.example.com,new.example.com"})
	// What the active node writes: the same record, narrowed.
	rec, err := loadIssuer(context.Background(), env.storage)
	if err != nil || rec == nil {
		t.Fatalf("oidc/config: %v %v", rec, err)
	}
	rec.AllowedTokenHosts = []string{"new.example.com"}

	ctx := context.Background()
	env.b.invalidate(ctx, oidcConfigKey) // this node reads storage at the next use
	replicate := func() {
		if err := putJSON(ctx, &s.InmemStorage, oidcConfigKey, "oidc/config", rec); err != nil {
			t.Error(err)
		}
		env.b.invalidate(ctx, oidcConfigKey)
	}
	s.during.Store(&replicate)
	st, err := env.b.issuerState(ctx, env.storage)
	if err != nil || st == nil {
		t.Fatalf("issuerState: %v %v", st, err)
	}
	if got := strings.Join(st.rec.AllowedTokenHosts, ","); got != "new.example.com" {
		t.Errorf("the read during the write answered allowed_token_hosts %s, want new.example.com", got)
	}
	if cur := env.b.issuer.Load(); cur != nil && strings.Join(cur.rec.AllowedTokenHosts, ",") != "new.example.com" {
		t.Errorf("the cache kept allowed_token_hosts %v after the invalidation", cur.rec.AllowedTokenHosts)
	}
	if st, err = env.b.issuerState(ctx, env.storage); err != nil || st == nil {
		t.Fatalf("the next use: %v", err)
	}
	if got := strings.Join(st.rec.AllowedTokenHosts, ","); got != "new.example.com" {
		t.Errorf("the next use: allowed_token_hosts %s, want new.example.com", got)
	}
}
