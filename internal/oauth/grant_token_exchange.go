package oauth

// tokenExchangeGrant: RFC 8693 2.1. The subject token comes from the
// caller's SubjectSource (another connection's current token, an issuer's
// JWT); subject_token_type is the config's when set, else the one the
// source gives. audience, resource and requested_token_type go out once
// each when set: RFC 8693 lets audience and resource repeat, but the
// vendors this serves (Databricks, Google STS) take one, and one target
// per connection keeps a token's audience readable from its config.
// Client authentication is the config's, or none (Google STS).
var tokenExchangeGrant = grant{
	fields: func(f map[string]string, c *Config, in grantInputs) {
		f["grant_type"] = TokenExchangeGrantType
		if in.subject != nil {
			f["subject_token"] = in.subject.Token
			f["subject_token_type"] = subjectTokenType(c, in.subject)
		}
		setIf(f, "audience", c.Audience)
		setIf(f, "resource", c.Resource)
		setIf(f, "requested_token_type", c.RequestedTokenType)
	},
	authenticates:  true,
	clientOptional: true,
	exchanges:      true,
}

// subjectTokenType: the config's subject_token_type wins (a connection
// whose access tokens are JWTs a vendor wants typed as jwt), else the
// source's own, else RFC 8693 3's access_token.
func subjectTokenType(c *Config, s *SubjectToken) string {
	switch {
	case c.SubjectTokenType != "":
		return c.SubjectTokenType
	case s.Type != "":
		return s.Type
	}
	return TokenTypeAccessToken
}
