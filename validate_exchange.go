package oauthvendor

import (
	"net/url"
	"strings"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
)

// validateGrantFields checks the fields of the account_credentials and
// token_exchange grants, and client_auth=none against the grant.
// subject_config's existence and chain are checked against storage by
// the write (subject_chain.go).
func validateGrantFields(c *vendorConfig) error {
	if c.ClientAuth == authNone && oauth.NeedsClient(c.GrantType) {
		return fieldErr("client_auth", "none sends no client credentials; grant_type %s needs the client authenticated (none is for token_exchange and jwt_bearer)", c.GrantType)
	}
	if c.SubjectConfig != "" && c.GrantType != grantTokenExchange {
		return fieldErr("subject_config", "only with grant_type token_exchange (give subject_config=\"\" to drop it)")
	}
	if err := validateSubjectSource(c); err != nil {
		return err
	}
	if c.SubjectConfig != "" {
		if err := validateName(c.SubjectConfig); err != nil {
			return fieldErr("subject_config", "%s", err.(*fieldError).reason)
		}
	}
	for field, v := range map[string]string{"account_id": c.AccountID, "audience": c.Audience} {
		if len(v) > maxStringLen || hasCTL(v) {
			return fieldErr(field, "longer than %d bytes or has a control character", maxStringLen)
		}
	}
	for field, v := range map[string]string{"subject_token_type": c.SubjectTokenType, "requested_token_type": c.RequestedTokenType} {
		if err := validateTokenTypeURI(field, v); err != nil {
			return err
		}
	}
	if len(c.ExchangeURLs) > maxPairs {
		return fieldErr("exchange_urls", "more than %d token endpoints", maxPairs)
	}
	for _, u := range c.ExchangeURLs {
		if err := validateEndpoint("exchange_urls", u); err != nil {
			return err
		}
	}
	return validateResource(c.Resource)
}

// validateSubjectSource: a token_exchange's subject token has exactly one
// source (issue 19.3): another config's token (subject_config) or a JWT
// of assertion_source (the mount's issuer, Vault's identity token). The
// issuer's JWT names its audience: the token URL is rarely it (Google
// STS wants the workload identity provider, Databricks its account or
// federation policy's audience).
func validateSubjectSource(c *vendorConfig) error {
	if c.GrantType != grantTokenExchange {
		return nil
	}
	switch fromConfig, fromSource := c.SubjectConfig != "", c.AssertionSource != sourceKey; {
	case fromConfig && fromSource:
		return fieldErr("subject_config", "and assertion_source=%s are two sources of the subject token; give one (subject_config=\"\" or assertion_source=key)", c.AssertionSource)
	case !fromConfig && !fromSource:
		return fieldErr("subject_config", "or assertion_source required for grant_type token_exchange: the subject token is another config's token (subject_config=<name>) or a JWT of the mount's issuer (assertion_source=issuer) or of Vault (assertion_source=vault_identity)")
	case c.AssertionSource == sourceIssuer && c.AssertionAudience == "":
		return fieldErr("assertion_audience", "required for token_exchange with assertion_source=issuer: the subject JWT's aud, what the vendor's trust (workload identity provider, federation policy) expects")
	}
	return nil
}

// validateTokenTypeURI: RFC 8693 3 identifies token types by URI
// (urn:ietf:params:oauth:token-type:jwt and its siblings).
func validateTokenTypeURI(field, v string) error {
	if v == "" {
		return nil
	}
	if len(v) > maxStringLen || hasCTL(v) || strings.ContainsAny(v, " \t") || !strings.Contains(v, ":") {
		return fieldErr(field, "%s is not a token type URI such as %s (RFC 8693 3)", quote(v), oauth.TokenTypeJWT)
	}
	return nil
}

// validateResource: RFC 8693 2.1 (and RFC 8707 2): an absolute URI
// without a fragment.
func validateResource(v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || !u.IsAbs() || u.Fragment != "" || len(v) > maxTokenURL || hasCTL(v) {
		return fieldErr("resource", "%s is not an absolute URI without a fragment (RFC 8693 2.1)", quote(v))
	}
	return nil
}
