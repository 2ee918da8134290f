// Command vault-plugin-secrets-benchminimal is the bench's yardstick: the
// least an external secrets plugin can do per read. It is served and
// registered exactly like vault-plugin-secrets-oauthvendor (same SDK,
// plugin.ServeMultiplex, sha256 + version), so that the difference between
// the two is the work our plugin does on a cache hit, not the gRPC hop
// every external plugin pays.
//
//	plain   read: a constant map, no storage, no lease
//	leased  read: the same map as a framework.Secret (TTL 1h, no-op revoke)
package main

import (
	"context"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/hashicorp/vault/sdk/plugin"
)

// Version is what the bench registers the plugin with.
const Version = "v1.0.0"

const secretType = "benchminimal_token"

func main() {
	meta := &api.PluginAPIClientMeta{}
	if err := meta.FlagSet().Parse(os.Args[1:]); err != nil {
		fatal(err)
	}
	err := plugin.ServeMultiplex(&plugin.ServeOpts{
		BackendFactoryFunc: factory,
		TLSProviderFunc:    api.VaultPluginTLSProvider(meta.GetTLSConfig()),
	})
	if err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	hclog.New(&hclog.LoggerOptions{}).Error("plugin shutting down", "error", err)
	os.Exit(1)
}

func factory(ctx context.Context, conf *logical.BackendConfig) (logical.Backend, error) {
	var b *framework.Backend
	b = &framework.Backend{
		BackendType:    logical.TypeLogical,
		RunningVersion: Version,
		Paths: []*framework.Path{
			{
				Pattern: "plain",
				Operations: map[logical.Operation]framework.OperationHandler{
					logical.ReadOperation: &framework.PathOperation{
						Summary: "A constant map, no lease.",
						Callback: func(context.Context, *logical.Request, *framework.FieldData) (*logical.Response, error) {
							data := constant()
							data["ttl"] = int64(3600)
							return &logical.Response{Data: data}, nil
						},
					},
				},
			},
			{
				Pattern: "leased",
				Operations: map[logical.Operation]framework.OperationHandler{
					logical.ReadOperation: &framework.PathOperation{
						Summary: "The same constant map with a 1h lease.",
						Callback: func(context.Context, *logical.Request, *framework.FieldData) (*logical.Response, error) {
							resp := b.Secret(secretType).Response(constant(), nil)
							resp.Secret.TTL = time.Hour
							resp.Secret.MaxTTL = time.Hour
							resp.Secret.Renewable = false
							return resp, nil
						},
					},
				},
			},
		},
		Secrets: []*framework.Secret{{
			Type: secretType,
			Revoke: func(context.Context, *logical.Request, *framework.FieldData) (*logical.Response, error) {
				return nil, nil
			},
		}},
	}
	if err := b.Setup(ctx, conf); err != nil {
		return nil, err
	}
	return b, nil
}

// constant has the shape of oauthvendor's creds answer (a fresh map per
// request, as a handler building its answer would have).
func constant() map[string]interface{} {
	return map[string]interface{}{
		"access_token": "bench0123456789abcdef0123456789ab",
		"token_type":   "Bearer",
		"expires_at":   "2099-01-01T00:00:00Z",
	}
}
