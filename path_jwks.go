package oauthvendor

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

const jwksPrefix = "jwks/"

// pathJWKS serves the public keys of a connection that signs with its key
// (private_key_jwt, jwt_bearer) without a Vault token (backend.go lists it
// as unauthenticated), as Vault's own
// identity/oidc/.well-known/keys does: a vendor's jwks_uri fetches it.
func pathJWKS(b *backend) *framework.Path {
	return &framework.Path{
		Pattern: jwksPrefix + framework.GenericNameRegex("name"),
		Fields:  nameFields(),
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.ReadOperation: &framework.PathOperation{
				Callback: b.pathJWKSRead,
				Summary:  "The public JWKS of a private_key_jwt or jwt_bearer connection; no Vault token needed.",
			},
		},
		HelpSynopsis: "Public signing keys of a private_key_jwt or jwt_bearer connection, as a JWKS for the vendor's jwks_uri.",
		HelpDescription: `Answers {"keys":[...]} as the raw body: the key that signs the client
assertions (or jwt_bearer grants) and, while rotate-key has published a next key, that one too.
Public members only. Readable without a Vault token.`,
	}
}

func (b *backend) pathJWKSRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.Get("name").(string)
	body, err := b.storedJWKS(ctx, req.Storage, name)
	if errors.Is(err, errNoJWKS) {
		// One answer for "no such config" and "not private_key_jwt": an
		// unauthenticated caller learns nothing of the other configs.
		return nil, logical.CodedError(http.StatusNotFound, fmt.Sprintf("no JWKS for %q (no private_key_jwt or jwt_bearer connection of that name with a key of its own; one with assertion_source=issuer is verified against the mount's .well-known/keys)", name))
	}
	if err != nil {
		return nil, fmt.Errorf("config %q: %w", name, err)
	}
	// Vault's default Cache-Control for a raw body (no-store) is kept: a
	// max-age only makes a vendor keep an old JWKS longer. Vendors still
	// cache on their own (oidc-provider for at least 60 s, refetching on
	// an unknown kid after that), which is why rotate-key publishes before
	// it switches.
	return &logical.Response{Data: map[string]interface{}{
		logical.HTTPContentType: "application/json",
		logical.HTTPRawBody:     body,
		logical.HTTPStatusCode:  http.StatusOK,
	}}, nil
}

// jwksCache is one config's public JWKS (or errNoJWKS) and the digest of
// the stored config record it was built from.
type jwksCache struct {
	digest [sha256.Size]byte
	body   []byte
	err    error
}

// storedJWKS is the JWKS of the config as stored now; errNoJWKS when there
// is no such config or it is not private_key_jwt.
//
// It takes no name lock and no entry: rotate-key holds the name lock
// through its verifying grant, during which the vendor fetches this path
// on meeting the new kid (issue 17.1), so waiting here would hang both
// until the grant gave up. Storage has the published key before that
// grant runs.
//
// Every name costs one storage read and no more: an unauthenticated
// caller must not tell an absent name from an existing one by the time
// the answer takes (issue 21.3). Parsing the private keys again is what a
// cache hit saves; the hit is keyed by the stored record's digest, so any
// write (publish, switch, cancel, config) is seen at once.
func (b *backend) storedJWKS(ctx context.Context, s logical.Storage, name string) ([]byte, error) {
	if !storableName(name) {
		return nil, errNoJWKS // no config can have it (storage refuses the key)
	}
	raw, err := s.Get(ctx, configPrefix+name)
	if err != nil {
		return nil, fmt.Errorf("reading the config: %w", err)
	}
	if raw == nil {
		b.jwks.Delete(name)
		return nil, errNoJWKS
	}
	digest := sha256.Sum256(raw.Value)
	if c, ok := b.jwks.Load(name); ok && c.(*jwksCache).digest == digest {
		return c.(*jwksCache).body, c.(*jwksCache).err
	}
	var cfg vendorConfig
	if err := raw.DecodeJSON(&cfg); err != nil {
		return nil, fmt.Errorf("decoding the config: %w", err)
	}
	// Two first callers may both build it; the result is the same.
	c := &jwksCache{digest: digest}
	c.body, c.err = publicJWKS(&cfg)
	b.jwks.Store(name, c)
	return c.body, c.err
}
