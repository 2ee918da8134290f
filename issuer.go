package oauthvendor

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
)

// The mount as an OIDC issuer (issue 19.4): one signing key per mount,
// generated in Vault and stored seal-wrapped (oidc/ is in
// SealWrapStorage), whose public half a relying party (Entra ID's
// federated identity credentials, Google's workload identity federation,
// Databricks' federation policies) fetches from the unauthenticated
// .well-known paths. Configs with assertion_source=issuer sign their
// assertions with it: no secret is stored for the vendor at all.

const (
	oidcPrefix    = "oidc/"
	oidcConfigKey = oidcPrefix + "config"
)

// retiredKeyKept: a switched-out key stays published until no assertion
// it signed can still be valid: the longest an assertion lives
// (jwt_bearer's assertion_ttl, at most an hour) and a relying party's
// clock running behind ours.
const retiredKeyKept = oauth.MaxAssertionTTL + 5*time.Minute

// issuerRecord is oidc/config as stored.
type issuerRecord struct {
	Issuer string     `json:"issuer"`
	Key    issuerKey  `json:"key"`
	Next   *issuerKey `json:"next,omitempty"`
	// Retired keys signed until a switch; published until Until.
	Retired []issuerKey `json:"retired,omitempty"`
	// Version changes with every key change: connections (issuerSigner)
	// and the served documents are rebuilt when it does, and only then.
	Version uint64 `json:"version"`
	// AllowedTokenHosts bound where the mount's JWTs may be sent
	// (token_hosts.go); empty: anywhere.
	AllowedTokenHosts []string `json:"allowed_token_hosts,omitempty"`
}

// issuerKey is one of the mount's keys (PEM, never shown) and the
// algorithm it signs with.
type issuerKey struct {
	PEM   string    `json:"pem"`
	Alg   string    `json:"alg"`
	Until time.Time `json:"until,omitempty"`
}

func loadIssuer(ctx context.Context, s logical.Storage) (*issuerRecord, error) {
	return getJSON[issuerRecord](ctx, s, oidcConfigKey, "the mount's OIDC issuer")
}

// storeIssuer stores rec under a new version and makes it what this node
// serves and signs with.
func (b *backend) storeIssuer(ctx context.Context, s logical.Storage, rec *issuerRecord) error {
	rec.Version = rand.Uint64()
	if err := putJSON(ctx, s, oidcConfigKey, "the mount's OIDC issuer", rec); err != nil {
		return err
	}
	st, err := newIssuerState(rec, b.now())
	if err != nil {
		return err
	}
	b.issuer.Store(st)
	return nil
}

// newIssuerKey generates a key of keyType and names its algorithm.
func newIssuerKey(keyType string) (issuerKey, error) {
	pemText, err := oauth.GenerateKey(keyType)
	if err != nil {
		return issuerKey{}, err
	}
	return issuerKey{PEM: pemText, Alg: algOr("", keyType)}, nil
}

// issuerState is what the issuer serves and signs with, built once per
// key version (and again when a retired key's time is up): the parsed
// signing key, and the discovery document and JWKS as the bytes every
// unauthenticated request gets.
type issuerState struct {
	rec       *issuerRecord
	key       *oauth.SigningKey
	discovery []byte
	jwks      []byte
	// staleAt: a retired key leaves the JWKS then (zero: never).
	staleAt time.Time
}

func newIssuerState(rec *issuerRecord, now time.Time) (*issuerState, error) {
	key, err := oauth.ParsePrivateKey(rec.Key.PEM)
	if err != nil {
		return nil, fmt.Errorf("the issuer's stored key: %w", err)
	}
	st := &issuerState{rec: rec, key: key}
	published := []issuerKey{rec.Key}
	if rec.Next != nil {
		published = append(published, *rec.Next)
	}
	for _, k := range rec.Retired {
		if now.Before(k.Until) {
			published = append(published, k)
			if st.staleAt.IsZero() || k.Until.Before(st.staleAt) {
				st.staleAt = k.Until
			}
		}
	}
	if st.jwks, err = issuerJWKS(published); err != nil {
		return nil, err
	}
	st.discovery, err = json.Marshal(discoveryDocument(rec.Issuer))
	return st, err
}

