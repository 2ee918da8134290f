package vendorsim

import "time"

// Vendor names, used as the first path segment of every simulated endpoint.
const (
	AlphaSense     = "alphasense"
	ModelPortfolio = "modelportfolio"
	AlertSite      = "alertsite"
	Alation        = "alation"
	AgentSync      = "agentsync"
)

// Vendors lists every simulated vendor.
var Vendors = []string{AlphaSense, ModelPortfolio, AlertSite, Alation, AgentSync}

// Credentials the simulator accepts for one vendor. Fields a vendor does not
// use are ignored (AlertSite only checks Username and Password, for example).
type Credentials struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	Username     string `json:"username"`
	Password     string `json:"password"`
	APIKey       string `json:"api_key"`
	AccountID    string `json:"account_id,omitempty"` // Zoom's account (grants.go)
}

// DefaultCredentials returns the credentials a fresh Sim accepts for vendor
// (zero Credentials for an unknown vendor). Every value starts with
// "sim-<vendor>-" and ends in a hex tag so leak scans can grep for it.
// AlertSite's password and Alation's client secret carry characters that
// must be escaped in JSON and in form/Basic encoding (+ / & = " %), so that
// redaction of encoded request bodies gets exercised.
func DefaultCredentials(vendor string) Credentials {
	if c, ok := defaultCredentials[vendor]; ok {
		return c
	}
	return modeCredentials[vendor]
}

var defaultCredentials = map[string]Credentials{
	AlphaSense: {
		ClientID:     "sim-alphasense-client-id-1a2b3c",
		ClientSecret: "sim-alphasense-client-secret-7f3a9c",
		Username:     "sim-alphasense-user-4e5f6a@example.com",
		Password:     "sim-alphasense-pass-word-2b8e1d",
		APIKey:       "sim-alphasense-api-key-5c4d0e",
	},
	ModelPortfolio: {
		ClientID:     "sim-modelportfolio-client-id-8d7c6b",
		ClientSecret: "sim-modelportfolio-client-secret-0a9f3e",
	},
	AlertSite: {
		Username: "sim-alertsite-user-6b1c2d@example.com",
		Password: `sim-alertsite-pass+/&="word-9d2c4b`,
	},
	Alation: {
		ClientID:     "sim-alation-client-id-3f4e5d",
		ClientSecret: "sim-alation-client-secret+/=%:-e1f2a3",
	},
	AgentSync: {
		ClientID:     "sim-agentsync-client-id-7a8b9c",
		ClientSecret: "sim-agentsync-client-secret-c4d5e6",
	},
}

// Endpoint paths, relative to the server's base URL. TokenPath and APIPath
// return them by vendor name.
const (
	AlphaSenseTokenPath     = "/alphasense/auth"
	AlphaSenseAPIPath       = "/alphasense/v1/search"
	ModelPortfolioTokenPath = "/modelportfolio/oauth/token"
	ModelPortfolioAPIPath   = "/modelportfolio/model-portfolios"
	AlertSiteTokenPath      = "/alertsite/api/v3/access-tokens"
	AlertSiteAPIPath        = "/alertsite/api/v3/devices"
	// AlationTokenPath ends in a slash (003_*.txt); without it the sim
	// answers 301 like Django.
	AlationTokenPath   = "/alation/oauth/v2/token/"
	AlationAPIPath     = "/alation/integration/v2/table/"
	AgentSyncTokenPath = "/agentsync/oauth/token"
	AgentSyncAPIPath   = "/agentsync/v1/resource"
)

// TokenPath returns the token endpoint path of vendor, relative to the
// server's base URL ("" for an unknown vendor).
func TokenPath(vendor string) string {
	if v := specFor(vendor); v != nil {
		return v.tokenPath
	}
	return ""
}

// APIPath returns the path of vendor's protected API endpoint, relative to
// the server's base URL ("" for an unknown vendor).
func APIPath(vendor string) string {
	if v := specFor(vendor); v != nil {
		return v.apiPath
	}
	return ""
}

// errorShape is how a vendor lays out an error body.
type errorShape int

const (
	// shapeOAuth is RFC 6749 section 5.2: {"error","error_description"}.
	shapeOAuth errorShape = iota
	// shapeMessage is {"message": "..."}: the model-portfolio API's plain message.
	shapeMessage
	// shapeErrorList is AlertSite's {"errors":[{"code","message"}]}.
	shapeErrorList
)

// bodyFormat is the encoding a token request body must use.
type bodyFormat int

const (
	bodyForm bodyFormat = iota // application/x-www-form-urlencoded
	bodyJSON                   // application/json
)

