package oauthvendor

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
)

// verifyWrite runs the grant with the config about to be stored, as the
// database engine's verify_connection does (API.md "Writes"): a config the
// vendor refuses is never stored, so a mistyped secret cannot take down
// the readers of a working one. The grant counts in status like any other
// (the vendor saw it) but moves no back-off: the stored config is not the
// one that failed.
//
// counts is where the grant counts: the config's series when it exists,
// counts apart for a create (adopted only once it is stored).
//
// The grant has what is left of the write's budget: one that runs out of
// it is a 504 naming the verify grant, not Vault's "context canceled".
func (b *backend) verifyWrite(ctx context.Context, s logical.Storage, name string, cfg *vendorConfig, counts *configMetrics, existed bool, st *grantStatus, budget writeBudget) (*cachedToken, *logical.Response, error) {
	gctx, cancel := budget.grantContext(ctx)
	defer cancel()
	started := time.Now()
	tok, fail, err := b.verifyGrant(gctx, s, name, cfg, counts, existed, st)
	if err != nil || fail == nil {
		return tok, nil, err
	}
	if ranOut(gctx) {
		return nil, nil, budget.verifyTimedOut(name, started)
	}
	kept := "nothing was stored and the current config keeps serving"
	if !existed {
		kept = "nothing was stored (there is no config " + quote(name) + " yet)"
	}
	return nil, logical.ErrorResponse(fmt.Sprintf(
		"%s; %s (verify=false stores it without asking the vendor)", fail.err.Error(), kept)), nil
}

// verifyGrant runs the grant of a config not yet stored; a failure is the
// vendor's refusal, counted in status when the config exists.
func (b *backend) verifyGrant(ctx context.Context, s logical.Storage, name string, cfg *vendorConfig, counts *configMetrics, existed bool, st *grantStatus) (*cachedToken, *grantFailure, error) {
	conn, err := b.connectCounting(ctx, s, name, cfg, counts)
	if err != nil {
		return nil, nil, err
	}
	defer conn.release()
	tok, fail := conn.grant(ctx, b.now, b.subjectSource(s, conn))
	if fail == nil {
		return tok, nil, nil
	}
	if existed {
		st.refused(b.now(), fail)
		// Not bounded by the grant's deadline: the status is stored even
		// when the grant ran out of the write's time.
		b.saveStatus(context.WithoutCancel(ctx), s, name, st)
	}
	b.Logger().Warn("vendor refused a verifying grant", "config", name, "error", fail.err.Error())
	return nil, fail, nil
}

