package oauth

// accountCredentialsGrant: Zoom's server-to-server OAuth app ("Using
// Server-to-Server OAuth", developers.zoom.us): POST
// https://zoom.us/oauth/token with grant_type=account_credentials and the
// account's ID, the client authenticated by HTTP Basic of client_id and
// client_secret. Not an RFC grant; otherwise RFC 6749 4.4 in shape.
var accountCredentialsGrant = grant{
	fields: func(f map[string]string, c *Config, _ grantInputs) {
		f["grant_type"] = GrantAccountCredentials
		f["account_id"] = c.AccountID
	},
	authenticates: true,
}