// vendorSpec is one vendor's behaviour as data; the handlers interpret it.
type vendorSpec struct {
	name            string
	tokenPath       string
	apiPath         string
	appendSlash     bool // Django APPEND_SLASH: the slash-less path answers 301 (Alation)
	defaultLifetime time.Duration

	errors      errorShape
	body        bodyFormat
	strictJSON  bool   // reject JSON members other than the documented ones
	grantType   string // required grant_type; "" when the vendor has none
	clientAuth  bool   // client_id and client_secret are checked
	basicAuth   bool   // client_secret_basic accepted as an alternative (RFC 6749 2.3.1)
	userAuth    bool   // username and password are checked
	basicOnly   bool   // the client must use HTTP Basic (Zoom)
	accountID   bool   // account_id is checked against Credentials.AccountID (Zoom)
	exchange    bool   // an RFC 8693 subject_token is required and checked (grants.go)
	badUser     apiError
	apiKeyName  string // header carrying Credentials.APIKey on every call
	accept      string // exact Accept header required on every call
	allowedJSON []string

	// The success body: members in the page's order, and which member plays
	// which role ("" when the vendor does not report it).
	success        []string
	tokenField     string
	lifetimeField  string
	tokenTypeField string
	tokenType      string
	nonStringToken string // raw JSON put in tokenField by FaultNonStringToken
	mint           func(mintInput) string
}

// specs is the table of vendor behaviour; see each page in /work/shared/vendors.
var specs = map[string]*vendorSpec{
	// 000_*.txt: password grant, form body, x-api-key on the token request and
	// on every API call, 24 h tokens, 401 for bad credentials, 403 for a bad key.
	AlphaSense: {
		name: AlphaSense, tokenPath: AlphaSenseTokenPath, apiPath: AlphaSenseAPIPath,
		defaultLifetime: 24 * time.Hour,
		errors:          shapeOAuth, body: bodyForm, grantType: "password",
		clientAuth: true, userAuth: true,
		badUser:    apiError{status: 401, code: "invalid_grant", desc: "invalid username or password"},
		apiKeyName: "x-api-key",
		success:    []string{"access_token", "token_type", "expires_in"},
		tokenField: "access_token", lifetimeField: "expires_in",
		tokenTypeField: "token_type", tokenType: "Bearer",
		nonStringToken: "123456789", mint: mintUUID,
	},
	// 001_*.txt: JSON body, exact versioned Accept header, camelCase response
	// with a lower-case "bearer" (the page misspells accessToken as
	// "accessTtoken"; the sim uses the intended name).
	ModelPortfolio: {
		name: ModelPortfolio, tokenPath: ModelPortfolioTokenPath, apiPath: ModelPortfolioAPIPath,
		defaultLifetime: 24 * time.Hour,
		errors:          shapeMessage, body: bodyJSON, grantType: "client_credentials",
		clientAuth: true,
		accept:     "application/json; version=1.0.0",
		success:    []string{"accessToken", "expiresIn", "tokenType"},
		tokenField: "accessToken", lifetimeField: "expiresIn",
		tokenTypeField: "tokenType", tokenType: "bearer",
		nonStringToken: `{"value":"not-a-string-token"}`, mint: mintBase64,
	},
	// 002_*.txt: a plain login, JSON {username,password}; the answer carries
	// only access_token (32 hex digits) although tokens die after an hour.
	AlertSite: {
		name: AlertSite, tokenPath: AlertSiteTokenPath, apiPath: AlertSiteAPIPath,
		defaultLifetime: time.Hour,
		errors:          shapeErrorList, body: bodyJSON, strictJSON: true,
		allowedJSON:    []string{"username", "password"},
		userAuth:       true,
		badUser:        apiError{status: 401, code: "invalid_request", desc: "User authentication failed."},
		success:        []string{"access_token"},
		tokenField:     "access_token",
		nonStringToken: "695573", mint: mintHex,
	},
	// 003_*.txt: client_credentials form body to a Django endpoint whose path
	// ends in a slash; "expires after a certain period" (1 h here).
	Alation: {
		name: Alation, tokenPath: AlationTokenPath, apiPath: AlationAPIPath,
		appendSlash: true, defaultLifetime: time.Hour,
		errors: shapeOAuth, body: bodyForm, grantType: "client_credentials",
		clientAuth: true, basicAuth: true,
		success:    []string{"access_token", "token_type", "expires_in", "scope"},
		tokenField: "access_token", lifetimeField: "expires_in",
		tokenTypeField: "token_type", tokenType: "Bearer",
		nonStringToken: `{"token":"not-a-string-token"}`, mint: mintAlnum,
	},
	// 004_*.txt: client_credentials form body, a JWT access token, 3600 s,
	// RFC 6749 errors and 429 rate_limit_exceeded.
	AgentSync: {
		name: AgentSync, tokenPath: AgentSyncTokenPath, apiPath: AgentSyncAPIPath,
		defaultLifetime: time.Hour,
		errors:          shapeOAuth, body: bodyForm, grantType: "client_credentials",
		clientAuth: true, basicAuth: true,
		success:    []string{"access_token", "token_type", "expires_in"},
		tokenField: "access_token", lifetimeField: "expires_in",
		tokenTypeField: "token_type", tokenType: "Bearer",
		nonStringToken: "42", mint: mintJWT,
	},
}

func specFor(vendor string) *vendorSpec {
	if s, ok := specs[vendor]; ok {
		return s
	}
	return modeSpecs[vendor]
}