// secretsFollowHost: stored write-only values were given for one token
// endpoint, reached over one TLS trust; a write that moves it to another
// scheme, host or port, or changes whom TLS trusts (ca_cert) or what it
// presents (tls_client_cert), must give them again, so that whoever may
// write configs but never knew the secrets cannot have them sent to a host
// of their choosing. A writer who also controls DNS or the path needs no
// new host: a ca_cert of their own makes their server the token endpoint.
func secretsFollowHost(old, cur *vendorConfig, d *framework.FieldData) error {
	if old == nil {
		return nil
	}
	field, change := endpointChange(old, cur, d)
	if field == "" {
		return nil
	}
	var missing []string
	for field, set := range old.sentSecretsSet() {
		if _, given := d.GetOk(field); set && !given {
			missing = append(missing, field)
		}
	}
	if signsForThisHost(old, field) && !keyGiven(d) {
		missing = append(missing, "private_key")
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	return fieldErr(field, "%s: give %s again in the same write (stored secrets are only sent to the endpoint they were written for)",
		change, strings.Join(missing, ", "))
}

// signsForThisHost: a private_key_jwt assertion's aud stays the vendor's
// when only the TLS trust changes (a host move moves the default aud, and
// audienceFollowsHost holds a written one), so a server the new CA vouches
// for would get an assertion it could replay at the vendor (RFC 7523 3:
// the aud check is the only thing binding it). So would a device
// authorization endpoint on another host: the assertion it gets names the
// token endpoint. A key generated in Vault
// cannot be given again: such a config changes its TLS trust with a key of
// the operator's, or is written anew.
func signsForThisHost(old *vendorConfig, field string) bool {
	return (field == "ca_cert" || field == "tls_client_cert" || field == "device_auth_url") && old.effective().signsWithKey() && old.PrivateKey != ""
}

// endpointChange names the field of a write that changes where, or over
// which TLS, the token request goes, and how; "" when none does.
func endpointChange(old, cur *vendorConfig, d *framework.FieldData) (field, change string) {
	oldEff, curEff := old.effective(), cur.effective()
	if from, to := origin(oldEff.TokenURL), origin(curEff.TokenURL); from != to {
		field = "token_url"
		if _, ok := d.GetOk("token_url"); !ok && cur.TokenURLDiscovered {
			field = "issuer" // discovery moved it
		}
		return field, fmt.Sprintf("moves the token endpoint from %s to %s", from, to)
	}
	if field, change := deviceEndpointChange(oldEff, curEff, cur, d); field != "" {
		return field, change
	}
	if pemIdentity(oldEff.CACert) != pemIdentity(curEff.CACert) {
		return "ca_cert", "changes the CA the token endpoint's certificate is checked against"
	}
	if pemIdentity(oldEff.TLSClientCert) != pemIdentity(curEff.TLSClientCert) {
		return "tls_client_cert", "changes the client certificate presented to the token endpoint"
	}
	return "", ""
}

// deviceEndpointChange: the device authorization request carries the
// client's credentials too (RFC 8628 3.1), so a device_auth_url on a host
// they were not sent to before (neither the token endpoint's nor the
// previous device endpoint's) is a move like token_url's. Every vendor's
// device endpoint shares its token endpoint's host (Entra ID, Google,
// GitHub, oidc-provider), which needs nothing given again. The error names
// device_auth_url even when the issuer's metadata moved it: signsForThisHost
// goes by that name, and writing device_auth_url is one way out.
func deviceEndpointChange(oldEff, curEff, cur *vendorConfig, d *framework.FieldData) (field, change string) {
	to := origin(curEff.DeviceAuthURL)
	if curEff.DeviceAuthURL == "" || to == origin(oldEff.DeviceAuthURL) || to == origin(oldEff.TokenURL) {
		return "", ""
	}
	from := ""
	if _, ok := d.GetOk("device_auth_url"); !ok && cur.DeviceAuthURLDiscovered {
		from = " (the issuer's metadata names it)"
	}
	return "device_auth_url", fmt.Sprintf("sends the client's credentials to a device authorization endpoint at %s%s, not %s",
		to, from, origin(oldEff.TokenURL))
}

// pemIdentity is what a PEM field means, its certificates' DER, so that
// the same certificates pasted with other line breaks are no change.
func pemIdentity(text string) string {
	certs, err := oauth.CertificatesOnly(text)
	if err != nil {
		return text
	}
	var b strings.Builder
	for _, c := range certs {
		b.Write(c.Raw)
	}
	return b.String()
}

// apiKeyStaysUnread: api_key_in_creds makes every creds read return the
// stored api_key. Turning it on is making a write-only value readable, so
// only a write that gives the key (whoever knows it decides) may do it.
func apiKeyStaysUnread(old, cur *vendorConfig, d *framework.FieldData) error {
	if old == nil || old.effective().apiKeyInCreds() || !cur.effective().apiKeyInCreds() || cur.APIKey == "" {
		return nil
	}
	if _, given := d.GetOk("api_key"); given {
		return nil
	}
	return fieldErr("api_key_in_creds", "turning it on makes every creds read return the stored api_key: give api_key again in the same write")
}

// audienceFollowsHost: a private_key_jwt assertion is good at the server
// its aud names. One for another server than token_url's, sent to
// token_url, could be replayed there within its lifetime; so an audience
// off token_url's host is only signed for when the write gives the
// private_key too (whoever holds the key decides), never by a write that
// only moves token_url, issuer or assertion_audience. The default audience
// is the token URL itself.
func audienceFollowsHost(cur *vendorConfig, d *framework.FieldData) error {
	eff := cur.effective()
	if !eff.signsWithKey() || cur.AssertionAudience == "" {
		return nil
	}
	if keyGiven(d) {
		return nil
	}
	_, touched := firstGiven(d, "token_url", "issuer", "assertion_audience", "client_auth")
	if !touched || origin(cur.AssertionAudience) == origin(eff.TokenURL) {
		return nil
	}
	return fieldErr("assertion_audience", "%s is not on the token endpoint's host %s: an assertion for another server is signed only when the same write gives private_key",
		quote(cur.AssertionAudience), origin(eff.TokenURL))
}

// origin is scheme://host:port with the default port spelled out (oauth.Origin).
func origin(raw string) string { return oauth.Origin(raw) }
