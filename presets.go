package oauthvendor

import (
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
)

// preset is a vendor's defaults as data: adding a vendor is adding a row.
type preset struct {
	Vendor string
	Docs   string
	// Defaults are the fields the preset sets; any field the operator gives wins.
	Defaults vendorConfig
	// TokenPath completes a token_url given as a bare base URL, for vendors
	// whose token URL is per customer.
	TokenPath string
	// Requires names credential fields the vendor needs beyond what the grant needs.
	Requires []string
	// KnownHosts, when set, are the vendor's published token hosts; another
	// host draws a warning (not an error: tests and proxies use others).
	KnownHosts []string
	// Lifetime is the token lifetime the vendor's page documents, for the
	// refresh_before warning of a write that minted no token (timing.go,
	// agentWindowShort).
	Lifetime time.Duration

	// The jwt_bearer assertion as the vendor reads it (RFC 7523 2.1 leaves
	// these to the server).
	//
	// Audience is the aud the vendor expects when assertion_audience is
	// not given: the token URL (audTokenURL, RFC 7523 3's default), its
	// origin (audOrigin) or its bare host (audHost).
	Audience string
	// ScopeInAssertion: scopes go in the assertion's scope claim, not in
	// the body.
	ScopeInAssertion bool
	// MaxAssertionTTL, when set, is the vendor's bound on exp - iat,
	// below the plugin's own (oauth.MaxAssertionTTL).
	MaxAssertionTTL time.Duration
	// SubjectAlsoAs names a second claim carrying subject: Google's own
	// library sends the Workspace user as both sub and prn (sub's old name
	// in Google's early JWT drafts).
	SubjectAlsoAs string
	// ClaimValues are assertion_claims the vendor requires, each with the
	// values it takes.
	ClaimValues map[string][]string
	// ErrorHints say what the operator does about an OAuth error code the
	// vendor answers (error_hints.go).
	ErrorHints map[string]errorHint
}

// Where a preset's assertion audience comes from.
const (
	audTokenURL = ""
	audOrigin   = "origin"
	audHost     = "host"
)

