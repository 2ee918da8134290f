package oauthvendor

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/helper/pluginutil"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
)

// Where a config's assertion (private_key_jwt's client assertion, the
// jwt_bearer grant's assertion, a token_exchange's subject token when it
// has no subject_config) comes from (issue 19.3-19.5):
//   - key: signed with the config's own key (keys.go), the default;
//   - issuer: a JWT of the mount's OIDC issuer (issuer.go), for vendors
//     that trust a federated identity instead of a registered key;
//   - vault_identity: Vault Enterprise's plugin identity token.
//
// The last two reach internal/oauth as an oauth.AssertionSupplier, called
// per grant attempt, or wrapped as an oauth.SubjectSource, called per
// grant (subjectSupplier). A token_exchange config with client_auth=
// private_key_jwt takes both from its source: the same iss, sub and aud,
// each JWT with its own jti and lifetime.
const (
	sourceKey           = "key"
	sourceIssuer        = "issuer"
	sourceVaultIdentity = "vault_identity"
)

// The plugin identity token's lifetime: an assertion is sent once, at
// once (RFC 7523 3 wants it short); Vault's own default is an hour.
const (
	defaultIdentityTokenTTL = 5 * time.Minute
	maxIdentityTokenTTL     = time.Hour
)

// assertionSourceFields are config/<name>'s fields of this file.
func assertionSourceFields() map[string]*framework.FieldSchema {
	return map[string]*framework.FieldSchema{
		"assertion_source": {Type: framework.TypeString, Description: "Where private_key_jwt's client assertion, jwt_bearer's assertion or token_exchange's subject token (without subject_config) comes from: key (default: signed with private_key; no subject token), issuer (a JWT of the mount's OIDC issuer, oidc/config: iss the issuer URL, sub oauthvendor:<name> unless subject is set, aud assertion_audience; no stored secret) or vault_identity (Vault Enterprise's plugin identity token).",
			AllowedValues: []interface{}{sourceKey, sourceIssuer, sourceVaultIdentity}},
		"identity_token_audience": {Type: framework.TypeString, Description: "assertion_source=vault_identity: the plugin identity token's aud (required there)."},
		"identity_token_ttl":      {Type: framework.TypeDurationSecond, Description: "assertion_source=vault_identity: the plugin identity token's lifetime (default 5m, at most 1h)."},
	}
}

// takesAssertion: the token request carries a JWT assertion that an
// asymmetric key (or a platform) signs: private_key_jwt's or the
// jwt_bearer grant's. c is an effective config.
func (c *vendorConfig) takesAssertion() bool {
	return c.ClientAuth == authPrivateKeyJWT || c.GrantType == grantJWTBearer
}

// issuesSubject: a token_exchange config whose subject token is a JWT of
// its assertion_source rather than another config's token. c is an
// effective config.
func (c *vendorConfig) issuesSubject() bool {
	return c.GrantType == grantTokenExchange && c.AssertionSource != sourceKey
}

// fromSource: some JWT of c's token request comes from a source other
// than the config's own key. c is an effective config.
func (c *vendorConfig) fromSource() bool {
	return c.AssertionSource != sourceKey && (c.takesAssertion() || c.issuesSubject())
}

// ownKeyFields hold a config's own key: a config whose assertions come
// from elsewhere has none.
var ownKeyFields = []string{"private_key", "credentials_json", "key_id", "certificate", "key_type", "signing_alg"}

// dropOwnKey: a config whose assertion_source is not key keeps no key of
// its own (a key stored from before is discarded: a private key kept for
// nothing is one more secret to lose). Giving one in the same write is
// refused. Returns a warning when a stored key was dropped.
func dropOwnKey(cfg *vendorConfig, d *framework.FieldData) (string, error) {
	eff := cfg.effective()
	if !eff.fromSource() {
		return "", nil
	}
	if f, given := firstGiven(d, ownKeyFields...); given {
		return "", fieldErr(f, "a config with assertion_source=%s has no key of its own (%s signs its assertions)", eff.AssertionSource, signerOf(eff.AssertionSource))
	}
	warning := ""
	if cfg.PrivateKey != "" {
		warning = fmt.Sprintf("the config's own signing key (kid %s) was discarded: assertion_source=%s signs with %s", kidOf(cfg.PrivateKey), eff.AssertionSource, signerOf(eff.AssertionSource))
	}
	cfg.PrivateKey, cfg.Certificate, cfg.KeyType, cfg.SigningAlg = "", "", "", ""
	cfg.KeyID, cfg.CredentialsJSON = "", ""
	cfg.NextPrivateKey, cfg.NextCertificate, cfg.NextSigningAlg = "", "", ""
	return warning, nil
}

