package oauth

// jwtBearerGrant: RFC 7523 2.1, a JWT signed by the config's private key
// is the authorization grant (Google service accounts, Salesforce's JWT
// bearer flow, DocuSign, Box). Client authentication is optional there:
// the client authenticates (body or basic) only when it has a
// client_secret (Box wants client_id and client_secret in the body);
// otherwise the body is the grant alone, as Google and Salesforce expect.
var jwtBearerGrant = grant{
	fields: func(f map[string]string, c *Config, in grantInputs) {
		f["grant_type"] = JWTBearerGrantType
		f["assertion"] = in.assertion
	},
	authenticates:  true,
	secretOnly:     true,
	signs:          true,
	clientOptional: true,
}