var presets = map[string]preset{
	// Vendor page 000: password grant, form body, API key in x-api-key on
	// the token request (and on every API call: see api_key_in_creds).
	// Its parameter table marks all five credentials Required, client_secret
	// included, though the password grant alone would not need it.
	"alphasense": {
		Vendor: "AlphaSense Agent API",
		Docs:   "POST https://api.alpha-sense.com/auth, password grant, form body, x-api-key header; 24 h tokens",
		Defaults: vendorConfig{
			TokenURL:   "https://api.alpha-sense.com/auth",
			GrantType:  grantPassword,
			BodyFormat: bodyForm,
			ClientAuth: authBody,
		},
		Requires:   []string{"client_id", "client_secret", "username", "password", "api_key"},
		KnownHosts: []string{"api.alpha-sense.com"},
		Lifetime:   24 * time.Hour,
	},
	// Vendor page 002: not OAuth at all. A JSON {username, password} login
	// whose answer holds only access_token: no expires_in, no token_type.
	// The page documents a 1 hour lifetime; errors come as errors[].message.
	// The page leaves the base URL blank; the public API base is
	// https://api.alertsite.com/api/v3.
	"alertsite": {
		Vendor: "SmartBear AlertSite Management API",
		Docs:   "POST https://api.alertsite.com/api/v3/access-tokens, JSON {username, password}; no expires_in, 1 h tokens",
		Defaults: vendorConfig{
			TokenURL:   "https://api.alertsite.com/api/v3/access-tokens",
			GrantType:  grantLogin,
			BodyFormat: bodyJSON,
			DefaultTTL: time.Hour,
		},
		KnownHosts: []string{"api.alertsite.com"},
		Lifetime:   time.Hour,
	},
	// Vendor page 003: the token URL is per customer instance and ends in a
	// trailing slash (<base_url>/oauth/v2/token/); without it the server
	// redirects, and redirects are never followed with credentials.
	"alation": {
		Vendor: "Alation Agent Studio",
		Docs:   "POST <base_url>/oauth/v2/token/ (trailing slash), client_credentials, form body; token_url is your instance's URL",
		Defaults: vendorConfig{
			GrantType:  grantClientCredentials,
			BodyFormat: bodyForm,
			ClientAuth: authBody,
		},
		TokenPath: "/oauth/v2/token/",
	},
	// Vendor page 004: client_credentials, form body; tokens are JWTs with
	// exp; per-environment hosts auth.<env>.agentsync.io.
	"agentsync": {
		Vendor: "AgentSync",
		Docs:   "POST https://auth.agentsync.io/oauth/token (dev/test/sandbox: auth.<env>.agentsync.io), client_credentials, form body; 1 h JWTs",
		Defaults: vendorConfig{
			TokenURL:   "https://auth.agentsync.io/oauth/token",
			GrantType:  grantClientCredentials,
			BodyFormat: bodyForm,
			ClientAuth: authBody,
		},
		KnownHosts: []string{"auth.agentsync.io", "auth.dev.agentsync.io", "auth.test.agentsync.io", "auth.sandbox.agentsync.io"},
		Lifetime:   time.Hour,
	},
	// Google service accounts (developers.google.com/identity/protocols/
	// oauth2/service-account#httprest): an RS256 assertion, iss the
	// account's client_email, kid its private_key_id, aud the token URI,
	// scopes as the assertion's scope claim, sub the Workspace user of a
	// domain-wide delegation; no client authentication. Google's own
	// library signs 1 h assertions (golang.org/x/oauth2/jwt), the most
	// Google takes. credentials_json fills the account's fields.
	"google": {
		Vendor: "Google service account",
		Docs:   "POST https://oauth2.googleapis.com/token, jwt_bearer: RS256, iss client_email, kid private_key_id, scope in the assertion; credentials_json takes the key file; 1 h tokens",
		Defaults: vendorConfig{
			TokenURL:     "https://oauth2.googleapis.com/token",
			GrantType:    grantJWTBearer,
			SigningAlg:   algRS256,
			AssertionTTL: time.Hour,
		},
		Requires:         []string{"assertion_issuer"},
		KnownHosts:       []string{"oauth2.googleapis.com"},
		Lifetime:         time.Hour,
		ScopeInAssertion: true,
		SubjectAlsoAs:    "prn",
	},
	// Salesforce's OAuth 2.0 JWT bearer flow (help.salesforce.com,
	// remoteaccess_oauth_jwt_flow): iss the connected app's consumer key,
	// sub the username, aud the login host alone (https://login.salesforce.com,
	// https://test.salesforce.com for sandboxes, or the My Domain URL),
	// the certificate uploaded under "Use digital signatures". The answer
	// has no expires_in: a token lives as long as the org's session
	// timeout (Setup > Session Settings), which default_ttl must say.
	"salesforce": {
		Vendor: "Salesforce",
		Docs:   "POST https://login.salesforce.com/services/oauth2/token (test.salesforce.com, <domain>.my.salesforce.com), jwt_bearer: iss consumer key, sub username, aud the login origin; no expires_in: set default_ttl to the org's session timeout",
		Defaults: vendorConfig{
			TokenURL:  "https://login.salesforce.com/services/oauth2/token",
			GrantType: grantJWTBearer,
		},
		TokenPath:  "/services/oauth2/token",
		Requires:   []string{"subject"},
		KnownHosts: []string{"login.salesforce.com", "test.salesforce.com", ".my.salesforce.com"},
		Audience:   audOrigin,
	},
	// DocuSign's JWT grant (developers.docusign.com, "JSON Web Token (JWT)
	// Grant"): iss the integration key, sub the user ID, aud the bare
	// account host (account-d.docusign.com for the developer environment),
	// scope "signature impersonation" as a claim. A user who never
	// consented gets consent_required; the hint gives the consent URL.
	"docusign": {
		Vendor: "DocuSign eSignature",
		Docs:   "POST https://account.docusign.com/oauth/token (developer: account-d.docusign.com), jwt_bearer: iss integration key, sub user ID, aud the bare host, scope in the assertion; 1 h tokens",
		Defaults: vendorConfig{
			TokenURL:  "https://account.docusign.com/oauth/token",
			GrantType: grantJWTBearer,
			Scopes:    []string{"signature", "impersonation"},
		},
		Requires:         []string{"subject"},
		KnownHosts:       []string{"account.docusign.com", "account-d.docusign.com"},
		Lifetime:         time.Hour,
		Audience:         audHost,
		ScopeInAssertion: true,
		ErrorHints: map[string]errorHint{
			"consent_required": {
				Message: "DocuSign: the user (subject) has not consented to the integration key: open {url} signed in as that user (or have an administrator grant consent for the organisation)",
				URL:     "https://{host}/oauth/auth?response_type=code&scope={scopes}&client_id={client_id}&redirect_uri={redirect_url}",
			},
		},
	},
	// Box's JWT server authentication (developer.box.com, "JWT without
	// SDK"): iss the client ID, sub the enterprise or user ID with
	// box_sub_type enterprise|user, aud the token URL, kid the ID Box
	// gives the uploaded public key, exp at most 60 s after iat, and the
	// client ID and secret in the body.
	"box": {
		Vendor: "Box Platform (JWT)",
		Docs:   "POST https://api.box.com/oauth2/token, jwt_bearer with client_id and client_secret in the body: sub enterprise or user ID, assertion_claims box_sub_type=enterprise|user, key_id the public key ID; assertions of at most 60 s",
		Defaults: vendorConfig{
			TokenURL:     "https://api.box.com/oauth2/token",
			GrantType:    grantJWTBearer,
			ClientAuth:   authBody,
			AssertionTTL: 45 * time.Second,
		},
		Requires:        []string{"client_id", "client_secret", "subject"},
		KnownHosts:      []string{"api.box.com"},
		Lifetime:        time.Hour,
		MaxAssertionTTL: 60 * time.Second,
		ClaimValues:     map[string][]string{"box_sub_type": {"enterprise", "user"}},
	},
	// Zoom Server-to-Server OAuth ("Using Server-to-Server OAuth",
	// developers.zoom.us): POST https://zoom.us/oauth/token with
	// grant_type=account_credentials and account_id, the app's client ID
	// and secret as HTTP Basic; 1 h tokens, no refresh token.
	"zoom": {
		Vendor: "Zoom Server-to-Server OAuth",
		Docs:   "POST https://zoom.us/oauth/token, grant_type=account_credentials&account_id=..., HTTP Basic client auth; 1 h tokens",
		Defaults: vendorConfig{
			TokenURL:   "https://zoom.us/oauth/token",
			GrantType:  grantAccountCreds,
			BodyFormat: bodyForm,
			ClientAuth: authBasic,
		},
		Requires:   []string{"client_id", "client_secret", "account_id"},
		KnownHosts: []string{"zoom.us"},
		Lifetime:   time.Hour,
	},
	// Databricks OAuth token federation ("Authenticate with an identity
	// provider token", docs.databricks.com): RFC 8693 at the workspace's
	// <host>/oidc/v1/token (the account's endpoint has another path and
	// takes no preset), the federated JWT as
	// subject_token typed jwt, scope all-apis; client_id only for a
	// service principal's federation policy, no client secret. 1 h tokens.
	"databricks": {
		Vendor: "Databricks OAuth token federation",
		Docs:   "POST <workspace URL>/oidc/v1/token, token_exchange, subject_token_type jwt, scope all-apis; token_url is your workspace URL",
		Defaults: vendorConfig{
			GrantType:        grantTokenExchange,
			BodyFormat:       bodyForm,
			ClientAuth:       authBody,
			SubjectTokenType: oauth.TokenTypeJWT,
			Scopes:           []string{"all-apis"},
		},
		TokenPath: "/oidc/v1/token",
		Lifetime:  time.Hour,
	},
	// Google Cloud's Security Token Service (workload identity federation,
	// "projects.locations.workloadIdentityPools.providers", and the STS
	// v1 token method, cloud.google.com): RFC 8693 with no client
	// authentication, audience = the workload identity provider's full
	// resource name, an external JWT as subject. Its expires_in is absent
	// when the subject is a Google user's access token: the new token then
	// expires with the subject, hence expires_with_subject.
	"google-sts": {
		Vendor: "Google Cloud Security Token Service",
		Docs:   "POST https://sts.googleapis.com/v1/token, token_exchange, no client auth, audience //iam.googleapis.com/projects/<n>/locations/global/workloadIdentityPools/<pool>/providers/<provider>; at most 1 h tokens",
		Defaults: vendorConfig{
			TokenURL:           "https://sts.googleapis.com/v1/token",
			GrantType:          grantTokenExchange,
			BodyFormat:         bodyForm,
			ClientAuth:         authNone,
			SubjectTokenType:   oauth.TokenTypeJWT,
			RequestedTokenType: oauth.TokenTypeAccessToken,
			Scopes:             []string{"https://www.googleapis.com/auth/cloud-platform"},
			ExpiresWithSubject: boolPtr(true),
		},
		Requires:   []string{"audience"},
		KnownHosts: []string{"sts.googleapis.com"},
		Lifetime:   time.Hour,
	},
}

