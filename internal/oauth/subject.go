package oauth

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// SubjectToken is a token exchange's subject token (RFC 8693 2.1): the
// token, its RFC 8693 3 type identifier ("" for access_token) and when it
// expires (zero when unknown). It is a credential: never returned,
// logged or echoed.
type SubjectToken struct {
	Token     string
	Type      string
	ExpiresAt time.Time
}

// SubjectSource supplies the subject token of each token exchange grant,
// once per grant (retries reuse it). The caller decides where it comes
// from: another connection's cached token, a JWT its own issuer signs. Its
// error says why there is none, in words fit for the grant's error (no
// secrets): the grant fails with it.
type SubjectSource func(ctx context.Context) (*SubjectToken, error)

// JWTSubject is a JWT of the caller's own issuer (or its platform's, as
// Vault's plugin identity token) as a subject token: typed jwt (RFC 8693
// 3), expiring at its exp claim so that ExpiresWithSubject caps the new
// token there (no exp: unknown, no cap).
func JWTSubject(token string) *SubjectToken {
	s := &SubjectToken{Token: token, Type: TokenTypeJWT}
	if exp, ok, err := jwtExpiry(token); ok && err == nil && exp > 0 && exp < 1<<40 {
		s.ExpiresAt = time.Unix(int64(exp), 0)
	}
	return s
}

// subjectFor fetches the grant's subject token when the grant exchanges
// one; nil when it does not.
func subjectFor(ctx context.Context, cfg *Config, g grant) (*SubjectToken, error) {
	if !g.exchanges {
		return nil, nil
	}
	if cfg.SubjectSource == nil {
		return nil, errNoSubjectSource
	}
	s, err := cfg.SubjectSource(ctx)
	if err != nil {
		return nil, err
	}
	if s == nil || s.Token == "" {
		return nil, errEmptySubject
	}
	return s, nil
}

// subjectSecrets: a subject token is cut out of every text like an
// assertion (whole, and a JWT's signature alone).
func subjectSecrets(s *SubjectToken) []string {
	if s == nil {
		return nil
	}
	return assertionSecrets(s.Token)
}

// capAtSubject: with ExpiresWithSubject, the new token expires no later
// than its subject (a vendor that ends the exchanged token's session with
// the subject's would otherwise see it used past its end).
func capAtSubject(tok *Token, cfg *Config, s *SubjectToken) {
	if !cfg.ExpiresWithSubject || s == nil || s.ExpiresAt.IsZero() {
		return
	}
	if s.ExpiresAt.Before(tok.ExpiresAt) {
		tok.ExpiresAt = s.ExpiresAt
	}
}

var (
	errNoSubjectSource = errors.New("the connection has no source of subject tokens")
	errEmptySubject    = errors.New("the subject token source gave no token")
)

// subjectError: no subject token, so no request was sent. 504 when the
// source ran out of time, else 502 (the source's own failure, a vendor's,
// is what its words name).
func subjectError(name string, err error, red *redactor) *Error {
	return &Error{Timeout: errors.Is(err, context.DeadlineExceeded),
		Message: fmt.Sprintf("vendor config %q: no subject token: %s", name, red.String(err.Error()))}
}
