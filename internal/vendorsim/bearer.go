package vendorsim

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// jwt_bearer mode (RFC 7523 2.1 and 3): with Knobs.JWTBearer set, a
// vendor's token endpoint takes the JWT-bearer authorization grant instead
// of its own grant and checks the assertion the way Google's or
// Salesforce's token endpoint does: the signature by the key of its kid in
// the client's JWKS at Knobs.JWKSURL (kept, refetched on an unknown kid,
// as in private_key_jwt mode), iss, sub, aud = the token endpoint, exp
// present and at most an hour after iat, a jti never seen before, and the
// scope claim where the vendor wants the scopes there (Google, DocuSign).

// JWTBearerGrantType is RFC 7523 2.1's grant_type.
const JWTBearerGrantType = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// maxAssertionLifetime: Google refuses an assertion whose exp is more than
// an hour after its iat; RFC 7523 3 item 4 lets a server limit it so.
const maxAssertionLifetime = time.Hour

// maxKeptAssertions bounds the assertions a vendor keeps for Assertions.
const maxKeptAssertions = 256

// BearerRule is what a vendor in jwt_bearer mode requires of an
// assertion's claims (Knobs.JWTBearer).
type BearerRule struct {
	// Issuer is the required iss; "" means the vendor's client_id.
	Issuer string `json:"issuer"`
	// Subject is the required sub; "" means none (Google without
	// domain-wide delegation).
	Subject string `json:"subject"`
	// Scope is the required scope claim, where scopes travel in the
	// assertion rather than the body (Google, DocuSign); "" means none.
	Scope string `json:"scope"`
}

// bearerClaims are the claims a jwt_bearer assertion is checked on.
type bearerClaims struct {
	jwt.Claims
	Scope string `json:"scope"`
}

// RFC 7523 3.1: a grant whose assertion is not valid is invalid_grant.
func invalidGrant(desc string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "invalid_grant", desc: desc}
}

// bearerGrant checks a jwt_bearer token request whose parameters p are
// parsed: the grant type, the client if it authenticates, the assertion.
func (s *Sim) bearerGrant(r *http.Request, spec *vendorSpec, p params, plan tokenPlan) (tokenGrant, *apiError) {
	if p["grant_type"] != JWTBearerGrantType {
		return tokenGrant{}, &apiError{status: http.StatusBadRequest, code: "unsupported_grant_type",
			desc: "grant_type must be " + JWTBearerGrantType}
	}
	if p["assertion"] == "" {
		return tokenGrant{}, badRequest("missing parameter assertion")
	}
	if e := spec.bearerClient(r, p, plan.creds); e != nil {
		return tokenGrant{}, e
	}
	rule := *plan.knobs.JWTBearer
	if rule.Issuer == "" {
		rule.Issuer = plan.creds.ClientID
	}
	claims, kid, e := s.verifyBearer(r, spec.name, plan.knobs.JWKSURL, p["assertion"], rule)
	if e != nil {
		return tokenGrant{}, e
	}
	if e := s.spendJTI(spec.name, kid, claims); e != nil {
		return tokenGrant{}, e
	}
	return tokenGrant{clientID: claims.Issuer, scope: claims.Scope}, nil
}

// bearerClient: client authentication is optional beside the grant (RFC
// 7523 3.1); a client that presents credentials (Box sends client_id and
// client_secret in the body) must present good ones.
func (spec *vendorSpec) bearerClient(r *http.Request, p params, c Credentials) *apiError {
	_, _, basic := r.BasicAuth()
	if !spec.clientAuth || (p["client_secret"] == "" && !basic) {
		return nil
	}
	client, e := spec.clientCredentials(r, p)
	if e != nil {
		return e
	}
	return spec.authenticate(p, client, c)
}

