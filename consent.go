package oauthvendor

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
)

// A user's consent to a user-delegated connection (grant_type
// authorization_code, RFC 6749 4.1 with PKCE, RFC 7636): consent/<name>
// starts one (an authorize URL with a one-time state and an S256
// challenge), and the vendor's redirect to callback, or the operator's
// consent/<name> code=..., finishes it: the state is checked and spent,
// then the code is exchanged for the first refresh token
// (refreshtoken.go keeps it). Both run under the name lock, on the node
// that can write (a standby forwards: logical.ErrReadOnly).

// stateSep ends the config name the state starts with: the callback finds
// the consent from the state alone (no name in the redirect), and "~"
// is in no config name and no base64url text.
const stateSep = "~"

// consentRefused is a consent that cannot finish for a reason of the
// caller's (a wrong or expired state, a config that is not
// authorization_code): a 400, never a vendor request.
type consentRefused struct{ msg string }

func (e *consentRefused) Error() string { return e.msg }

func refuseConsent(format string, args ...interface{}) error {
	return &consentRefused{msg: fmt.Sprintf(format, args...)}
}

// startConsent stores a new consent of name and returns its authorize URL.
func (b *backend) startConsent(ctx context.Context, s logical.Storage, name string) (*oauth.Consent, *consentRecord, error) {
	if b.readOnly() {
		return nil, nil, logical.ErrReadOnly
	}
	unlock := b.locks.lock(name)
	defer unlock()
	cfg, err := mustLoadConfig(ctx, s, name)
	if err != nil {
		return nil, nil, err
	}
	eff := cfg.effective()
	if !eff.userDelegated() {
		return nil, nil, refuseConsent("grant_type: config %q is %s; consent is for grant_type %s", name, eff.GrantType, grantAuthorizationCode)
	}
	if eff.RedirectURL == "" {
		return nil, nil, refuseConsent("redirect_url: config %q has none (a device-only connection): consent with consent/%s method=device", name, name)
	}
	c, err := oauth.NewConsent(eff.AuthURL, oauthConfigOf(name, eff), name+stateSep, eff.AuthorizeParams)
	if err != nil {
		return nil, nil, fmt.Errorf("config %q: building the authorize URL: %w", name, err)
	}
	if err := b.forgetDevice(ctx, s, name); err != nil {
		return nil, nil, err // a new consent replaces the device one
	}
	now := b.now()
	rec := &consentRecord{StateHash: stateHash(c.State), Verifier: c.Verifier, Generation: cfg.Generation,
		StartedAt: now, ExpiresAt: now.Add(consentTTL)}
	if err := storeConsent(ctx, s, name, rec); err != nil {
		return nil, nil, readOnlyOr(err)
	}
	return c, rec, nil
}

func stateHash(state string) string {
	sum := sha256.Sum256([]byte(state))
	return hex.EncodeToString(sum[:])
}

// consentName is the config a callback's state was made for; "" when the
// state cannot be one of this mount's.
func consentName(state string) string {
	i := strings.LastIndex(state, stateSep)
	if i <= 0 || validateName(state[:i]) != nil || !storableName(state[:i]) {
		return ""
	}
	return state[:i]
}

// finishConsent spends the consent of name (checking state when given:
// the callback always gives it, an operator writing the code back may
// not) and exchanges code for the first refresh token. The consent is
// deleted before the exchange: a replayed callback finds none.
func (b *backend) finishConsent(ctx context.Context, s logical.Storage, name, state, code string) (*cachedToken, []string, error) {
	if b.readOnly() {
		return nil, nil, logical.ErrReadOnly
	}
	unlock := b.locks.lock(name)
	defer unlock()
	e, rec, err := b.spendConsent(ctx, s, name, state)
	if err != nil {
		return nil, nil, err
	}
	tok, fresh, fail := e.conn.grantWith(ctx, b.now, grantInput{code: code, verifier: rec.Verifier})
	if fail != nil && fail.refreshToken != "" {
		// The answer is refused (its access token unusable) but its
		// refresh token is good: keep it, and readers refresh with it.
		b.consented(ctx, s, e, nil, fail.refreshToken)
		return nil, nil, fmt.Errorf("%w (its refresh token is kept: creds/%s refreshes with it)", fail.err, name)
	}
	if fail != nil {
		b.Logger().Warn("the vendor refused the consent's code", "config", name, "error", fail.err.Error())
		return nil, nil, fail.err
	}
	if fresh == "" {
		return nil, nil, withoutRefreshToken(name)
	}
	return tok, b.consented(ctx, s, e, tok, fresh), nil
}

