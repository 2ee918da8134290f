package oauthvendor

import (
	"context"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

func pathRotate(b *backend) *framework.Path {
	return &framework.Path{
		Pattern: "rotate/" + framework.GenericNameRegex("name"),
		Fields:  nameFields(),
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.UpdateOperation: &framework.PathOperation{
				Callback: b.pathRotateWrite,
				Summary:  "Drop the cached token and run the grant now.",
				Responses: okResponse(map[string]*framework.FieldSchema{
					"expires_at": {Type: framework.TypeString, Description: "RFC 3339 expiry of the new token."},
				}),
			},
		},
		HelpSynopsis: "Drop the cached token and run the grant now.",
		HelpDescription: `Runs the vendor's grant at once and caches the new token for every reader.
Drops the cached token first, then runs the grant even during a back-off.
Returns the new token's expires_at, never the token. When the vendor fails,
the error is returned and readers get the failure (with back-off), not the
old token.`,
	}
}

func (b *backend) pathRotateWrite(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.Get("name").(string)
	got, err := b.rotate(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	return &logical.Response{Data: map[string]interface{}{
		"expires_at": got.tok.ExpiresAt.UTC().Format(time.RFC3339),
	}}, nil
}