func signerOf(source string) string {
	if source == sourceIssuer {
		return "the mount's issuer key (oidc/config)"
	}
	return "Vault's plugin identity token"
}

// validateAssertionSource: the fields, without storage or Vault.
func validateAssertionSource(eff *vendorConfig) error {
	if err := oneOf("assertion_source", eff.AssertionSource, sourceKey, sourceIssuer, sourceVaultIdentity); err != nil {
		return err
	}
	if eff.IdentityTokenTTL < 0 || eff.IdentityTokenTTL > maxIdentityTokenTTL {
		return fieldErr("identity_token_ttl", "must be between 0 and %s", maxIdentityTokenTTL)
	}
	if len(eff.IdentityTokenAudience) > maxStringLen || hasCTL(eff.IdentityTokenAudience) {
		return fieldErr("identity_token_audience", "longer than %d bytes or has a control character", maxStringLen)
	}
	if eff.AssertionSource == sourceKey {
		return nil
	}
	if !eff.fromSource() {
		return fieldErr("assertion_source", "%s supplies private_key_jwt's client assertion, the jwt_bearer grant's assertion or token_exchange's subject token; set client_auth=private_key_jwt or grant_type=jwt_bearer or token_exchange", eff.AssertionSource)
	}
	if eff.AssertionSource == sourceVaultIdentity && eff.IdentityTokenAudience == "" {
		return fieldErr("identity_token_audience", "required with assertion_source=vault_identity: the plugin identity token's aud, what the vendor expects")
	}
	return nil
}

// checkAssertionSource asks what a source needs at write: the mount's
// issuer set, or Vault able to mint a plugin identity token (probed once);
// and its JWTs' destinations on oidc/config allowed_token_hosts
// (token_hosts.go). The warning says when no list bounds them.
func (b *backend) checkAssertionSource(ctx context.Context, s logical.Storage, eff *vendorConfig) (string, error) {
	if !eff.fromSource() {
		return "", nil
	}
	st, err := b.issuerState(ctx, s)
	if err != nil {
		return "", err
	}
	if eff.AssertionSource == sourceIssuer && st == nil {
		return "", fieldErr("assertion_source", "issuer needs the mount's issuer: write oidc/config issuer=https://<vault address>/v1/<mount> first")
	}
	// Before the probe: no token is minted for a config that is refused.
	warning, err := checkTokenHosts(st, eff)
	if err != nil {
		return "", err
	}
	if eff.AssertionSource == sourceVaultIdentity {
		if _, err := b.identityToken(ctx, eff); err != nil {
			return "", err
		}
	}
	return warning, nil
}

// assertionSupplier is how a config's assertions are made when not with
// its own key; nil for assertion_source=key. s is the mount's storage
// (the issuer's record is read there when this node has none in memory).
func (b *backend) assertionSupplier(s logical.Storage, name string, eff *vendorConfig) oauth.AssertionSupplier {
	if !eff.takesAssertion() {
		return nil
	}
	return b.sourceSupplier(s, name, eff, oauth.NewSigner)
}

// subjectSupplier makes the subject token of a token_exchange config that
// has no subject_config: a JWT of its assertion_source, fresh per grant,
// typed jwt (subject_token_type overrides it: id_token where the vendor
// wants that) and expiring at its exp, so that expires_with_subject caps
// the new token there. nil for any other config.
func (b *backend) subjectSupplier(s logical.Storage, name string, eff *vendorConfig) oauth.SubjectSource {
	if !eff.issuesSubject() || eff.SubjectConfig != "" {
		return nil
	}
	// A subject token is no assertion of this request: signed as a
	// jwt_bearer assertion is (sub, assertion_ttl, assertion_claims),
	// whatever the config's client authentication.
	supply := b.sourceSupplier(s, name, eff, oauth.NewJWTSigner)
	return func(ctx context.Context) (*oauth.SubjectToken, error) {
		jwt, err := supply(ctx, b.now())
		if err != nil {
			return nil, err
		}
		return oauth.JWTSubject(jwt), nil
	}
}

// sourceSupplier makes the JWTs of eff's assertion_source: the mount's
// issuer signs them as newSigner describes, or Vault mints its plugin
// identity token (the same either way). nil for assertion_source=key.
func (b *backend) sourceSupplier(s logical.Storage, name string, eff *vendorConfig, newSigner func(*oauth.Config) (*oauth.Signer, error)) oauth.AssertionSupplier {
	switch eff.AssertionSource {
	case sourceIssuer:
		return (&issuerSigner{b: b, s: s, name: name, eff: eff, newSigner: newSigner}).assertion
	case sourceVaultIdentity:
		return func(ctx context.Context, _ time.Time) (string, error) {
			// Right before the token is asked for: oidc/config may
			// have narrowed its list since the connection was made.
			if err := b.tokenHostRefusal(ctx, s, name, eff); err != nil {
				return "", err
			}
			return b.identityToken(ctx, eff)
		}
	}
	return nil
}

