package oauth

// clientCredentialsGrant: RFC 6749 4.4.2, the client's own credentials.
var clientCredentialsGrant = grant{
	fields: func(f map[string]string, c *Config, _ grantInputs) {
		f["grant_type"] = GrantClientCredentials
	},
	authenticates: true,
}
