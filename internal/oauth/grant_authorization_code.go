package oauth

// authorizationCodeGrant: a user-delegated connection. With Code set the
// request is the one-time exchange of RFC 6749 4.1.3 (redirect_uri as the
// authorize request sent it, RFC 7636 4.5's code_verifier, no scope: the
// consent fixed it); otherwise it is RFC 6749 6's refresh with the
// refresh token that exchange, or the last refresh, gave, without scope
// unless ScopeOnRefresh (RFC 6749 6: omitted, the scope granted stays; a
// user who granted less than asked would otherwise be refused). The client
// authenticates as configured; a public client (client_auth none) sends
// its client_id alone.
var authorizationCodeGrant = grant{
	fields: func(f map[string]string, c *Config, _ grantInputs) {
		if c.ClientAuth == AuthNone {
			// A public client (RFC 6749 2.1) sends no credentials but
			// names itself (4.1.3; 6 by 3.2.1); PKCE proves it is the
			// client that asked for the code.
			f["client_id"] = c.ClientID
		}
		if c.Code == "" {
			f["grant_type"] = GrantRefreshToken
			f["refresh_token"] = c.RefreshToken
			return
		}
		f["grant_type"] = GrantAuthorizationCode
		f["code"] = c.Code
		setIf(f, "redirect_uri", c.RedirectURL)
		setIf(f, "code_verifier", c.CodeVerifier)
	},
	authenticates:  true,
	clientOptional: true,
	scopeless:      func(c *Config) bool { return c.Code != "" || !c.ScopeOnRefresh },
}
