package oauth

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"time"
)

// bodySource makes the token request's body for each attempt. With a
// client assertion every attempt signs a new one: a retry after a 503 must
// not replay a jti the server may already have seen (RFC 7523 3 lets it
// refuse the replay; oidc-provider does). retryablehttp calls the source
// once up front to learn the length; that body is kept for the first
// attempt, so no assertion is made that is not sent. The assertions sent
// are remembered for the redactor: an assertion is a credential too.
//
// An attempt's body need not be as long as the first: a supplied
// assertion (Vault's plugin identity token, an issuer key switched from
// RSA to EC mid-grant) changes length between attempts. Each body is an
// attemptBody, which retryablehttp sends as it is (an io.ReadCloser), and
// the request's hook (attemptLength) sets that attempt's Content-Length
// from it before it is sent.
type bodySource struct {
	// ctx is the grant's: a supplier (AssertionSupplier) may ask its
	// platform for the assertion.
	ctx    context.Context
	cfg    *Config
	grant  grant
	auth   clientAuth
	signer *assertionSigner
	// subject is the grant's subject token (token_exchange), one per grant.
	subject *SubjectToken
	now     func() time.Time

	mu      sync.Mutex
	pending []byte
	sent    []string
}

func (s *bodySource) read() (io.Reader, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending != nil {
		b := s.pending
		s.pending = nil
		return newAttemptBody(b), nil
	}
	b, err := s.build()
	if err != nil {
		return nil, err
	}
	if len(s.sent) == 1 {
		s.pending = b // the up-front length probe: the first attempt sends it
	}
	return newAttemptBody(b), nil
}

// attemptBody is one attempt's body: a reader that knows its length.
type attemptBody struct{ *bytes.Reader }

func newAttemptBody(b []byte) *attemptBody { return &attemptBody{bytes.NewReader(b)} }

// Close: nothing to release (retryablehttp closes the probe's body).
func (*attemptBody) Close() error { return nil }

// attemptLength sets req's Content-Length to its attempt's body, which
// retryablehttp has just set (its RequestLogHook runs between that and
// the send): net/http refuses a body longer or shorter than the length
// the request states. Other bodies (a metadata fetch's none) keep theirs.
func attemptLength(req *http.Request) {
	if b, ok := req.Body.(*attemptBody); ok {
		req.ContentLength = int64(b.Len())
	}
}

// build encodes one body, with a fresh assertion when client_auth signs.
func (s *bodySource) build() ([]byte, error) {
	assertion, err := s.assertion()
	if err != nil {
		return nil, err
	}
	s.sent = append(s.sent, assertion)
	return encodeBody(s.cfg, s.grant, s.auth, grantInputs{assertion: assertion, subject: s.subject})
}

// assertion is this attempt's assertion: supplied (AssertionSupplier),
// signed by the client's signer, or none.
func (s *bodySource) assertion() (string, error) {
	switch {
	case s.cfg.AssertionSupplier != nil && (s.grant.signs || s.auth.key != nil):
		return s.cfg.AssertionSupplier(s.ctx, s.now())
	case s.signer != nil:
		return s.signer.sign(s.now())
	}
	return "", nil
}

// assertions are the assertions this request sent (or tried to).
func (s *bodySource) assertions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, a := range s.sent {
		if a != "" {
			out = append(out, assertionSecrets(a)...)
		}
	}
	return out
}
