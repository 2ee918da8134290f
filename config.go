package oauthvendor

import "time"

const configPrefix = "config/"

// Grant types, body formats and client authentication methods the engine speaks.
const (
	grantClientCredentials = "client_credentials"
	grantPassword          = "password"
	// grantLogin is a plain JSON {username, password} login with no OAuth
	// fields at all: AlertSite's POST /access-tokens (vendor page 002).
	grantLogin = "login"

	bodyForm = "form"
	bodyJSON = "json"

	authBody  = "body"
	authBasic = "basic"
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
	return &eff
}

func (c *vendorConfig) leaseEnabled() bool { return c.Lease == nil || *c.Lease }

func (c *vendorConfig) apiKeyInCreds() bool { return c.APIKeyInCreds != nil && *c.APIKeyInCreds }

// writeOnlySet says, per write-only field, whether the config holds a value.
func (c *vendorConfig) writeOnlySet() map[string]bool {
	return map[string]bool{
		"client_secret": c.ClientSecret != "", "api_key": c.APIKey != "", "password": c.Password != "",
		"secret_headers": len(c.SecretHeaders) > 0, "secret_params": len(c.SecretParams) > 0,
	}
}

// secrets are the write-only values: never returned, logged or echoed.
func (c *vendorConfig) secrets() []string {
	out := []string{c.ClientSecret, c.APIKey, c.Password}
	for _, m := range []map[string]string{c.SecretHeaders, c.SecretParams} {
		for _, v := range m {
			out = append(out, v)
		}
	}
	return out
}
