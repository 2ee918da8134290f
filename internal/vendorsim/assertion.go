package vendorsim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// private_key_jwt mode (RFC 7523 2.2, OIDC Core 9): with Knobs.JWKSURL
// set, a vendor that authenticates clients also takes a client assertion
// signed by a key of the client's jwks_uri. It keeps the JWKS it fetched
// and refetches it whenever an assertion's kid is not in it (Keycloak does
// so at most every 10 s by default; oidc-provider first waits out a 60 s
// cache), so that a key published just before it signs is found on its
// first use.

const jwtBearerAssertion = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// maxJWKSBody caps a fetched JWKS.
const maxJWKSBody = 1 << 20

// assertionLeeway is the clock skew allowed on exp, nbf and iat.
const assertionLeeway = 30 * time.Second

// keptJWKS is a vendor's copy of its client's JWKS and where it came from.
type keptJWKS struct {
	url string
	set jose.JSONWebKeySet
}

func invalidClient(desc string) *apiError {
	return &apiError{status: http.StatusUnauthorized, code: "invalid_client", desc: desc}
}

// assertionClient authenticates a request that carries client_assertion:
// the signature by a key of the JWKS at jwksURL, iss = sub = client_id,
// aud the token endpoint, exp in the future.
func (s *Sim) assertionClient(r *http.Request, vendor, jwksURL string, p params) (clientAuth, *apiError) {
	if jwksURL == "" {
		return clientAuth{}, invalidClient("client assertions are not accepted for this client (no jwks_uri)")
	}
	if p["client_assertion_type"] != jwtBearerAssertion {
		return clientAuth{}, invalidClient("client_assertion_type must be " + jwtBearerAssertion)
	}
	tok, err := jwt.ParseSigned(p["client_assertion"], []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256})
	if err != nil || len(tok.Headers) != 1 {
		return clientAuth{}, invalidClient("malformed client_assertion")
	}
	key, err := s.assertionKey(r.Context(), vendor, jwksURL, tok.Headers[0].KeyID)
	if err != nil {
		return clientAuth{}, invalidClient(err.Error())
	}
	var claims jwt.Claims
	if err := tok.Claims(key.Key, &claims); err != nil {
		return clientAuth{}, invalidClient("client_assertion signature does not verify")
	}
	id := p["client_id"]
	if id == "" {
		id = claims.Subject
	}
	want := jwt.Expected{Issuer: id, Subject: id, AnyAudience: jwt.Audience{tokenEndpointURL(r)}, Time: s.clock()}
	if err := claims.ValidateWithLeeway(want, assertionLeeway); err != nil || claims.Expiry == nil {
		return clientAuth{}, invalidClient(fmt.Sprintf("client_assertion claims: %v", err))
	}
	return clientAuth{id: id, viaAssertion: true}, nil
}

// tokenEndpointURL is the URL the request was sent to: the assertion's
// required audience (RFC 7523 3, item 3).
func tokenEndpointURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.Path
}

// assertionKey is the key of kid in the kept JWKS, refetched once when
// kid is not there. Its error names the client's jwks_uri: the caller
// answers it as its mode's error code (invalid_client for a client
// assertion, invalid_grant for a jwt_bearer grant).
func (s *Sim) assertionKey(ctx context.Context, vendor, jwksURL, kid string) (jose.JSONWebKey, error) {
	if k, ok := s.keptKey(vendor, jwksURL, kid); ok {
		return k, nil
	}
	set, err := fetchJWKS(ctx, jwksURL)
	s.mu.Lock()
	v := s.state(vendor)
	v.stats.JWKSFetches++
	if err == nil {
		v.jwks = &keptJWKS{url: jwksURL, set: set}
	}
	s.mu.Unlock()
	if err != nil {
		return jose.JSONWebKey{}, fmt.Errorf("fetching the client's jwks_uri: %w", err)
	}
	if keys := set.Key(kid); len(keys) == 1 {
		return keys[0], nil
	}
	return jose.JSONWebKey{}, fmt.Errorf("no key with kid %q in the client's jwks_uri", kid)
}

func (s *Sim) keptKey(vendor, jwksURL, kid string) (jose.JSONWebKey, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.state(vendor).jwks
	if kept == nil || kept.url != jwksURL {
		return jose.JSONWebKey{}, false
	}
	if keys := kept.set.Key(kid); len(keys) == 1 {
		return keys[0], true
	}
	return jose.JSONWebKey{}, false
}

// fetchJWKS GETs a JWKS, bounded in time and size: a jwks_uri that does
// not answer must fail the grant, not hold it.
func fetchJWKS(ctx context.Context, url string) (jose.JSONWebKeySet, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBody))
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return jose.JSONWebKeySet{}, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("not a JWKS: %w", err)
	}
	return set, nil
}
