package oauthvendor

import (
	"context"
	"fmt"
	"net/http"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
)

// The mount's OIDC issuer (issuer.go): oidc/config sets it, the
// .well-known paths publish it without a Vault token (backend.go lists
// them as unauthenticated), oidc/rotate-key (path_oidc_rotate.go)
// rotates its key.

const (
	wellKnownDiscovery = ".well-known/openid-configuration"
	wellKnownKeys      = ".well-known/keys"
)

// Cache-Control of the public documents. The discovery document changes
// only with the issuer URL; the JWKS with a rotation, whose publish step
// comes first, so a relying party's copy up to a minute old still has
// the key that signs (and go-oidc and jose refetch on an unknown kid).
const (
	discoveryCacheControl = "public, max-age=3600"
	keysCacheControl      = "public, max-age=60"
)

func pathOIDC(b *backend) []*framework.Path {
	return []*framework.Path{
		pathOIDCRotate(b),
		{
			Pattern: "oidc/config$",
			Fields: map[string]*framework.FieldSchema{
				"issuer":               {Type: framework.TypeString, Description: "The issuer URL relying parties fetch: Vault's public address and this mount, e.g. https://vault.example.com/v1/oauthvendor (https, except loopback; no query or fragment; a trailing slash is dropped)."},
				allowedTokenHostsField: {Type: framework.TypeCommaStringSlice, Description: "Hosts (host or host:port, no scheme or path; a bare host means the scheme's default port) the mount's JWTs may be sent to: a config with assertion_source=issuer or vault_identity whose token_url or device_auth_url is on another host is refused at write and at every grant. Empty (default): any host. Give an empty value to clear it."},
				"key_type":             {Type: framework.TypeString, Description: "The first key's type: rsa (2048 bit, RS256; default) or ec (P-256, ES256). oidc/rotate-key changes it.", AllowedValues: []interface{}{keyRSA, keyEC}},
			},
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.UpdateOperation: &framework.PathOperation{Callback: b.pathOIDCConfigWrite, Summary: "Make the mount an OIDC issuer (generates its signing key at the first write).", Responses: okResponse(oidcConfigResponseFields)},
				logical.ReadOperation:   &framework.PathOperation{Callback: b.pathOIDCConfigRead, Summary: "The mount's issuer URL and its key IDs.", Responses: okResponse(oidcConfigResponseFields)},
			},
			HelpSynopsis: "The mount as an OIDC issuer, for vendors that trust a federated identity instead of a secret.",
			HelpDescription: `issuer must be the URL relying parties fetch: Vault's public
address and this mount (https://vault.example.com/v1/oauthvendor). The
first write generates the mount's signing key, which never leaves Vault.
Configs with assertion_source=issuer sign with it; relying parties verify
against .well-known/openid-configuration and .well-known/keys under the
mount, readable without a Vault token.

allowed_token_hosts bounds where those JWTs (and vault_identity's) may be
sent: whoever writes config/<name> chooses its token_url, and a JWT sent to
a host of theirs can be replayed at the real relying party. Unset, any host.`,
		},
		{
			Pattern: `\.well-known/openid-configuration$`,
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.ReadOperation: &framework.PathOperation{Callback: b.wellKnown(func(st *issuerState) ([]byte, string) { return st.discovery, discoveryCacheControl }), Summary: "The issuer's OpenID Connect discovery document; no Vault token needed."},
			},
			HelpSynopsis:    "The mount's OpenID Connect discovery document (issuer, jwks_uri).",
			HelpDescription: "Answers the discovery document as the raw body, for relying parties that trust this mount's issuer. 404 until oidc/config is set.",
		},
		{
			Pattern: `\.well-known/keys$`,
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.ReadOperation: &framework.PathOperation{Callback: b.wellKnown(func(st *issuerState) ([]byte, string) { return st.jwks, keysCacheControl }), Summary: "The issuer's public JWKS; no Vault token needed."},
			},
			HelpSynopsis: "The mount's public signing keys (JWKS).",
			HelpDescription: `Answers {"keys":[...]} as the raw body: the key that signs, the next one
while oidc/rotate-key has published it, and a switched-out key until no
assertion it signed can still be valid. 404 until oidc/config is set.`,
		},
	}
}

var oidcConfigResponseFields = map[string]*framework.FieldSchema{
	"issuer":               {Type: framework.TypeString, Description: "The issuer URL."},
	"discovery_url":        {Type: framework.TypeString, Description: "Where relying parties read the discovery document."},
	"jwks_uri":             {Type: framework.TypeString, Description: "Where relying parties read the public keys."},
	"kid":                  {Type: framework.TypeString, Description: "RFC 7638 thumbprint of the key that signs."},
	"signing_alg":          {Type: framework.TypeString, Description: "What it signs with (RS256 or ES256)."},
	"next_kid":             {Type: framework.TypeString, Description: "Thumbprint of the key oidc/rotate-key published to sign next."},
	allowedTokenHostsField: {Type: framework.TypeCommaStringSlice, Description: "The hosts the mount's JWTs may be sent to; empty: any."},
}

