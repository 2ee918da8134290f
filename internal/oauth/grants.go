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
	// GrantAccountCredentials is Zoom's server-to-server OAuth grant:
	// grant_type=account_credentials with the account_id, the client
	// authenticated by HTTP Basic.
	GrantAccountCredentials = "account_credentials"
	// GrantTokenExchange is RFC 8693's token exchange; TokenExchangeGrantType
	// is the grant_type it sends (2.1).
	GrantTokenExchange     = "token_exchange"
	TokenExchangeGrantType = "urn:ietf:params:oauth:grant-type:token-exchange"
	// GrantAuthorizationCode is a user-delegated connection: RFC 6749 4.1's
	// code exchange once (Config.Code), then RFC 6749 6's refresh_token
	// grant with the refresh token it gave (Config.RefreshToken).
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
)

// RFC 8693 3 token type identifiers.
const (
	TokenTypeAccessToken = "urn:ietf:params:oauth:token-type:access_token"
	TokenTypeJWT         = "urn:ietf:params:oauth:token-type:jwt"
	TokenTypeIDToken     = "urn:ietf:params:oauth:token-type:id_token"
)

// grantInputs are what one attempt's body is made of beyond the config:
// the grant's signed assertion (jwt_bearer) and the subject token
// (token_exchange), each a credential the redactor cuts out.
type grantInputs struct {
	assertion string
	subject   *SubjectToken
}

// grant is how one grant type builds its token request.
type grant struct {
	// fields puts the grant's own parameters in the body; assertion is
	// this attempt's grant assertion when the grant signs one.
	fields func(f map[string]string, c *Config, in grantInputs)
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
	// clientOptional: the grant works without any client authentication
	// (client_auth=none), as RFC 8693 2.1 and RFC 7523 2.1 allow and
	// Google's STS requires. Grants whose server must know the client
	// (client_credentials, password, account_credentials) refuse none.
	clientOptional bool
	// exchanges: the body carries a subject token (Config.SubjectSource),
	// fetched once per grant.
	exchanges bool
	// scopeless, when set, says the request carries no scope: RFC 6749
	// 4.1.3's code exchange has none (the consent fixed it).
	scopeless func(c *Config) bool
}

// clientAuthenticates: whether c's request carries its client
// authentication's body fields.
func (g grant) clientAuthenticates(c *Config) bool {
	return g.authenticates && (!g.secretOnly || c.ClientSecret != "")
}

// takesClientAuth says whether the grant may run with client_auth (an
// error naming client_auth when not).
func (g grant) takesClientAuth(name, clientAuth string) error {
	if clientAuth == AuthNone && g.authenticates && !g.clientOptional {
		return fmt.Errorf("client_auth: none sends no client credentials; grant_type %s needs the client authenticated", name)
	}
	return nil
}

var grants = map[string]grant{
	GrantClientCredentials:  clientCredentialsGrant,
	GrantPassword:           passwordGrant,
	GrantLogin:              loginGrant,
	GrantJWTBearer:          jwtBearerGrant,
	GrantAccountCredentials: accountCredentialsGrant,
	GrantTokenExchange:      tokenExchangeGrant,
	GrantDeviceCode:         deviceCodeGrant,
	GrantAuthorizationCode:  authorizationCodeGrant,
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

// NeedsClient says whether grantType's server must authenticate the
// client, so client_auth=none cannot serve it.
func NeedsClient(grantType string) bool {
	g, ok := grants[grantType]
	return ok && g.takesClientAuth(grantType, AuthNone) != nil
}
