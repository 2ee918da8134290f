package oauthvendor

import (
	"context"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

const secretTypeToken = "oauthvendor_token"

// secretToken is the lease type of creds/<name>. Not renewable (a vendor
// token cannot be extended); revoke is a no-op because the token is shared
// by every reader: one reader's lease ending must not cut off the others.
func secretToken(b *backend) *framework.Secret {
	return &framework.Secret{
		Type:   secretTypeToken,
		Fields: credsResponseFields,
		Revoke: func(context.Context, *logical.Request, *framework.FieldData) (*logical.Response, error) {
			return nil, nil
		},
	}
}
