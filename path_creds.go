package oauthvendor

import (
	"context"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

func pathCreds(b *backend) *framework.Path {
	return &framework.Path{
		Pattern: "creds/" + framework.GenericNameRegex("name"),
		Fields:  nameFields(),
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.ReadOperation: &framework.PathOperation{
				Callback:  b.pathCredsRead,
				Summary:   "Get a valid access token for the vendor connection.",
				Responses: okResponse(credsResponseFields),
			},
		},
		HelpSynopsis:    "Get the shared access token of a vendor connection.",
		HelpDescription: pathCredsHelpDesc,
	}
}

var credsResponseFields = map[string]*framework.FieldSchema{
	"access_token":      {Type: framework.TypeString, Description: "The vendor's access token."},
	"token_type":        {Type: framework.TypeString, Description: "Token type, Bearer unless the vendor says otherwise."},
	"expires_at":        {Type: framework.TypeString, Description: "RFC 3339 time at which the vendor's token expires."},
	"api_key":           {Type: framework.TypeString, Description: "The API key, only with api_key_in_creds=true."},
	"issued_token_type": {Type: framework.TypeString, Description: "token_exchange: the issued_token_type the vendor answered (RFC 8693 2.2.1), when it gave one."},
	"ttl":               {Type: framework.TypeInt, Description: "Seconds the token may be used, only with lease=false."},
	"rotation_period":   {Type: framework.TypeInt, Description: "Seconds one token is handed out before the next is minted, only with lease=false (makes Vault Agent re-read after ttl)."},
}

func (b *backend) pathCredsRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	// The route's regex has already matched the name; reading it raw skips
	// the field conversion on every cache hit.
	name, _ := d.Raw["name"].(string)
	cfg, got, err := b.read(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	resp := b.credsResponse(cfg, got.tok, got.at)
	if got.warning != "" {
		resp.AddWarning(got.warning)
	}
	return resp, nil
}

// credsResponse: a lease that ends before the token, or with lease=false a
// plain answer carrying ttl and rotation_period as data, the pair Vault
// Agent reads to re-read in time (timing.go, plainTTL).
func (b *backend) credsResponse(cfg *vendorConfig, tok *cachedToken, at time.Time) *logical.Response {
	tok.box()
	data := make(map[string]interface{}, 6)
	data["access_token"] = tok.boxed.accessToken
	data["token_type"] = tok.boxed.tokenType
	data["expires_at"] = tok.boxed.expiresAt
	if tok.boxed.issuedTokenType != nil {
		data["issued_token_type"] = tok.boxed.issuedTokenType
	}
	if cfg.apiKeyInCreds() {
		data["api_key"] = cfg.APIKey
	}
	if !cfg.leaseEnabled() {
		data["ttl"] = int64(tok.plainTTL(at, cfg.MaxTTL) / time.Second)
		data["rotation_period"] = int64(tok.rotationPeriod(cfg.RefreshBefore) / time.Second)
		return &logical.Response{Data: data}
	}
	ttl := tok.leaseTTL(at, cfg.MaxTTL)
	resp := b.Secret(secretTypeToken).Response(data, nil)
	resp.Secret.TTL = ttl
	resp.Secret.MaxTTL = ttl
	resp.Secret.Renewable = false
	return resp
}

const pathCredsHelpDesc = `
Returns the vendor access token shared by every reader of this connection,
from the cache while it is outside its refresh window, else from one new
grant (concurrent readers wait for it and share its result).

The answer is a non-renewable lease whose TTL ends before the token does:
the time left minus a margin (1 minute, or a tenth of the lifetime for
tokens under 10 minutes), capped by max_ttl. Revoking it does not revoke
the shared vendor token. With lease=false the answer is plain data: ttl
(that time less one second) and rotation_period, so that Vault Agent
re-reads when the lease would have ended.
`
