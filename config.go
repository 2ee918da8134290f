package oauthvendor

import (
	"time"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
)

const configPrefix = "config/"

// Grant types, body formats, client authentication methods, key types and
// signature algorithms the engine speaks: oauth's (its grant and
// client-auth tables say what each sends).
const (
	grantClientCredentials = oauth.GrantClientCredentials
	grantPassword          = oauth.GrantPassword
	grantLogin             = oauth.GrantLogin
	grantJWTBearer         = oauth.GrantJWTBearer
	grantAccountCreds      = oauth.GrantAccountCredentials
	grantTokenExchange     = oauth.GrantTokenExchange
	grantAuthorizationCode = oauth.GrantAuthorizationCode

	bodyForm = oauth.BodyForm
	bodyJSON = oauth.BodyJSON

	authBody            = oauth.AuthBody
	authBasic           = oauth.AuthBasic
	authPrivateKeyJWT   = oauth.AuthPrivateKeyJWT
	authClientSecretJWT = oauth.AuthClientSecretJWT
	authTLSClient       = oauth.AuthTLSClient
	authNone            = oauth.AuthNone

	keyRSA = oauth.KeyRSA
	keyEC  = oauth.KeyEC

	algRS256 = oauth.AlgRS256
	algPS256 = oauth.AlgPS256
	algES256 = oauth.AlgES256
	algHS256 = oauth.AlgHS256

	maxKeyPEM = oauth.MaxKeyPEM
)

