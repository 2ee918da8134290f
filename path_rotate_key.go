package oauthvendor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
)

// rotate-key steps. Vendors that fetch jwks/<name> (a jwks_uri: Okta,
// Auth0, Keycloak, oidc-provider) take auto; vendors where the public key
// or certificate is uploaded (Entra ID, Okta without jwks_uri) take
// publish, upload, then switch.
const (
	stepAuto    = "auto"
	stepPublish = "publish"
	stepSwitch  = "switch"
	stepCancel  = "cancel"
)

func pathRotateKey(b *backend) *framework.Path {
	return &framework.Path{
		Pattern: "rotate-key/" + framework.GenericNameRegex("name"),
		Fields:  rotateKeyFields(),
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.UpdateOperation: &framework.PathOperation{
				Callback:  b.pathRotateKeyWrite,
				Summary:   "Rotate the private_key_jwt signing key without downtime.",
				Responses: okResponse(rotateKeyResponseFields),
			},
		},
		HelpSynopsis: "Rotate the private_key_jwt signing key: the new key is published before it signs.",
		HelpDescription: `step=auto (default) publishes a new key next to the current one in
jwks/<name>, runs a grant signed by it and, if the vendor accepts it, signs
with it from then on and unpublishes the old one. step=publish only
publishes the next key (and returns its public key, to upload); step=switch
makes it sign; step=cancel drops it.`,
	}
}

var rotateKeyResponseFields = map[string]*framework.FieldSchema{
	"current_kid":     {Type: framework.TypeString, Description: "Thumbprint (RFC 7638) of the key that signs now."},
	"next_kid":        {Type: framework.TypeString, Description: "Thumbprint of the published key that signs after step=switch."},
	"next_public_key": {Type: framework.TypeString, Description: "After step=publish: the next key's public half (PEM), to upload."},
	"next_jwk":        {Type: framework.TypeMap, Description: "After step=publish: the next key's public JWK."},
	"expires_at":      {Type: framework.TypeString, Description: "After a verified switch: expiry of the token the new key got."},
}

func rotateKeyFields() map[string]*framework.FieldSchema {
	return map[string]*framework.FieldSchema{
		"name":        {Type: framework.TypeString, Description: "Name of the vendor connection.", Required: true},
		"step":        {Type: framework.TypeString, Description: "auto (default: publish, then switch once a grant signed by the new key succeeds), publish, switch or cancel.", Default: stepAuto, AllowedValues: []interface{}{stepAuto, stepPublish, stepSwitch, stepCancel}},
		"private_key": {Type: framework.TypeString, Description: "With publish or auto: the next key (PEM); omitted, one is generated. Write-only.", DisplayAttrs: &framework.DisplayAttributes{Sensitive: true}},
		"key_type":    {Type: framework.TypeString, Description: "With publish or auto, for a generated next key: rsa or ec (default: the current key's type).", AllowedValues: []interface{}{keyRSA, keyEC}},
		"certificate": {Type: framework.TypeString, Description: "With publish or auto: the certificate (PEM) of the supplied next key (required when the current key has one)."},
		"signing_alg": {Type: framework.TypeString, Description: "With publish or auto: what the next key signs with (default: the written signing_alg, else the key type's default).", AllowedValues: []interface{}{algRS256, algPS256, algES256}},
		"verify":      {Type: framework.TypeBool, Description: "Switch only after a grant signed by the new key succeeds (default true).", Default: true},
		"key_id":      {Type: framework.TypeString, Description: "With switch: the kid the vendor assigned the new key (Box's public key ID, a Google key's ID); omitted, the new key is named by its RFC 7638 thumbprint (the config's key_id named the old key)."},
	}
}