// issuerJWKS: public members only (go-jose marshals a public key's n, e
// or crv, x, y and nothing else).
func issuerJWKS(keys []issuerKey) ([]byte, error) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, ik := range keys {
		k, err := oauth.ParsePrivateKey(ik.PEM)
		if err != nil {
			return nil, fmt.Errorf("the issuer's stored key: %w", err)
		}
		set.Keys = append(set.Keys, k.PublicJWK(ik.Alg))
	}
	return json.Marshal(set)
}

// discoveryDocument is OpenID Connect Discovery 1.0 section 3's metadata,
// as much of it as a relying party that only verifies JWTs reads
// (go-oidc, Entra ID, Google STS): the REQUIRED members, with both
// algorithms a key of the mount may sign with listed, so that a
// relying party that remembered the document verifies across a rotation
// from one key type to the other (go-oidc restricts to this list).
func discoveryDocument(issuer string) map[string]interface{} {
	return map[string]interface{}{
		"issuer":                                issuer,
		"jwks_uri":                              issuer + "/.well-known/keys",
		"response_types_supported":              []string{"id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{algRS256, algES256},
		"claims_supported":                      []string{"iss", "sub", "aud", "iat", "exp", "jti"},
	}
}

// issuerState is the mount's issuer as this node serves it now; nil when
// oidc/config is not set. A hit is an atomic load and a time compare; a
// miss (first use, an invalidation, a retired key's time up) reads
// storage once.
func (b *backend) issuerState(ctx context.Context, s logical.Storage) (*issuerState, error) {
	now := b.now()
	prev := b.issuer.Load()
	if prev != nil && (prev.staleAt.IsZero() || now.Before(prev.staleAt)) {
		return prev, nil
	}
	for range 3 {
		st, current, err := b.loadIssuerState(ctx, s, prev, now)
		if err != nil || st == nil || current {
			return st, err
		}
		prev = b.issuer.Load()
	}
	return nil, fmt.Errorf("oidc/config changed during each of 3 reads; try again")
}

// loadIssuerState reads oidc/config and installs it over prev. current is
// false when an invalidation came during the read (a standby following an
// oidc/config write, which may have narrowed allowed_token_hosts): the
// record may be the one before that write, so it is taken back out of
// the cache and the caller reads again. The count is read before the
// record and checked after the install; invalidate counts before it
// clears, so an invalidation is either seen here or clears what was
// installed.
func (b *backend) loadIssuerState(ctx context.Context, s logical.Storage, prev *issuerState, now time.Time) (st *issuerState, current bool, err error) {
	drops := b.issuerDrops.Load()
	rec, err := loadIssuer(ctx, s)
	if err != nil || rec == nil {
		return nil, true, err
	}
	if st, err = newIssuerState(rec, now); err != nil {
		return nil, true, err
	}
	// Only over what was there when the record was read: a write
	// (storeIssuer) that stored a newer state meanwhile wins.
	if !b.issuer.CompareAndSwap(prev, st) {
		if cur := b.issuer.Load(); cur != nil {
			return cur, true, nil
		}
	}
	if b.issuerDrops.Load() != drops {
		b.issuer.CompareAndSwap(st, nil)
		return st, false, nil
	}
	return st, true, nil
}

// normalizeIssuer: the issuer is compared as a string by every relying
// party (OIDC Discovery 4.3), so one spelling is stored: no trailing
// slash (the well-known paths are appended to it).
func normalizeIssuer(raw string) string { return strings.TrimRight(strings.TrimSpace(raw), "/") }

// validateOwnIssuer: what relying parties fetch the discovery document
// from (https, except loopback for tests), with no query or fragment
// (OIDC Discovery 3: "https scheme ... no query or fragment").
func validateOwnIssuer(issuer string) error {
	if issuer == "" {
		return fieldErr("issuer", "required: Vault's public address and this mount, e.g. https://vault.example.com/v1/oauthvendor")
	}
	if strings.ContainsAny(issuer, "?#") {
		return fieldErr("issuer", "must not have a query or fragment (OpenID Connect Discovery 3)")
	}
	return validateEndpoint("issuer", issuer)
}