// vendorConfig is one vendor connection. Stored as written by the operator
// (explicit fields only), so that a preset's defaults apply at use and a
// later preset change is not frozen into the stored record; effective()
// gives the resolved view the engine runs with and `read` shows.
//
// The json tags are the API field names: the path schema, partial updates
// and reads are driven from them (see fields.go).
type vendorConfig struct {
	Preset       string            `json:"preset,omitempty"`
	TokenURL     string            `json:"token_url,omitempty"`
	GrantType    string            `json:"grant_type,omitempty"`
	BodyFormat   string            `json:"body_format,omitempty"`
	ClientAuth   string            `json:"client_auth,omitempty"`
	ClientID     string            `json:"client_id,omitempty"`
	ClientSecret string            `json:"client_secret,omitempty"`
	APIKey       string            `json:"api_key,omitempty"`
	APIKeyHeader string            `json:"api_key_header,omitempty"`
	Username     string            `json:"username,omitempty"`
	Password     string            `json:"password,omitempty"`
	Scopes       []string          `json:"scopes,omitempty"`
	Params       map[string]string `json:"params,omitempty"`
	Headers      map[string]string `json:"headers,omitempty"`
	// SecretHeaders and SecretParams are sent like Headers and Params but
	// are write-only: credentials a vendor wants beside the OAuth ones (a
	// partner key header, an account secret parameter).
	SecretHeaders  map[string]string `json:"secret_headers,omitempty"`
	SecretParams   map[string]string `json:"secret_params,omitempty"`
	TokenField     string            `json:"token_field,omitempty"`
	ExpiresInField string            `json:"expires_in_field,omitempty"`
	TokenTypeField string            `json:"token_type_field,omitempty"`
	DefaultTTL     time.Duration     `json:"default_ttl,omitempty"`
	RefreshBefore  time.Duration     `json:"refresh_before,omitempty"`
	MaxTTL         time.Duration     `json:"max_ttl,omitempty"`
	Lease          *bool             `json:"lease,omitempty"`
	Timeout        time.Duration     `json:"timeout,omitempty"`
	CACert         string            `json:"ca_cert,omitempty"`
	APIKeyInCreds  *bool             `json:"api_key_in_creds,omitempty"`

	// Client authentication beyond shared secrets (internal/oauth/clientauth.go,
	// signingkey.go, discovery.go).
	Issuer            string `json:"issuer,omitempty"`
	PrivateKey        string `json:"private_key,omitempty"`
	KeyType           string `json:"key_type,omitempty"`
	SigningAlg        string `json:"signing_alg,omitempty"`
	AssertionAudience string `json:"assertion_audience,omitempty"`
	Certificate       string `json:"certificate,omitempty"`
	TLSClientCert     string `json:"tls_client_cert,omitempty"`
	TLSClientKey      string `json:"tls_client_key,omitempty"`

	// The jwt_bearer grant's assertion (RFC 7523 2.1), signed with the
	// key above: its sub, lifetime and extra claims.
	Subject         string            `json:"subject,omitempty"`
	AssertionTTL    time.Duration     `json:"assertion_ttl,omitempty"`
	AssertionClaims map[string]string `json:"assertion_claims,omitempty"`
	// AssertionIssuer is the assertion's iss when not client_id (Google's
	// client_email); KeyID its header's kid when the vendor assigned the key
	// an ID (Google's private_key_id, Box's public key ID).
	AssertionIssuer string `json:"assertion_issuer,omitempty"`
	KeyID           string `json:"key_id,omitempty"`
	// CredentialsJSON is write-only: a write's Google service-account key
	// file fills the fields above, the key and token_url
	// (credentials_json.go); what is stored is only its digest, so that a
	// read can say one was given (credentials_json_set) and a new file is a
	// change. The key itself is private_key from then on.
	CredentialsJSON string `json:"credentials_json,omitempty"`
	// RedirectURL is the redirect URI registered with the vendor: DocuSign's
	// consent URL names it (presets.go's error hints).
	RedirectURL string `json:"redirect_url,omitempty"`
	// DeviceAuthURL is the device authorization endpoint (RFC 8628 3.1) of
	// the device flow's consent (device.go); discovered from issuer when
	// not given (DeviceAuthURLDiscovered, below).
	DeviceAuthURL string `json:"device_auth_url,omitempty"`
	// The authorization_code grant (consent.go): the vendor's authorization
	// endpoint and the extra parameters of its authorize URL
	// (access_type=offline, prompt=consent, audience=...).
	AuthURL         string            `json:"auth_url,omitempty"`
	AuthorizeParams map[string]string `json:"authorize_params,omitempty"`
	// ScopeOnRefresh sends scopes on its refresh grants too. RFC 6749 6
	// makes them optional (none: the scope the user granted), and a
	// refresh naming a scope the user declined (Google's granular consent,
	// a provider dropping offline_access) is refused with invalid_scope;
	// Microsoft's identity platform documents scope as required there.
	ScopeOnRefresh *bool `json:"scope_on_refresh,omitempty"`

	// Where the assertion comes from (assertion_source.go): the key
	// above, the mount's issuer, or Vault's plugin identity token.
	AssertionSource       string        `json:"assertion_source,omitempty"`
	IdentityTokenAudience string        `json:"identity_token_audience,omitempty"`
	IdentityTokenTTL      time.Duration `json:"identity_token_ttl,omitempty"`

	// account_credentials' account (Zoom).
	AccountID string `json:"account_id,omitempty"`

	// The token_exchange grant (RFC 8693): the config of this mount whose
	// current token is the subject token (read through its cache, never
	// stored here), the type it is sent as, the target and wanted type of
	// the new token, and whether the new token dies with its subject.
	SubjectConfig      string `json:"subject_config,omitempty"`
	SubjectTokenType   string `json:"subject_token_type,omitempty"`
	Audience           string `json:"audience,omitempty"`
	Resource           string `json:"resource,omitempty"`
	RequestedTokenType string `json:"requested_token_type,omitempty"`
	ExpiresWithSubject *bool  `json:"expires_with_subject,omitempty"`
	// ExchangeURLs are the token endpoints (compared by origin) to which
	// this config's token may be sent as another config's subject token:
	// none unless its owner names them (subject_chain.go).
	ExchangeURLs []string `json:"exchange_urls,omitempty"`

	// Not API fields (no schema entry, so never applied from a request nor
	// shown on read): the key a rotate-key publishes before it signs, and
	// whether token_url came from the issuer's discovery document.
	NextPrivateKey     string `json:"next_private_key,omitempty"`
	NextCertificate    string `json:"next_certificate,omitempty"`
	NextSigningAlg     string `json:"next_signing_alg,omitempty"`
	TokenURLDiscovered bool   `json:"token_url_discovered,omitempty"`
	// DeviceAuthURLDiscovered: device_auth_url came from the issuer's
	// metadata, and follows it at the next discovery.
	DeviceAuthURLDiscovered bool `json:"device_auth_url_discovered,omitempty"`

	// Generation changes whenever a credential or request field changes;
	// a cached token minted under another generation is never served.
	Generation uint64 `json:"generation"`
}

