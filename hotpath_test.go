package oauthvendor

import (
	"context"
	"encoding/base64"
	"fmt"
	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/vendorsim"
)

// countingStorage counts storage calls, to hold the hot path to none.
type countingStorage struct {
	logical.InmemStorage
	gets, puts atomic.Int64
}

func (s *countingStorage) Get(ctx context.Context, k string) (*logical.StorageEntry, error) {
	s.gets.Add(1)
	return s.InmemStorage.Get(ctx, k)
}

func (s *countingStorage) Put(ctx context.Context, e *logical.StorageEntry) error {
	s.puts.Add(1)
	return s.InmemStorage.Put(ctx, e)
}

func TestCacheHitTouchesNoStorageAndLogsNothing(t *testing.T) {
	cs := &countingStorage{}
	env := attachSim(newTestEnvWith(t, cs, newFakeClock()))
	env.configure(vendorsim.AgentSync, nil)
	env.read("creds/agentsync")
	gets, puts, logLen := cs.gets.Load(), cs.puts.Load(), len(env.logs.String())
	for range 100 {
		env.read("creds/agentsync")
	}
	if cs.gets.Load() != gets || cs.puts.Load() != puts {
		t.Fatalf("100 cache hits made %d Gets and %d Puts", cs.gets.Load()-gets, cs.puts.Load()-puts)
	}
	if len(env.logs.String()) != logLen {
		t.Fatalf("cache hits logged: %s", env.logs.String()[logLen:])
	}
}

func BenchmarkCacheHit(b *testing.B) {
	for _, lease := range []bool{true, false} {
		name := map[bool]string{true: "leased", false: "plain"}[lease]
		b.Run(name, func(b *testing.B) {
			env := attachSim(newTestEnvWith(b, &logical.InmemStorage{}, newFakeClock()))
			env.b.Backend.Logger().SetLevel(hclog.Info)
			env.configure(vendorsim.AgentSync, map[string]interface{}{"lease": lease})
			req := &logical.Request{Operation: logical.ReadOperation, Path: "creds/agentsync", Storage: env.storage}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := *req
					if _, err := env.b.HandleRequest(ctx, &r); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func BenchmarkParseTokenResponse(b *testing.B) {
	now := time.Now()
	bodies := map[string]string{
		"alphasense":     `{"access_token":"123456-1234-12abcdef","token_type":"Bearer","expires_in":86400}`,
		"modelportfolio": `{"accessToken":"abcdef0123456789","expiresIn":86400,"tokenType":"bearer"}`,
		"agentsync-jwt":  `{"access_token":"` + jwtWithExp(now.Add(time.Hour).Unix()) + `"}`,
	}
	for name, body := range bodies {
		b.Run(name, func(b *testing.B) {
			tokenField, expField := "access_token", "expires_in"
			if name == "modelportfolio" {
				tokenField, expField = "accessToken", "expiresIn"
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := oauth.ParseTokenResponse([]byte(body), oauth.Fields{Token: tokenField, ExpiresIn: expField, TokenType: "token_type"}, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func jwtWithExp(exp int64) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." +
		enc([]byte(fmt.Sprintf(`{"sub":"c","exp":%d}`, exp))) + ".c2lnbmF0dXJl"
}
