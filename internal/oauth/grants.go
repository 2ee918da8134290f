package oauth

import "fmt"

// Grant types. Each is a file (grant_<name>.go) and a row of grants: to
// add one, copy grant_password.go, name it, and add its row here.
const (
	GrantClientCredentials = "client_credentials" // RFC 6749 4.4
	GrantPassword          = "password"           // RFC 6749 4.3
	// GrantLogin is a plain JSON {username, password} login with no OAuth
	// fields at all: AlertSite's POST /access-tokens (vendor page 002).
	GrantLogin = "login"
	// GrantJWTBearer is RFC 7523 2.1's JWT bearer authorization grant;
	// JWTBearerGrantType is the grant_type it sends.
	GrantJWTBearer     = "jwt_bearer"
	JWTBearerGrantType = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	// GrantAuthorizationCode is a user-delegated connection: RFC 6749 4.1's
	// code exchange once (Config.Code), then RFC 6749 6's refresh_token
	// grant with the refresh token it gave (Config.RefreshToken).
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
)

// grant is how one grant type builds its token request.
type grant struct {
	// fields puts the grant's own parameters in the body; assertion is
	// this attempt's grant assertion when the grant signs one.
	fields func(f map[string]string, c *Config, assertion string)
	// authenticates: the request carries client authentication
	// (clientAuths); a plain login has no client.
	authenticates bool
	// secretOnly: the client authenticates only when it has a
	// client_secret (RFC 7523 2.1 makes it optional); without one the body
	// carries no client credentials at all.
	secretOnly bool
	// signs: the grant itself is an assertion signed with the config's
	// private key (assertionKeyPrivate), made afresh per attempt.
	signs bool
	// scopeless, when set, says the request carries no scope: RFC 6749
	// 4.1.3's code exchange has none (the consent fixed it).
	scopeless func(c *Config) bool
}

// clientAuthenticates: whether c's request carries its client
// authentication's body fields.
func (g grant) clientAuthenticates(c *Config) bool {
	return g.authenticates && (!g.secretOnly || c.ClientSecret != "")
}

var grants = map[string]grant{
	GrantClientCredentials: clientCredentialsGrant,
	GrantPassword:          passwordGrant,
	GrantLogin:             loginGrant,
	GrantJWTBearer:         jwtBearerGrant,
	GrantAuthorizationCode: authorizationCodeGrant,
}

// Grants are the grant types the package knows.
func Grants() []string { return sortedKeys(grants) }

// grantOf is c's grant (client_credentials when none is named).
func grantOf(c *Config) (grant, error) {
	name := c.GrantType
	if name == "" {
		name = GrantClientCredentials
	}
	g, ok := grants[name]
	if !ok {
		return grant{}, fmt.Errorf("grant_type: unknown %s", Quote(name))
	}
	return g, nil
}
