package oauthvendor

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

const jwksPrefix = "jwks/"

// pathJWKS serves a private_key_jwt connection's public keys without a
// Vault token (backend.go lists it as unauthenticated), as Vault's own
// identity/oidc/.well-known/keys does: a vendor's jwks_uri fetches it.
func pathJWKS(b *backend) *framework.Path {
	return &framework.Path{
		Pattern: jwksPrefix + framework.GenericNameRegex("name"),
		Fields:  nameFields(),
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.ReadOperation: &framework.PathOperation{
				Callback: b.pathJWKSRead,
				Summary:  "The public JWKS of a private_key_jwt connection; no Vault token needed.",
			},
		},
		HelpSynopsis: "Public signing keys of a private_key_jwt connection, as a JWKS for the vendor's jwks_uri.",
		HelpDescription: `Answers {"keys":[...]} as the raw body: the key that signs the client
assertions and, while rotate-key has published a next key, that one too.
Public members only. Readable without a Vault token.`,
	}
}

func (b *backend) pathJWKSRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.Get("name").(string)
	cfg, err := loadConfig(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	// One answer for "no such config" and "not private_key_jwt": an
	// unauthenticated caller learns nothing of the other configs.
	noJWKS := logical.CodedError(http.StatusNotFound, fmt.Sprintf("no JWKS for %q (no private_key_jwt connection of that name)", name))
	if cfg == nil {
		return nil, noJWKS
	}
	body, err := publicJWKS(cfg)
	if errors.Is(err, errNoJWKS) {
		return nil, noJWKS
	}
	if err != nil {
		return nil, fmt.Errorf("config %q: %w", name, err)
	}
	// Vault's default Cache-Control for a raw body is no-store: a vendor
	// fetches the JWKS again for each assertion it cannot match, so a key
	// published by rotate-key is seen at once.
	return &logical.Response{Data: map[string]interface{}{
		logical.HTTPContentType: "application/json",
		logical.HTTPRawBody:     body,
		logical.HTTPStatusCode:  http.StatusOK,
	}}, nil
}