// issuerSigner signs one config's assertions with the mount's issuer key.
// Its oauth.Signer is built once per issuer key version: a rotation is
// seen at the next assertion, with no config write and no reconnect.
type issuerSigner struct {
	b    *backend
	s    logical.Storage
	name string
	eff  *vendorConfig
	// newSigner makes the signer of one issuer key version: of the
	// config's assertions (oauth.NewSigner) or of its subject tokens.
	newSigner func(*oauth.Config) (*oauth.Signer, error)
	cur       atomic.Pointer[versionedSigner]
}

type versionedSigner struct {
	version uint64
	signer  *oauth.Signer
}

func (is *issuerSigner) assertion(ctx context.Context, now time.Time) (string, error) {
	st, err := is.b.issuerState(ctx, is.s)
	if err != nil {
		return "", err
	}
	if st == nil {
		return "", fmt.Errorf("the mount's issuer is not set (oidc/config): assertion_source=issuer has nothing to sign with")
	}
	// Right before signing, with the list as stored now: oidc/config
	// may have narrowed it since the connection was made.
	if err := st.refuseOffList(is.name, is.eff); err != nil {
		return "", err
	}
	vs := is.cur.Load()
	if vs == nil || vs.version != st.rec.Version {
		signer, err := is.newSigner(issuerAssertionConfig(is.name, is.eff, st))
		if err != nil {
			return "", fmt.Errorf("the issuer's key: %w", err)
		}
		vs = &versionedSigner{version: st.rec.Version, signer: signer}
		is.cur.Store(vs)
	}
	return vs.signer.Sign(now)
}

// issuerAssertionConfig: iss is the issuer URL, sub names the config
// (oauthvendor:<name>, what a federated credential or federation policy
// is told to trust) unless subject is set, aud is assertion_audience
// (Entra ID wants api://AzureADTokenExchange), kid the issuer key's
// thumbprint as .well-known/keys lists it.
func issuerAssertionConfig(name string, eff *vendorConfig, st *issuerState) *oauth.Config {
	sub := eff.Subject
	if sub == "" {
		sub = "oauthvendor:" + name
	}
	return &oauth.Config{
		Name: name, GrantType: eff.GrantType, ClientAuth: eff.ClientAuth, ClientID: eff.ClientID,
		PrivateKey: st.rec.Key.PEM, SigningAlg: st.rec.Key.Alg, KeyID: st.key.Kid(),
		AssertionIssuer: st.rec.Issuer, Subject: sub, AssertionAudience: eff.AssertionAudience,
		AssertionTTL: eff.AssertionTTL, AssertionClaims: eff.AssertionClaims,
	}
}

// identityToken asks Vault for the plugin identity token (Vault
// Enterprise 1.16+); any failure is the write's 400 or the grant's.
func (b *backend) identityToken(ctx context.Context, eff *vendorConfig) (string, error) {
	ttl := eff.IdentityTokenTTL
	if ttl == 0 {
		ttl = defaultIdentityTokenTTL
	}
	resp, err := b.System().GenerateIdentityToken(ctx, &pluginutil.IdentityTokenRequest{Audience: eff.IdentityTokenAudience, TTL: ttl})
	if err != nil {
		return "", identityTokenError(err)
	}
	return string(resp.Token), nil
}

// identityTokenError: community Vault answers with
// pluginidentityutil.ErrPluginWorkloadIdentityUnsupported, which reaches
// an external plugin as text only, inside the gRPC status ("rpc error:
// code = Internal desc = failed to generate plugin identity token: plugin
// workload identity not supported in Vault community edition"): errors.Is
// does not survive the hop, so the text is matched. OpenBao has no such
// call at all (Unimplemented).
func identityTokenError(err error) error {
	says := vaultSays(err)
	text := strings.ToLower(err.Error()) // with the gRPC code: "code = Unimplemented"
	if strings.Contains(text, "workload identity not supported") || strings.Contains(text, "code = unimplemented") {
		return fieldErr("assertion_source", "vault_identity needs Vault Enterprise (plugin identity tokens; this Vault says: %s); on community Vault and OpenBao use assertion_source=issuer", says)
	}
	return fieldErr("assertion_source", "vault_identity: Vault did not mint a plugin identity token: %s", says)
}

// vaultSays is Vault's own message, without the gRPC wrapping, bounded
// (it is Vault's text, never a credential).
func vaultSays(err error) string {
	text := err.Error()
	if i := strings.LastIndex(text, "desc = "); i >= 0 {
		text = text[i+len("desc = "):]
	}
	if len(text) > 200 {
		text = text[:200] + "..."
	}
	return text
}