func (b *backend) pathRotateKeyWrite(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.Get("name").(string)
	if err := validateName(name); err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	budget := b.newWriteBudget() // waiting for the lock counts (writebudget.go)
	unlock := b.locks.lock(name)
	defer unlock()
	old, err := mustLoadConfig(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if eff := old.effective(); eff.fromSource() {
		return logical.ErrorResponse(fmt.Sprintf("config %q has no key of its own: assertion_source=%s signs with %s; the mount's issuer key rotates at oidc/rotate-key", name, eff.AssertionSource, signerOf(eff.AssertionSource))), nil
	} else if !eff.signsWithKey() || old.PrivateKey == "" {
		return logical.ErrorResponse(fmt.Sprintf("config %q uses client_auth %s; only private_key_jwt and grant_type jwt_bearer have a signing key to rotate", name, eff.ClientAuth)), nil
	}
	cfg := *old
	r := &keyRotation{ctx: ctx, b: b, s: req.Storage, name: name, cfg: &cfg, d: d, budget: budget}
	step := d.Get("step").(string)
	if resp := r.unusedFields(step); resp != nil {
		return resp, nil
	}
	switch step {
	case stepPublish:
		return r.publish()
	case stepSwitch:
		return r.switchKey()
	case stepCancel:
		return r.cancel()
	case stepAuto:
		return r.auto()
	default:
		return logical.ErrorResponse(fmt.Sprintf("step: %s is not one of auto, publish, switch, cancel", quote(step))), nil
	}
}

// keyRotation is one rotate-key request, under the config's name lock.
type keyRotation struct {
	ctx  context.Context
	b    *backend
	s    logical.Storage
	name string
	cfg  *vendorConfig
	d    *framework.FieldData
	// budget bounds the verifying grant, as a config write's (21.4).
	budget writeBudget
}

// nextKeyFields describe the next key: only a step that makes one uses
// them, and a step that would silently drop them refuses them instead.
var nextKeyFields = []string{"private_key", "key_type", "certificate", "signing_alg"}

func (r *keyRotation) unusedFields(step string) *logical.Response {
	makesKey := step == stepPublish || (step == stepAuto && r.cfg.NextPrivateKey == "")
	if f, given := firstGiven(r.d, nextKeyFields...); given && !makesKey {
		return logical.ErrorResponse(fmt.Sprintf("%s: step=%s does not make a key (one is already published, or the step uses the published one); give it with step=publish", f, step))
	}
	if _, given := r.d.GetOk("key_id"); given && step != stepSwitch {
		return logical.ErrorResponse(fmt.Sprintf("key_id: step=%s does not switch keys; give the ID the vendor assigned the new key with step=switch", step))
	}
	if step == stepAuto && !r.d.Get("verify").(bool) {
		return logical.ErrorResponse("verify: step=auto with verify=false would sign with the new key the moment it is published; use step=publish, then step=switch verify=false")
	}
	return nil
}

// publish makes the next key and publishes it; the current key keeps
// signing, so nothing readers get changes.
func (r *keyRotation) publish() (*logical.Response, error) {
	if resp := r.stageNext(); resp != nil {
		return resp, nil
	}
	if err := r.store(); err != nil {
		return nil, err
	}
	return r.answer(true), nil
}

// stageNext puts the next key in r.cfg (not stored); a response is the
// caller's mistake.
func (r *keyRotation) stageNext() *logical.Response {
	if r.cfg.NextPrivateKey != "" {
		return logical.ErrorResponse(fmt.Sprintf("a next key (kid %s) is already published for %q; step=switch or step=cancel first", kidOf(r.cfg.NextPrivateKey), r.name))
	}
	next, err := r.nextKey()
	if err != nil {
		return logical.ErrorResponse(err.Error())
	}
	r.cfg.NextPrivateKey = next
	if cert, ok := r.d.GetOk("certificate"); ok {
		r.cfg.NextCertificate = cert.(string)
	} else if r.cfg.Certificate != "" {
		// Entra ID finds the key by its certificate: a next key without one
		// would be refused there, an outage once it signs.
		return logical.ErrorResponse("certificate: the current key has one (the vendor finds the key by it); give the next key's private_key and certificate")
	}
	r.cfg.NextSigningAlg = r.cfg.SigningAlg
	if alg, ok := r.d.GetOk("signing_alg"); ok {
		r.cfg.NextSigningAlg = alg.(string)
	}
	if err := checkNextKey(r.cfg); err != nil {
		return logical.ErrorResponse(err.Error())
	}
	// The same key again (in any PEM form: the kid is the public key's
	// RFC 7638 thumbprint) would be listed twice in the JWKS under one kid
	// and rotate nothing.
	if kid := kidOf(next); kid == kidOf(r.cfg.PrivateKey) {
		return logical.ErrorResponse(fieldErr("private_key", "is the current signing key (kid %s); give a new key, or omit private_key to generate one", kid).Error())
	}
	return nil
}

// nextKey is the written private_key, else a new key of key_type (default:
// the current key's type).
func (r *keyRotation) nextKey() (string, error) {
	if v, ok := r.d.GetOk("private_key"); ok {
		return v.(string), nil
	}
	keyType := r.cfg.KeyType
	if v, ok := r.d.GetOk("key_type"); ok {
		keyType = v.(string)
	}
	if err := oneOf("key_type", keyType, keyRSA, keyEC); err != nil {
		return "", err
	}
	return oauth.GenerateKey(keyType)
}

// switchKey makes the published next key sign and unpublishes the old
// one. Verified (the default), a grant signed by the new key runs first:
// a vendor that does not know it yet refuses, and nothing changes.
func (r *keyRotation) switchKey() (*logical.Response, error) {
	if r.cfg.NextPrivateKey == "" {
		return logical.ErrorResponse(fmt.Sprintf("no next key is published for %q; step=publish first", r.name)), nil
	}
	if err := checkNextKey(r.cfg); err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	cfg := *r.cfg
	cfg.PrivateKey, cfg.Certificate, cfg.SigningAlg = cfg.NextPrivateKey, cfg.NextCertificate, cfg.NextSigningAlg
	cfg.NextPrivateKey, cfg.NextCertificate, cfg.NextSigningAlg = "", "", ""
	if k, err := oauth.ParsePrivateKey(cfg.PrivateKey); err == nil {
		cfg.KeyType = k.KeyType()
	}
	// key_id and a key file named the old key: the new one is the vendor's
	// new ID, or its thumbprint.
	cfg.KeyID, cfg.CredentialsJSON = "", ""
	if id, ok := r.d.GetOk("key_id"); ok {
		cfg.KeyID = id.(string)
		if err := validateKeyID(cfg.KeyID); err != nil {
			return logical.ErrorResponse(err.Error()), nil
		}
	}
	if !r.d.Get("verify").(bool) {
		// The cached token stays valid and keeps serving (same
		// generation); the next grant signs with the new key.
		*r.cfg = cfg
		if err := r.store(); err != nil {
			return nil, err
		}
		return r.answer(false), nil
	}
	cfg.Generation = rand.Uint64()
	return r.verifiedSwitch(&cfg)
}

func (r *keyRotation) verifiedSwitch(cfg *vendorConfig) (*logical.Response, error) {
	ctx := r.ctx
	st, err := loadStatus(ctx, r.s, r.name)
	if err != nil {
		return nil, err
	}
	gctx, cancel := r.budget.grantContext(ctx)
	defer cancel()
	started := time.Now()
	tok, fail, err := r.b.verifyGrant(gctx, r.s, r.name, cfg, r.b.metrics.forConfig(r.name), true, st)
	if err != nil {
		return nil, err
	}
	if fail != nil && ranOut(gctx) {
		return nil, r.budget.grantTimedOut(r.name, "the grant signed by the new key (kid "+kidOf(cfg.PrivateKey)+")",
			"the current key keeps signing and both stay published", started)
	}
	if fail != nil {
		return logical.ErrorResponse(fmt.Sprintf(
			"a grant signed by the new key (kid %s) failed: %s. The current key keeps signing and both stay published in jwks/%s; "+
				"run rotate-key/%s step=switch once the vendor knows the new key, or step=cancel",
			kidOf(cfg.PrivateKey), fail.err.Error(), r.name, r.name)), nil
	}
	if err := storeConfig(ctx, r.s, r.name, cfg); err != nil {
		return nil, err
	}
	if err := r.b.afterConfigWrite(ctx, r.s, r.name, true, tok, st); err != nil {
		return nil, err
	}
	*r.cfg = *cfg
	resp := r.answer(false)
	resp.Data["expires_at"] = rfc3339(tok.ExpiresAt)
	return resp, nil
}

func (r *keyRotation) cancel() (*logical.Response, error) {
	if r.cfg.NextPrivateKey == "" {
		return logical.ErrorResponse(fmt.Sprintf("no next key is published for %q", r.name)), nil
	}
	r.cfg.NextPrivateKey, r.cfg.NextCertificate, r.cfg.NextSigningAlg = "", "", ""
	if err := r.store(); err != nil {
		return nil, err
	}
	return r.answer(false), nil
}

// store writes the rotation's state and drops the in-memory entry, whose
// signer is of the old state (jwks/<name> reads storage itself).
func (r *keyRotation) store() error {
	if err := storeConfig(r.ctx, r.s, r.name, r.cfg); err != nil {
		return err
	}
	r.b.forgetLocked(r.name)
	return nil
}

// auto publishes (unless a next key is already published) and switches.
// The published state is stored before the verifying grant: the vendor
// fetches the JWKS during that grant and must find the new key there.
func (r *keyRotation) auto() (*logical.Response, error) {
	if r.cfg.NextPrivateKey == "" {
		if resp := r.stageNext(); resp != nil {
			return resp, nil
		}
		if err := r.store(); err != nil {
			return nil, err
		}
	}
	resp, err := r.switchKey()
	if err == nil {
		return resp, nil
	}
	why := fmt.Sprintf("the next key (kid %s) of %q is published but did not switch", kidOf(r.cfg.NextPrivateKey), r.name)
	// A CodedError's status crosses the plugin's gRPC hop only unwrapped.
	var coded logical.HTTPCodedError
	if errors.As(err, &coded) {
		return nil, logical.CodedError(coded.Code(), why+": "+err.Error())
	}
	return nil, fmt.Errorf("%s: %w", why, err)
}

// answer shows the rotation's state: kids, and for a fresh publish the
// next key's public half (to upload where the vendor has no jwks_uri).
func (r *keyRotation) answer(withNextPublic bool) *logical.Response {
	data := map[string]interface{}{"current_kid": signingKid(r.cfg)}
	if r.cfg.NextPrivateKey == "" {
		return &logical.Response{Data: data}
	}
	k, err := oauth.ParsePrivateKey(r.cfg.NextPrivateKey)
	if err != nil {
		data["next_kid"] = "" // as kidOf answers for a key that does not parse
		return &logical.Response{Data: data}
	}
	data["next_kid"] = k.Kid()
	if withNextPublic {
		data["next_public_key"] = k.PublicPEM()
		next := publishedKey{key: r.cfg.NextPrivateKey, cert: r.cfg.NextCertificate, next: true}
		if jwk, err := publicJWKOf(r.cfg, k, next); err == nil {
			data["next_jwk"] = asMap(jwk)
		}
	}
	return &logical.Response{Data: data}
}

// asMap is v as the JSON object a client sees (the response crosses the
// plugin's gRPC hop as JSON either way).
func asMap(v interface{}) map[string]interface{} {
	var out map[string]interface{}
	if b, err := json.Marshal(v); err == nil {
		_ = json.Unmarshal(b, &out)
	}
	return out
}
