package vendorsim

import (
	"net/http"
	"time"
)

// Grant modes beyond the five vendors: endpoints that speak a grant the
// plugin has rather than a vendor page, each a row of specs like a vendor.
// They are not in Vendors (whose loops walk the shipped presets); Modes
// lists them, and New, the routes and the control endpoints serve both.
const (
	// Zoom is Zoom's server-to-server OAuth ("Using Server-to-Server
	// OAuth", developers.zoom.us): grant_type=account_credentials with
	// account_id, the client as HTTP Basic only.
	Zoom = "zoom"
	// Exchange is an RFC 8693 token exchange endpoint shaped like
	// Databricks' /oidc/v1/token: no client authentication, and a
	// subject_token that must be a live token this simulator issued (to
	// Knobs.SubjectFrom when set); Stats.SubjectTokens counts them.
	Exchange = "exchange"
)

// Modes lists the grant modes.
var Modes = []string{Zoom, Exchange}

// simulated is every vendor and mode the Sim serves.
var simulated = append(append([]string(nil), Vendors...), Modes...)

const (
	ZoomTokenPath     = "/zoom/oauth/token"
	ZoomAPIPath       = "/zoom/v2/users/me"
	ExchangeTokenPath = "/exchange/oidc/v1/token"
	ExchangeAPIPath   = "/exchange/api/2.0/clusters/list"

	// tokenExchangeGrant is RFC 8693 2.1's grant_type.
	tokenExchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange"
)

var modeSpecs = map[string]*vendorSpec{
	Zoom: {
		name: Zoom, tokenPath: ZoomTokenPath, apiPath: ZoomAPIPath,
		defaultLifetime: time.Hour,
		errors:          shapeOAuth, body: bodyForm, grantType: "account_credentials",
		clientAuth: true, basicAuth: true, basicOnly: true, accountID: true,
		success:    []string{"access_token", "token_type", "expires_in", "scope"},
		tokenField: "access_token", lifetimeField: "expires_in",
		tokenTypeField: "token_type", tokenType: "bearer",
		nonStringToken: "7", mint: mintJWT,
	},
	Exchange: {
		name: Exchange, tokenPath: ExchangeTokenPath, apiPath: ExchangeAPIPath,
		defaultLifetime: time.Hour,
		errors:          shapeOAuth, body: bodyForm, grantType: tokenExchangeGrant,
		exchange:   true,
		success:    []string{"access_token", "issued_token_type", "token_type", "expires_in", "scope"},
		tokenField: "access_token", lifetimeField: "expires_in",
		tokenTypeField: "token_type", tokenType: "Bearer",
		nonStringToken: "9", mint: mintAlnum,
	},
}

var modeCredentials = map[string]Credentials{
	Zoom: {
		ClientID:     "sim-zoom-client-id-5e6f7a",
		ClientSecret: "sim-zoom-client-secret-8b9c0d",
		AccountID:    "sim-zoom-account-1a2b3c",
	},
}

// checkGrantFields checks what the mode's grant adds: Zoom's account_id,
// and an exchange's subject token (issued here, still live, by the vendor
// knobs.SubjectFrom names when set).
func (s *Sim) checkGrantFields(spec *vendorSpec, p params, c Credentials, knobs Knobs) *apiError {
	if spec.accountID && !secretEqual(p["account_id"], c.AccountID) {
		return &apiError{status: http.StatusBadRequest, code: "invalid_request", desc: "Invalid account_id"}
	}
	if !spec.exchange {
		return nil
	}
	from, ok := s.issuerOf(p["subject_token"])
	if !ok || (knobs.SubjectFrom != "" && from != knobs.SubjectFrom) {
		return &apiError{status: http.StatusBadRequest, code: "invalid_grant", desc: "subject_token is not a live token this simulator issued to the trusted issuer"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state(spec.name).stats.SubjectTokens++
	return nil
}

// issuerOf is the vendor or mode that issued a live token.
func (s *Sim) issuerOf(token string) (string, bool) {
	for _, name := range simulated {
		if s.TokenValid(name, token) {
			return name, true
		}
	}
	return "", false
}