// globalDefaults fill whatever neither the operator nor the preset set.
var globalDefaults = vendorConfig{
	GrantType:      grantClientCredentials,
	BodyFormat:     bodyForm,
	ClientAuth:     authBody,
	APIKeyHeader:   "x-api-key",
	TokenField:     "access_token",
	ExpiresInField: "expires_in",
	TokenTypeField: "token_type",
	DefaultTTL:     time.Hour,
	Lease:          boolPtr(true),
	Timeout:        15 * time.Second,
	APIKeyInCreds:  boolPtr(false),
	KeyType:        keyRSA,
	// The key's own signature: the assertions of every config written
	// before assertion_source existed.
	AssertionSource: sourceKey,
}

func boolPtr(b bool) *bool { return &b }

// effective resolves explicit fields over the preset's defaults over the
// global defaults.
func (c *vendorConfig) effective() *vendorConfig {
	eff := *c
	if p, ok := presets[c.Preset]; ok {
		overlay(&eff, &p.Defaults)
		eff.TokenURL = p.completeTokenURL(eff.TokenURL)
	}
	overlay(&eff, &globalDefaults)
	if eff.SigningAlg == "" && eff.signsWithKey() {
		eff.SigningAlg = oauth.DefaultSigningAlg(authPrivateKeyJWT, eff.KeyType)
	}
	if eff.SigningAlg == "" && (eff.AssertionSource == sourceKey || !eff.takesAssertion()) {
		// (Another source's JWTs are signed as their signer decides.)
		eff.SigningAlg = oauth.DefaultSigningAlg(eff.ClientAuth, eff.KeyType)
	}
	if eff.AssertionAudience == "" && eff.signsAssertions() {
		// RFC 7523 3: the token endpoint identifies the server, unless
		// the vendor names itself otherwise (Salesforce, DocuSign).
		eff.AssertionAudience = presets[eff.Preset].audience(eff.TokenURL)
	}
	if eff.IdentityTokenTTL == 0 && eff.AssertionSource == sourceVaultIdentity {
		eff.IdentityTokenTTL = defaultIdentityTokenTTL
	}
	if eff.SubjectTokenType == "" && eff.SubjectConfig != "" {
		// Another config's token is an access token (RFC 8693 3).
		eff.SubjectTokenType = oauth.TokenTypeAccessToken
	}
	if eff.AssertionTTL == 0 && eff.GrantType == grantJWTBearer {
		eff.AssertionTTL = oauth.DefaultAssertionTTL
	}
	return &eff
}

// signsAssertions: the request carries an assertion, a client assertion
// (RFC 7523 2.2) or the jwt_bearer grant's (2.1).
func (c *vendorConfig) signsAssertions() bool {
	return c.ClientAuth == authPrivateKeyJWT || c.ClientAuth == authClientSecretJWT || c.GrantType == grantJWTBearer
}

// signsWithKey: the config signs with its own private key (private_key_jwt's
// client assertion, or the jwt_bearer grant's assertion; assertion_source
// key), so it has the key machinery: a generated or written key,
// jwks/<name> and rotate-key. c is an effective config.
func (c *vendorConfig) signsWithKey() bool {
	return c.takesAssertion() && c.AssertionSource == sourceKey
}

// userDelegated: the config's tokens come from a user's consent and a
// refresh token (refreshtoken.go), not from credentials alone.
func (c *vendorConfig) userDelegated() bool { return c.GrantType == grantAuthorizationCode }

func (c *vendorConfig) leaseEnabled() bool { return c.Lease == nil || *c.Lease }

func (c *vendorConfig) apiKeyInCreds() bool { return c.APIKeyInCreds != nil && *c.APIKeyInCreds }

func (c *vendorConfig) scopeOnRefresh() bool { return c.ScopeOnRefresh != nil && *c.ScopeOnRefresh }

func (c *vendorConfig) expiresWithSubject() bool {
	return c.ExpiresWithSubject != nil && *c.ExpiresWithSubject
}

// sentSecretsSet says, per write-only field whose value travels to the
// token endpoint, whether the config holds one. A private key and the TLS
// client key never leave Vault (a signature or a TLS handshake proves
// them), so they are not listed: secretsFollowHost needs only these.
func (c *vendorConfig) sentSecretsSet() map[string]bool {
	return map[string]bool{
		"client_secret": c.ClientSecret != "", "api_key": c.APIKey != "", "password": c.Password != "",
		"secret_headers": len(c.SecretHeaders) > 0, "secret_params": len(c.SecretParams) > 0,
		// Not write-only, but what it names travels: the subject config's
		// token goes to this token endpoint, so a move names it again.
		"subject_config": c.SubjectConfig != "",
	}
}
