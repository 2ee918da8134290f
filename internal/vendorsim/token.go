package vendorsim

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"
)

// maxTokenBody caps what the token endpoint reads: no vendor needs more
// than a few hundred bytes, and the sim must not be a memory sink.
const maxTokenBody = 64 << 10

// maxRememberedTokens bounds the token table; beyond it expired tokens are pruned.
const maxRememberedTokens = 4096

// tokenPlan is a snapshot, taken under the lock, of what one token request
// will be answered with.
type tokenPlan struct {
	knobs   Knobs
	fault   Fault
	creds   Credentials
	mtls    bool
	release <-chan struct{}
}

// serveToken answers a token endpoint: count and record, wait Latency,
// then either the fault or the vendor's normal validation and answer.
func (s *Sim) serveToken(w http.ResponseWriter, r *http.Request, spec *vendorSpec) {
	body, tooBig := readCapped(w, r)
	plan := s.beginToken(spec.name, r, body)
	if !sleep(r.Context(), plan.knobs.Latency) {
		return
	}
	if tooBig {
		spec.writeError(w, apiError{status: http.StatusRequestEntityTooLarge, code: "invalid_request",
			desc: "request body exceeds 64 KiB"})
		return
	}
	if plan.fault != FaultNone && plan.fault != FaultExpiresIn {
		s.serveFault(w, r, spec, plan, body)
		return
	}
	grant, e := s.checkTokenRequest(r, spec, body, plan)
	if e != nil {
		spec.writeError(w, *e)
		return
	}
	s.issue(w, spec, plan, grant)
}

// readCapped reads at most maxTokenBody bytes; tooBig reports a longer body.
func readCapped(w http.ResponseWriter, r *http.Request) (body []byte, tooBig bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxTokenBody))
	var maxErr *http.MaxBytesError
	return body, errors.As(err, &maxErr)
}

// beginToken counts the request, records it for LastTokenRequest (and its
// jwt_bearer assertion for Assertions), and takes one fault off the
// FaultCount budget.
func (s *Sim) beginToken(vendor string, r *http.Request, body []byte) tokenPlan {
	rec := recordRequest(r, body)
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.state(vendor)
	v.stats.TokenRequests++
	v.last = rec
	v.keepAssertion(body)
	plan := tokenPlan{knobs: v.knobs, creds: v.creds, mtls: s.mtls, release: s.release}
	plan.fault = v.takeFault()
	return plan
}

// takeFault returns the fault for this request. With FaultCount N the fault
// applies N times and is then cleared, so Knobs shows what is left.
func (v *vendorState) takeFault() Fault {
	f := v.knobs.Fault
	if f == FaultNone || v.knobs.FaultCount <= 0 {
		return f
	}
	v.knobs.FaultCount--
	if v.knobs.FaultCount == 0 {
		v.knobs.Fault = FaultNone
	}
	return f
}

// sleep waits d; false when the request was cancelled meanwhile.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// issue mints, records and answers a token.
func (s *Sim) issue(w http.ResponseWriter, spec *vendorSpec, plan tokenPlan, grant tokenGrant) {
	now := s.clock()
	exp := now.Add(plan.knobs.Lifetime)
	tok := spec.mint(mintInput{clientID: grant.clientID, issued: now, expires: exp})
	s.remember(spec.name, tok, exp, now)
	ms := spec.successMembers(tok, plan.knobs.Lifetime, grant.scope)
	if plan.fault == FaultExpiresIn {
		ms = spec.withRawLifetime(ms, plan.knobs.ExpiresInRaw)
	}
	writeRaw(w, http.StatusOK, "application/json", encodeObject(ms))
}

func (s *Sim) remember(vendor, tok string, exp, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.state(vendor)
	if len(v.tokens) >= maxRememberedTokens {
		for t, e := range v.tokens {
			if !now.Before(e) {
				delete(v.tokens, t)
			}
		}
	}
	v.tokens[tok] = exp
	v.stats.TokensIssued++
}