// withoutRefreshToken: a consent whose token came without a refresh
// token (either method) would die with that access token.
func withoutRefreshToken(name string) error {
	return logical.CodedError(502, fmt.Sprintf("vendor config %q: the token endpoint answered the consent without a refresh_token, so the connection would die with this access token: "+
		"ask for offline access (Google: authorize_params access_type=offline and prompt=consent; Microsoft, Xero, Atlassian: scope offline_access) and consent again", name))
}

// spendConsent checks the consent in progress of name against state and
// deletes it; it returns the entry to exchange its code with.
// refuseNoConsent is one answer for a state that matches nothing, whether
// a consent is in progress or not: the callback is unauthenticated, and
// two answers would tell anyone which configs wait for a consent.
func refuseNoConsent(name string) error {
	return refuseConsent("state: matches no consent in progress for %q (it finished, expired or never started, or the link is an older consent's): use the newest authorize_url, or run consent/%s again", name, name)
}

func (b *backend) spendConsent(ctx context.Context, s logical.Storage, name, state string) (*entry, *consentRecord, error) {
	e, err := b.entryLocked(ctx, s, name)
	if err != nil {
		return nil, nil, err
	}
	rec, err := loadConsent(ctx, s, name)
	switch {
	case err != nil:
		return nil, nil, err
	case e == nil || rec == nil:
		return nil, nil, refuseNoConsent(name)
	case state != "" && subtle.ConstantTimeCompare([]byte(stateHash(state)), []byte(rec.StateHash)) != 1:
		// Not spent: a stray or forged callback must not cancel the
		// operator's consent.
		return nil, nil, refuseNoConsent(name)
	}
	if err := s.Delete(ctx, consentPrefix+name); err != nil {
		return nil, nil, readOnlyOr(fmt.Errorf("spending the consent of %q: %w", name, err))
	}
	switch {
	case !b.now().Before(rec.ExpiresAt):
		return nil, nil, refuseConsent("state: the consent for %q expired at %s (%s after it started): run consent/%s again", name, rfc3339(rec.ExpiresAt), consentTTL, name)
	case rec.Generation != e.conn.cfg.Generation:
		return nil, nil, refuseConsent("state: config %q changed since its consent started: run consent/%s again", name, name)
	}
	return e, rec, nil
}

// consented: the first refresh token is kept like a rotated one (memory
// first, then storage), the access token (when there is one) cached, and
// the connection leaves needs-consent. Persists: refresh/<name>, token/<name>, status/<name>;
// needsconsent/<name> deleted.
// What storage refused is a warning: the connection serves from memory.
func (b *backend) consented(ctx context.Context, s logical.Storage, e *entry, tok *cachedToken, fresh string) []string {
	name, now := e.conn.name, b.now()
	var warnings []string
	rec := &refreshRecord{Current: fresh, ConsentedAt: now}
	b.pending.Store(name, rec)
	b.storePending(ctx, s, name, rec)
	if _, ok := b.pending.Load(name); ok {
		warnings = append(warnings, "the refresh token could not be stored yet: this node keeps it in memory and stores it at the next read or periodic pass")
	}
	st, err := loadStatus(ctx, s, name)
	if err != nil {
		st = &grantStatus{}
	}
	st.NeedsConsent, st.LastError, st.LastErrorCode = false, "", 0
	st.resetBackoff()
	if tok != nil { // nil: the exchange's access token was refused
		if err := storeToken(ctx, s, name, tok); err != nil {
			warnings = append(warnings, "the access token could not be cached in storage: "+err.Error())
		}
		st.succeeded(now, tok)
		e.tok.Store(tok)
	}
	b.saveStatus(ctx, s, name, st)
	b.dropConsentMark(ctx, s, name)
	e.failure.Store(nil)
	e.conn.m.needsConsent.Store(false)
	b.Logger().Info("consent finished: refresh token held", "config", name)
	return warnings
}
