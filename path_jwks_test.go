package oauthvendor

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
)

// opLogStorage records each storage operation and its key.
type opLogStorage struct {
	logical.InmemStorage
	mu  sync.Mutex
	ops []string
}

func (s *opLogStorage) record(op, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops = append(s.ops, op+" "+key)
}

func (s *opLogStorage) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.ops
	s.ops = nil
	return out
}

func (s *opLogStorage) Get(ctx context.Context, key string) (*logical.StorageEntry, error) {
	s.record("get", key)
	return s.InmemStorage.Get(ctx, key)
}

func (s *opLogStorage) Put(ctx context.Context, e *logical.StorageEntry) error {
	s.record("put", e.Key)
	return s.InmemStorage.Put(ctx, e)
}

func (s *opLogStorage) List(ctx context.Context, prefix string) ([]string, error) {
	s.record("list", prefix)
	return s.InmemStorage.List(ctx, prefix)
}

func (s *opLogStorage) Delete(ctx context.Context, key string) error {
	s.record("delete", key)
	return s.InmemStorage.Delete(ctx, key)
}

// TestJWKSSameStorageWorkForEveryName (issue 21.3): an unauthenticated
// jwks/ read does the same storage work (one read of the config record)
// for an absent name, a private_key_jwt config, another config, and a
// config whose in-memory entry is warm, on the first read and after it, so
// that its time tells no name from another. The 404s read alike too.
func TestJWKSSameStorageWorkForEveryName(t *testing.T) {
	s := &opLogStorage{}
	env := newTestEnvWith(t, s, newFakeClock())
	newFakeVendor(env.clock).install(env.b)
	env.write("config/app", jwtConfig("app", nil))
	env.write("config/plain", fakeVendorConfig("plain", "s3cret-value"))
	env.read("creds/app") // a warm entry: a cache hit before the fix
	env.read("creds/plain")
	s.take()
	for round := 1; round <= 2; round++ {
		for _, name := range []string{"app", "plain", "absent"} {
			resp, err := env.do(logical.ReadOperation, jwksPrefix+name, nil)
			want := 404
			if name == "app" {
				want = 200
			}
			if got := statusOf(resp, err); got != want {
				t.Fatalf("jwks/%s: HTTP %d (%v), want %d", name, got, err, want)
			}
			if err != nil && err.Error() != fmt.Sprintf("no JWKS for %q (no private_key_jwt or jwt_bearer connection of that name with a key of its own; one with assertion_source=issuer is verified against the mount's .well-known/keys)", name) {
				t.Fatalf("jwks/%s: %q tells the cases apart", name, err)
			}
			ops := s.take()
			if len(ops) != 1 || ops[0] != "get "+configPrefix+name {
				t.Fatalf("jwks/%s (read %d): storage operations %v, want exactly [get %s%s]", name, round, ops, configPrefix, name)
			}
		}
	}
}

func statusOf(resp *logical.Response, err error) int {
	if err != nil {
		return codedStatus(err)
	}
	if resp == nil {
		return 0
	}
	if c, ok := resp.Data[logical.HTTPStatusCode].(int); ok {
		return c
	}
	return http.StatusOK
}
