package oauth

import (
	"fmt"
	"net/url"
	"sort"

	"github.com/go-jose/go-jose/v4"
	"github.com/hashicorp/go-retryablehttp"
)

// Client authentication methods (API.md "Client authentication"). Each is
// a row of clientAuths: to add one, copy a row (and, for a new kind of
// assertion, assertionKeyPrivate in assertion.go).
const (
	AuthBody            = "body"
	AuthBasic           = "basic"
	AuthPrivateKeyJWT   = "private_key_jwt"   // RFC 7523 2.2 / OIDC Core 9
	AuthClientSecretJWT = "client_secret_jwt" // RFC 7523 2.2 / OIDC Core 9
	AuthTLSClient       = "tls_client_auth"   // RFC 8705 2
	// AuthNone sends no client credentials at all (RFC 8414 2's "none"):
	// grants whose client is optional only (Google STS's token exchange).
	AuthNone = "none"
)

// clientAuth is what one method adds to the token request.
type clientAuth struct {
	// registered is its name in server metadata (RFC 8414 2, OIDC Core 9).
	registered string
	// fields puts its parameters in the body; assertion is this attempt's
	// client assertion when the method signs one.
	fields func(f map[string]string, c *Config, assertion string)
	// header sets its request headers (Basic).
	header func(req *retryablehttp.Request, c *Config)
	// key is the assertion's signing key; nil when none is signed.
	key func(c *Config, opts *jose.SignerOptions) (jose.SigningKey, *jose.SignerOptions, error)
}

var clientAuths = map[string]clientAuth{
	AuthBody: {registered: "client_secret_post", fields: func(f map[string]string, c *Config, _ string) {
		setIf(f, "client_id", c.ClientID)
		setIf(f, "client_secret", c.ClientSecret)
	}},
	AuthBasic: {registered: "client_secret_basic", header: func(req *retryablehttp.Request, c *Config) {
		// RFC 6749 2.3.1: form-encode each part before Basic encoding.
		req.SetBasicAuth(url.QueryEscape(c.ClientID), url.QueryEscape(c.ClientSecret))
	}},
	AuthPrivateKeyJWT:   {registered: "private_key_jwt", fields: assertionFields, key: assertionKeyPrivate},
	AuthClientSecretJWT: {registered: "client_secret_jwt", fields: assertionFields, key: assertionKeySecret},
	AuthNone:            {registered: "none"},
	AuthTLSClient: {registered: "tls_client_auth", fields: func(f map[string]string, c *Config, _ string) {
		f["client_id"] = c.ClientID // RFC 8705 2.1: the certificate does the rest
	}},
}

// assertionFields: RFC 7523 2.2; client_id is optional there, but Okta and
// Entra ID want it, and RFC 6749 2.3 lets a server require it.
func assertionFields(f map[string]string, c *Config, assertion string) {
	f["client_id"] = c.ClientID
	f["client_assertion_type"] = JWTBearerAssertion
	f["client_assertion"] = assertion
}

// ClientAuths are the client authentication methods the package knows.
func ClientAuths() []string { return sortedKeys(clientAuths) }

// RegisteredAuthMethod is the name server metadata gives a method
// (token_endpoint_auth_methods_supported); "" for an unknown one.
func RegisteredAuthMethod(clientAuth string) string { return clientAuths[clientAuth].registered }

// clientAuthOf is c's method (body when none is named).
func clientAuthOf(c *Config) (clientAuth, error) {
	name := c.ClientAuth
	if name == "" {
		name = AuthBody
	}
	a, ok := clientAuths[name]
	if !ok {
		return clientAuth{}, fmt.Errorf("client_auth: unknown %s", Quote(name))
	}
	return a, nil
}

func setIf(m map[string]string, k, v string) {
	if v != "" {
		m[k] = v
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