// wellKnown serves one of the issuer's documents, built once per key
// version (issuerState), as the raw JSON body.
func (b *backend) wellKnown(doc func(*issuerState) ([]byte, string)) framework.OperationFunc {
	return func(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
		st, err := b.issuerState(ctx, req.Storage)
		if err != nil {
			return nil, err
		}
		if st == nil {
			return nil, logical.CodedError(http.StatusNotFound, "this mount is not an OIDC issuer: oidc/config is not set")
		}
		body, cacheControl := doc(st)
		return &logical.Response{Data: map[string]interface{}{
			logical.HTTPContentType:        "application/json",
			logical.HTTPRawBody:            body,
			logical.HTTPStatusCode:         http.StatusOK,
			logical.HTTPCacheControlHeader: cacheControl,
		}}, nil
	}
}

func (b *backend) pathOIDCConfigWrite(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	var before string
	resp, err := b.updateIssuer(ctx, req.Storage, func(rec *issuerRecord) error {
		before = rec.Issuer
		if v, ok := d.GetOk("issuer"); ok {
			rec.Issuer = normalizeIssuer(v.(string))
		}
		if err := validateOwnIssuer(rec.Issuer); err != nil {
			return err
		}
		if v, ok := d.GetOk(allowedTokenHostsField); ok {
			hosts, err := normalizeTokenHosts(v.([]string))
			if err != nil {
				return err
			}
			rec.AllowedTokenHosts = hosts
		}
		return firstIssuerKey(rec, d)
	})
	if err == nil && !resp.IsError() && before != "" && before != resp.Data["issuer"] {
		resp.AddWarning(fmt.Sprintf("the issuer changed from %s: relying parties that trust the old URL (Entra federated credentials, workload identity providers, federation policies) refuse this mount's assertions until they are given the new one", before))
	}
	return resp, err
}

// updateIssuer is oidc/config's load-modify-store, serialised: apply
// changes the stored record (an empty one when none is stored) and
// refuses with the caller's mistake; the answer shows what was stored.
func (b *backend) updateIssuer(ctx context.Context, s logical.Storage, apply func(rec *issuerRecord) error) (*logical.Response, error) {
	b.issuerMu.Lock()
	defer b.issuerMu.Unlock()
	rec, err := loadIssuer(ctx, s)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		rec = &issuerRecord{}
	}
	if err := apply(rec); err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	if err := b.storeIssuer(ctx, s, rec); err != nil {
		return nil, err
	}
	return oidcConfigAnswer(rec), nil
}

// firstIssuerKey generates the mount's key at the first write; later
// writes keep it (oidc/rotate-key replaces it without downtime).
func firstIssuerKey(rec *issuerRecord, d *framework.FieldData) error {
	keyType := keyRSA
	v, given := d.GetOk("key_type")
	if given {
		keyType = v.(string)
	}
	if err := oneOf("key_type", keyType, keyRSA, keyEC); err != nil {
		return err
	}
	if rec.Key.PEM != "" {
		if k, err := oauth.ParsePrivateKey(rec.Key.PEM); err == nil && given && k.KeyType() != keyType {
			return fieldErr("key_type", "the issuer's key is %s; oidc/rotate-key key_type=%s publishes a key of another type without downtime", k.KeyType(), keyType)
		}
		return nil
	}
	key, err := newIssuerKey(keyType)
	rec.Key = key
	return err
}

func (b *backend) pathOIDCConfigRead(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	rec, err := loadIssuer(ctx, req.Storage)
	if err != nil || rec == nil {
		return nil, err
	}
	return oidcConfigAnswer(rec), nil
}

// oidcConfigAnswer shows the issuer and its key IDs, never a key.
func oidcConfigAnswer(rec *issuerRecord) *logical.Response {
	data := map[string]interface{}{
		"issuer":        rec.Issuer,
		"discovery_url": rec.Issuer + "/" + wellKnownDiscovery,
		"jwks_uri":      rec.Issuer + "/" + wellKnownKeys,
		"kid":           kidOf(rec.Key.PEM),
		"signing_alg":   rec.Key.Alg,
		// Always shown, [] when unset: "any host" must be visible.
		allowedTokenHostsField: append([]string{}, rec.AllowedTokenHosts...),
	}
	if rec.Next != nil {
		data["next_kid"] = kidOf(rec.Next.PEM)
	}
	return &logical.Response{Data: data}
}