func presetNames() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// completeTokenURL turns an instance base URL (with or without a path
// prefix) into the vendor's token URL, and restores the trailing slash
// Alation's endpoint needs: its page gives the token URL only as
// <base_url>/oauth/v2/token/.
func (p preset) completeTokenURL(raw string) string {
	if p.TokenPath == "" || raw == "" {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return raw // validation reports it
	}
	path := strings.TrimSuffix(u.Path, "/")
	u.Path = strings.TrimSuffix(path, strings.TrimSuffix(p.TokenPath, "/")) + p.TokenPath
	return u.String()
}

// knownHost: a KnownHosts entry starting with "." is a domain whose every
// host is the vendor's (Salesforce's My Domain hosts, <x>.my.salesforce.com).
func (p preset) knownHost(host string) bool {
	if len(p.KnownHosts) == 0 || isLoopback(host) {
		return true
	}
	host = strings.ToLower(host)
	for _, h := range p.KnownHosts {
		h = strings.ToLower(h)
		if h == host || (strings.HasPrefix(h, ".") && strings.HasSuffix(host, h)) {
			return true
		}
	}
	return false
}

// audience is the assertion's aud when assertion_audience is not given:
// the token URL, or what of it the preset's vendor expects.
func (p preset) audience(tokenURL string) string {
	if p.Audience == audTokenURL {
		return tokenURL
	}
	u, err := url.Parse(tokenURL)
	if err != nil || u.Host == "" {
		return tokenURL // validation reports it
	}
	if p.Audience == audHost {
		return u.Host
	}
	return u.Scheme + "://" + u.Host
}

// grantClaims are the assertion_claims the grant sends: the config's,
// and subject again under SubjectAlsoAs.
func (p preset) grantClaims(eff *vendorConfig) map[string]string {
	if p.SubjectAlsoAs == "" || eff.Subject == "" {
		return eff.AssertionClaims
	}
	out := make(map[string]string, len(eff.AssertionClaims)+1)
	for k, v := range eff.AssertionClaims {
		out[k] = v
	}
	out[p.SubjectAlsoAs] = eff.Subject
	return out
}

// maxAssertionTTL is the longest assertion_ttl the preset's vendor takes.
func (p preset) maxAssertionTTL() time.Duration {
	if p.MaxAssertionTTL > 0 {
		return p.MaxAssertionTTL
	}
	return oauth.MaxAssertionTTL
}
