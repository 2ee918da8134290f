package oauth

import (
	"context"
	"time"
)

// Config describes one connection to a token endpoint: where, which grant,
// how the client authenticates, and how to read the answer. It is plain
// data; the caller fills it from its own configuration (and defaults) and
// never changes it once a Client holds it.
type Config struct {
	// Name labels the connection in every error ("vendor config %q: ...").
	Name string

	TokenURL     string
	GrantType    string // a row of grants (grants.go)
	ClientAuth   string // a row of clientAuths (clientauth.go)
	BodyFormat   string // BodyForm or BodyJSON
	ClientID     string
	ClientSecret string
	Username     string
	Password     string
	Scopes       []string
	// APIKey is sent in the APIKeyHeader header.
	APIKey       string
	APIKeyHeader string
	// Params and Headers are sent as given; SecretParams and SecretHeaders
	// too, and are redacted wherever they could show.
	Params, SecretParams   map[string]string
	Headers, SecretHeaders map[string]string

	// Where the answer keeps the token (a dotted path for nested answers).
	TokenField, ExpiresInField, TokenTypeField string
	// DefaultTTL is the lifetime of a token whose answer states none.
	DefaultTTL time.Duration
	// Timeout bounds a whole grant, retries included.
	Timeout time.Duration

	// TLS: an extra CA, and the client certificate presented on the
	// handshake (tls_client_auth, or mTLS beside any other client_auth).
	CACert, TLSClientCert, TLSClientKey string

	// Client assertions (private_key_jwt, client_secret_jwt) and the
	// jwt_bearer grant's assertion.
	PrivateKey, Certificate, SigningAlg, AssertionAudience string
	// The jwt_bearer assertion's sub (none when empty), lifetime (exp -
	// iat; DefaultAssertionTTL when zero) and extra claims.
	Subject         string
	AssertionTTL    time.Duration
	AssertionClaims map[string]string
	// AssertionIssuer is an assertion's iss when it is not the client_id:
	// a Google service account's client_email, or another issuer's JWT as
	// Entra ID's federated identity credentials take. With it, a client
	// assertion's sub is Subject (when set) rather than the client itself.
	AssertionIssuer string
	// KeyID is the assertion header's kid when the vendor names the key
	// itself (Google's private_key_id, the ID Box assigns an uploaded key),
	// else the key's RFC 7638 thumbprint.
	KeyID string
	// ScopeInAssertion: the jwt_bearer grant's scopes travel as the
	// assertion's scope claim (space-separated), not in the body: Google's
	// service-account flow and DocuSign's JWT grant read them there.
	ScopeInAssertion bool
	// ScopeOnRefresh: a user-delegated connection's refresh grants carry
	// Scopes too (RFC 6749 6 makes them optional; by default they are left
	// out, so the scope the user granted stays whatever was asked).
	ScopeOnRefresh bool
	// AssertionSupplier, when set, supplies each attempt's assertion (the
	// client assertion of private_key_jwt, or the jwt_bearer grant's)
	// instead of a signature with PrivateKey: the caller's own issuer, or
	// a token its platform mints (Vault's plugin identity token).
	AssertionSupplier AssertionSupplier

	// AccountID is account_credentials' account (Zoom).
	AccountID string

	// Token exchange (RFC 8693 2.1): where the subject token comes from,
	// the type it is sent as (SubjectSource's when empty), and the
	// optional target and wanted type of the new token.
	SubjectSource                          SubjectSource
	SubjectTokenType                       string
	Audience, Resource, RequestedTokenType string
	// ExpiresWithSubject caps the new token's expiry at the subject
	// token's: for vendors whose exchanged token dies with its subject.
	ExpiresWithSubject bool

	// The authorization_code grant: RefreshToken is what its refresh
	// grants send (RFC 6749 6); Code, CodeVerifier and RedirectURL, when
	// Code is set, make the request the one-time code exchange instead
	// (RFC 6749 4.1.3, RFC 7636 4.5). All but RedirectURL are secrets.
	RefreshToken, Code, CodeVerifier, RedirectURL string

	// OtherKeys are PEM private keys this request does not use but which
	// must never show in its errors either (a key being rotated in).
	OtherKeys []string

	UserAgent string

	// The device authorization grant (RFC 8628): DeviceAuthURL is where
	// AuthorizeDevice asks for a device and user code (3.1); DeviceCode is
	// the device_code grant's code (3.4), a credential for as long as the
	// user may approve it, so it is redacted like a client secret.
	DeviceAuthURL string
	DeviceCode    string

	// Servable, when set, says whether a token that arrived at arrived is
	// still worth handing out (the caller's lease policy); one that is not
	// is refused as an unusable answer.
	Servable func(tok *Token, arrived time.Time) bool
}

// AssertionSupplier returns a fresh assertion for one attempt of a token
// request; it is called once per attempt (a retry gets a new one: servers
// refuse a replayed jti). Its error fails the grant.
type AssertionSupplier func(ctx context.Context, now time.Time) (string, error)

// Body formats.
const (
	BodyForm = "form"
	BodyJSON = "json"
)

// secrets are the write-only values: never returned, logged or echoed.
// A private key is never sent, but its PEM body and parts are looked for
// all the same (KeySecrets).
func (c *Config) secrets() []string {
	out := []string{c.ClientSecret, c.APIKey, c.Password, c.DeviceCode, c.RefreshToken, c.Code, c.CodeVerifier}
	keys := append(append([]string{c.PrivateKey}, c.OtherKeys...), c.TLSClientKey)
	for _, k := range keys {
		out = append(out, KeySecrets(k)...)
	}
	for _, m := range []map[string]string{c.SecretHeaders, c.SecretParams} {
		for _, v := range m {
			out = append(out, v)
		}
	}
	return out
}

// Token is a granted access token.
type Token struct {
	AccessToken string
	TokenType   string

	// RefreshToken is the answer's refresh_token (RFC 6749 5.1), "" when
	// it gave none: a user-delegated grant's long-lived credential.
	RefreshToken string

	// SentAt is when the request was sent: the token's clock starts then,
	// not when the answer arrived (a slow answer shortens the token, never
	// lengthens it).
	SentAt    time.Time
	ExpiresAt time.Time
	// FromJWT says the token's own exp claim decided ExpiresAt.
	FromJWT bool
	// IssuedTokenType is a token exchange's issued_token_type (RFC 8693
	// 2.2.1), when the answer gave one.
	IssuedTokenType string
}

// Logger is the per-request logger (retryablehttp's LeveledLogger): the
// caller adds its own context, such as the connection's name.
type Logger interface {
	Error(msg string, keysAndValues ...interface{})
	Warn(msg string, keysAndValues ...interface{})
	Info(msg string, keysAndValues ...interface{})
	Debug(msg string, keysAndValues ...interface{})
}

// Observer hears what a Client sends, for the caller's metrics: Attempt
// before each HTTP request (retries included), Done once per grant that
// was sent, with its outcome and how long it took.
type Observer interface {
	Attempt()
	Done(ok bool, took time.Duration)
}

// keepsRefreshToken: the grants whose answer's refresh token is kept and
// sent back (a user-delegated connection's code exchange and refreshes,
// the device flow's approval).
func (c *Config) keepsRefreshToken() bool {
	return c.GrantType == GrantAuthorizationCode || c.GrantType == GrantDeviceCode
}
