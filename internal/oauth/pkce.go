package oauth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"
)

// Consent is one authorization request of the authorization code grant
// (RFC 6749 4.1.1) with PKCE (RFC 7636): the URL the user opens, and what
// the caller keeps to finish it. State and Verifier are secrets: the
// caller stores them, seal-wrapped, and never shows the verifier.
type Consent struct {
	URL         string
	RedirectURL string // the redirect_uri URL carries (the exchange sends it again)
	State       string
	Verifier    string
}

// randomBytes: 32 bytes, 256 bits, for the state (RFC 6749 10.12: not
// guessable) and the verifier (RFC 7636 4.1: 43 characters of
// base64url, 256 bits of entropy recommended).
const randomBytes = 32

// NewConsent builds the authorize URL of authURL for c (client_id,
// redirect_uri, scope) with a fresh state and an S256 code challenge
// (RFC 7636 4.2), and extra parameters (access_type=offline,
// prompt=consent, audience: the vendor's own). statePrefix is prepended
// to the random state (the caller's lookup key); extra never overrides
// the protocol's own parameters.
func NewConsent(authURL string, c *Config, statePrefix string, extra map[string]string) (*Consent, error) {
	u, err := url.Parse(authURL)
	if err != nil {
		return nil, err
	}
	state, err := randomText()
	if err != nil {
		return nil, err
	}
	verifier, err := randomText()
	if err != nil {
		return nil, err
	}
	q := u.Query()
	for k, v := range extra {
		q.Set(k, v)
	}
	q.Set("response_type", "code")
	q.Set("client_id", c.ClientID)
	if c.RedirectURL != "" {
		q.Set("redirect_uri", c.RedirectURL)
	}
	if len(c.Scopes) > 0 {
		q.Set("scope", strings.Join(c.Scopes, " "))
	}
	q.Set("state", statePrefix+state)
	q.Set("code_challenge", CodeChallenge(verifier))
	q.Set("code_challenge_method", "S256")
	u.RawQuery = q.Encode()
	return &Consent{URL: u.String(), RedirectURL: c.RedirectURL, State: statePrefix + state, Verifier: verifier}, nil
}

// CodeChallenge is RFC 7636 4.2's S256: BASE64URL(SHA256(verifier)).
func CodeChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func randomText() (string, error) {
	b := make([]byte, randomBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
