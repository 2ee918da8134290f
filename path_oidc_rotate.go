package oauthvendor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
)

// oidc/rotate-key rotates the mount's issuer key as rotate-key/<name>
// rotates a config's: the new key is published in .well-known/keys
// before it signs. There is no verifying grant (many relying parties
// trust the issuer, none of them is the judge); a switched-out key stays
// published for retiredKeyKept. Configs see the new key at their next
// assertion, without a config write (issuerSigner follows the version).
func pathOIDCRotate(b *backend) *framework.Path {
	return &framework.Path{
		Pattern: "oidc/rotate-key$",
		Fields: map[string]*framework.FieldSchema{
			"step":     {Type: framework.TypeString, Description: "publish (the next key joins the JWKS, not yet signing), switch (it signs; the old key stays published until its assertions have expired), cancel, or auto (publish and switch at once, for relying parties that refetch the JWKS on an unknown kid).", Default: stepPublish, AllowedValues: []interface{}{stepPublish, stepSwitch, stepCancel, stepAuto}},
			"key_type": {Type: framework.TypeString, Description: "With publish or auto: rsa or ec (default: the current key's type).", AllowedValues: []interface{}{keyRSA, keyEC}},
		},
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.UpdateOperation: &framework.PathOperation{Callback: b.pathOIDCRotateWrite, Summary: "Rotate the issuer's signing key without downtime.", Responses: okResponse(oidcConfigResponseFields)},
		},
		HelpSynopsis: "Rotate the mount's issuer key: the new key is published before it signs.",
		HelpDescription: `step=publish (default) adds a new key to .well-known/keys; once relying
parties have fetched it (their JWKS cache time), step=switch makes it sign.
The old key stays published until no assertion it signed can be valid.
step=auto does both at once: for relying parties that refetch on an
unknown kid. step=cancel drops a published next key.`,
	}
}

func (b *backend) pathOIDCRotateWrite(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	return b.updateIssuer(ctx, req.Storage, func(rec *issuerRecord) error {
		if rec.Key.PEM == "" {
			return errors.New("this mount is not an OIDC issuer yet: write oidc/config issuer=... first")
		}
		step := d.Get("step").(string)
		if _, given := d.GetOk("key_type"); given && step != stepPublish && (step != stepAuto || rec.Next != nil) {
			return fmt.Errorf("key_type: step=%s makes no key; give it with step=publish", step)
		}
		return rotateIssuer(rec, step, d, b.now())
	})
}

// rotateIssuer applies one step to rec (not stored); an error is the
// caller's mistake.
func rotateIssuer(rec *issuerRecord, step string, d *framework.FieldData, now time.Time) error {
	switch step {
	case stepPublish:
		return publishIssuerKey(rec, d, now)
	case stepSwitch:
		return switchIssuerKey(rec, now)
	case stepCancel:
		if rec.Next == nil {
			return fmt.Errorf("no next key is published")
		}
		rec.Next = nil
		return nil
	case stepAuto:
		if rec.Next == nil {
			if err := publishIssuerKey(rec, d, now); err != nil {
				return err
			}
		}
		return switchIssuerKey(rec, now)
	}
	return fmt.Errorf("step: %s is not one of publish, switch, cancel, auto", quote(step))
}

// publishIssuerKey adds a next key of key_type (default: the current
// key's) and drops the retired keys whose time is up.
func publishIssuerKey(rec *issuerRecord, d *framework.FieldData, now time.Time) error {
	if rec.Next != nil {
		return fmt.Errorf("a next key (kid %s) is already published; step=switch or step=cancel first", kidOf(rec.Next.PEM))
	}
	keyType := keyRSA
	if k, err := oauth.ParsePrivateKey(rec.Key.PEM); err == nil {
		keyType = k.KeyType()
	}
	if v, ok := d.GetOk("key_type"); ok {
		keyType = v.(string)
	}
	if err := oneOf("key_type", keyType, keyRSA, keyEC); err != nil {
		return err
	}
	next, err := newIssuerKey(keyType)
	if err != nil {
		return err
	}
	rec.Next = &next
	kept := rec.Retired[:0]
	for _, k := range rec.Retired {
		if now.Before(k.Until) {
			kept = append(kept, k)
		}
	}
	rec.Retired = kept
	return nil
}

// switchIssuerKey makes the published next key sign; the old one stays
// published until no assertion it signed can still be valid.
func switchIssuerKey(rec *issuerRecord, now time.Time) error {
	if rec.Next == nil {
		return fmt.Errorf("no next key is published; step=publish first")
	}
	old := rec.Key
	old.Until = now.Add(retiredKeyKept)
	rec.Retired = append(rec.Retired, old)
	rec.Key, rec.Next = *rec.Next, nil
	return nil
}