// verifyBearer verifies the assertion's signature against the client's
// JWKS and its claims against rule; it returns the claims and the kid.
func (s *Sim) verifyBearer(r *http.Request, vendor, jwksURL, raw string, rule BearerRule) (bearerClaims, string, *apiError) {
	if jwksURL == "" {
		return bearerClaims{}, "", invalidGrant("no key registered for the assertion's issuer (no jwks_url)")
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256})
	if err != nil || len(tok.Headers) != 1 {
		return bearerClaims{}, "", invalidGrant("malformed assertion")
	}
	kid := tok.Headers[0].KeyID
	key, err := s.assertionKey(r.Context(), vendor, jwksURL, kid)
	if err != nil {
		return bearerClaims{}, "", invalidGrant(err.Error())
	}
	var c bearerClaims
	if err := tok.Claims(key.Key, &c); err != nil {
		return bearerClaims{}, "", invalidGrant("assertion signature does not verify")
	}
	if e := rule.check(c, tokenEndpointURL(r), s.clock()); e != nil {
		return bearerClaims{}, "", e
	}
	return c, kid, nil
}

// check applies RFC 7523 3's claim rules and the vendor's own. Messages
// quote claim values (names and scopes, never credentials).
func (rule BearerRule) check(c bearerClaims, aud string, now time.Time) *apiError {
	want := jwt.Expected{Issuer: rule.Issuer, AnyAudience: jwt.Audience{aud}, Time: now}
	if err := c.ValidateWithLeeway(want, assertionLeeway); err != nil {
		return invalidGrant("assertion claims: " + err.Error())
	}
	switch {
	case c.Expiry == nil || c.IssuedAt == nil:
		return invalidGrant("assertion claims: exp and iat are required")
	case c.Expiry.Time().Sub(c.IssuedAt.Time()) > maxAssertionLifetime:
		return invalidGrant("assertion claims: exp is more than 1h after iat")
	case c.ID == "":
		return invalidGrant("assertion claims: jti is required")
	case c.Subject != rule.Subject:
		return invalidGrant(fmt.Sprintf("assertion claims: sub %q, want %q", c.Subject, rule.Subject))
	case c.Scope != rule.Scope:
		return invalidGrant(fmt.Sprintf("assertion claims: scope %q, want %q", c.Scope, rule.Scope))
	}
	return nil
}

// spendJTI refuses an assertion whose jti was seen before (RFC 7523 3
// item 7: a replay), and counts the verified assertion under its kid.
func (s *Sim) spendJTI(vendor, kid string, c bearerClaims) *apiError {
	now := s.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.state(vendor)
	if _, seen := v.jtis[c.ID]; seen {
		return invalidGrant("assertion jti already used")
	}
	if len(v.jtis) >= maxRememberedTokens {
		for id, exp := range v.jtis {
			if !now.Before(exp) {
				delete(v.jtis, id)
			}
		}
	}
	// Kept past exp by the leeway: until then the assertion still passes.
	v.jtis[c.ID] = c.Expiry.Time().Add(assertionLeeway)
	if v.kids == nil {
		v.kids = map[string]int{}
	}
	v.kids[kid]++
	return nil
}

// keepAssertion remembers the assertion parameter of a form-encoded token
// request, verified or not (an echoing fault answers before any check);
// the caller holds s.mu.
func (v *vendorState) keepAssertion(body []byte) {
	p, e := parseFormBody(body)
	if e != nil || p["assertion"] == "" {
		return
	}
	if len(v.assertions) == maxKeptAssertions {
		v.assertions = v.assertions[1:]
	}
	v.assertions = append(v.assertions, p["assertion"])
}

// Assertions returns the jwt_bearer assertions vendor's token endpoint
// received, oldest first (at most the last 256), and how many it accepted
// signed by each kid.
func (s *Sim) Assertions(vendor string) AssertionsAnswer {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vendors[vendor]
	if !ok {
		return AssertionsAnswer{}
	}
	return AssertionsAnswer{Received: slices.Clone(v.assertions), AcceptedKIDs: maps.Clone(v.kids)}
}

// AssertionsAnswer is what GET /_sim/assertions/{vendor} answers. Like
// /_sim/credentials it hands out the simulated client's credentials (the
// assertions, whole), for a test to look for them in what Vault shows.
type AssertionsAnswer struct {
	Received     []string       `json:"received"`
	AcceptedKIDs map[string]int `json:"accepted_kids"`
}
