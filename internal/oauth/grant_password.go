package oauth

// passwordGrant: RFC 6749 4.3.2, a resource owner's username and password
// beside the client's credentials (AlphaSense, page 000).
var passwordGrant = grant{
	fields: func(f map[string]string, c *Config, _ grantInputs) {
		f["grant_type"] = GrantPassword
		f["username"], f["password"] = c.Username, c.Password
	},
	authenticates: true,
}
