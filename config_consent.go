package oauthvendor

import (
	"context"
	"fmt"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
)

// What a config write and read do for a user-delegated connection
// (grant_type authorization_code): its refresh token follows the client
// it was issued to, and a read says whether one is held.

// afterUserDelegatedWrite runs after a stored config write, under the
// name lock. A refresh token was issued to one client at one token
// endpoint: a write that changes either (or the grant) drops it, as
// secrets follow their host, and the connection needs consent. It
// returns the write's next-step warning.
func (b *backend) afterUserDelegatedWrite(ctx context.Context, s logical.Storage, name string, old, cfg *vendorConfig) (string, error) {
	eff := cfg.effective()
	wasDelegated := old != nil && old.effective().userDelegated()
	if !eff.userDelegated() {
		if wasDelegated {
			return "", b.leaveUserDelegated(ctx, s, name)
		}
		return "", nil
	}
	if !wasDelegated || !sameClient(old.effective(), eff) {
		if err := b.dropRefresh(ctx, s, name); err != nil {
			return "", err
		}
		if err := b.markNeedsConsent(ctx, s, name); err != nil {
			return "", err
		}
	}
	if held, err := b.refreshTokenSet(ctx, s, name); err != nil || held {
		return "", err
	}
	return fmt.Sprintf("not verified: a user-delegated connection has no grant before a user's consent. Next: vault write <mount>/consent/%s, open the authorize_url it answers and approve; "+
		"the vendor redirects to redirect_url (this mount's callback finishes it; elsewhere, write the code back with consent/%s code=...); "+
		"or, with device_auth_url, vault write <mount>/consent/%s method=device and give the user its user_code and verification_uri", name, name, name), nil
}

// sameClient: the refresh token of a may be sent with b: the same client
// at the same token endpoint origin, trusting the same CA and presenting
// the same client certificate. A public client (client_auth none) has no
// stored secret a writer must give again, so a new CA (a server of the
// writer's under the vendor's name) would otherwise receive the user's
// refresh token.
func sameClient(a, b *vendorConfig) bool {
	return a.ClientID == b.ClientID && oauth.Origin(a.TokenURL) == oauth.Origin(b.TokenURL) &&
		pemIdentity(a.CACert) == pemIdentity(b.CACert) && pemIdentity(a.TLSClientCert) == pemIdentity(b.TLSClientCert)
}

// markNeedsConsent records that no refresh token is held. Persists:
// status/<name> needs_consent, needsconsent/<name> (consentmark.go).
func (b *backend) markNeedsConsent(ctx context.Context, s logical.Storage, name string) error {
	st, err := loadStatus(ctx, s, name)
	if err != nil {
		return err
	}
	st.NeedsConsent = true
	st.LastError = consentNeeded(name, "no refresh token is held (no consent finished yet)", false).Error()
	st.LastErrorCode = codeOf(consentNeeded(name, "", false))
	b.metrics.forConfig(name).needsConsent.Store(true)
	if err := storeStatus(ctx, s, name, st); err != nil {
		return err
	}
	b.putConsentMark(ctx, s, name)
	return nil
}

// leaveUserDelegated: a config written to another grant needs no consent
// any more (its refresh grant never runs again). Persists: refresh/,
// consent/, device/ and needsconsent/<name> deleted, status/<name>
// without needs_consent.
func (b *backend) leaveUserDelegated(ctx context.Context, s logical.Storage, name string) error {
	if err := b.dropRefresh(ctx, s, name); err != nil {
		return err
	}
	b.metrics.forConfig(name).needsConsent.Store(false)
	st, err := loadStatus(ctx, s, name)
	if err != nil {
		return err
	}
	if st.NeedsConsent {
		st.NeedsConsent = false
		if err := storeStatus(ctx, s, name, st); err != nil {
			return err
		}
	}
	return deleteRecords(ctx, s, name, consentMarkPrefix)
}

// consentFields adds to a config read whether a refresh token is held
// (never its value), whether the connection waits for consent, and until
// when a started consent can finish.
func (b *backend) consentFields(ctx context.Context, s logical.Storage, name string, data map[string]interface{}) error {
	held, err := b.refreshTokenSet(ctx, s, name)
	if err != nil {
		return err
	}
	st, err := loadStatus(ctx, s, name)
	if err != nil {
		return err
	}
	rec, err := loadConsent(ctx, s, name)
	if err != nil {
		return err
	}
	data["refresh_token_set"] = held
	data["needs_consent"] = st.NeedsConsent
	data["consent_expires_at"] = ""
	if rec != nil && b.now().Before(rec.ExpiresAt) {
		data["consent_expires_at"] = rfc3339(rec.ExpiresAt)
	}
	if dp := st.Device; dp != nil && dp.pending(b.now()) {
		data["consent_expires_at"] = rfc3339(dp.ExpiresAt)
	}
	return nil
}

// consentReadFields are consentFields' schema.
var consentReadFields = map[string]*framework.FieldSchema{
	"refresh_token_set":  {Type: framework.TypeBool, Description: "authorization_code: a refresh token is held (the value is write-only)."},
	"needs_consent":      {Type: framework.TypeBool, Description: "authorization_code: no refresh grant runs until a user consents (consent/<name>)."},
	"consent_expires_at": {Type: framework.TypeString, Description: "authorization_code: RFC 3339 end of the consent in progress, if any."},
}
