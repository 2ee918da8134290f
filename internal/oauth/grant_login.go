package oauth

// loginGrant: a plain {username, password} login, no grant_type and no
// client (AlertSite's POST /access-tokens, page 002).
var loginGrant = grant{
	fields: func(f map[string]string, c *Config, _ grantInputs) {
		f["username"], f["password"] = c.Username, c.Password
	},
}
