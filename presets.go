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
}

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

func (p preset) knownHost(host string) bool {
	if len(p.KnownHosts) == 0 || isLoopback(host) {
		return true
	}
	for _, h := range p.KnownHosts {
		if strings.EqualFold(h, host) {
			return true
		}
	}
	return false
}
