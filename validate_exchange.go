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
