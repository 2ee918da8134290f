package vendorsim

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"time"
)

// Stats counts one vendor's traffic.
type Stats struct {
	TokenRequests int `json:"token_requests"` // every request that reached the token endpoint, faulted ones included
	TokensIssued  int `json:"tokens_issued"`
	APIRequests   int `json:"api_requests"`
	APIAccepted   int `json:"api_accepted"`
	APIRejected   int `json:"api_rejected"`
	JWKSFetches   int `json:"jwks_fetches"` // private_key_jwt and jwt_bearer modes: GETs of Knobs.JWKSURL (assertion.go)
	// SubjectTokens counts the exchange mode's accepted subject tokens:
	// live, issued here (to Knobs.SubjectFrom when set; grants.go).
	SubjectTokens int `json:"subject_tokens"`
}

// Sim simulates all five vendors. The zero value is not usable; call New.
// All methods are safe for concurrent use.
type Sim struct {
	mu      sync.Mutex
	now     func() time.Time
	vendors map[string]*vendorState
	release chan struct{} // closed by Reset to free hanging requests
	control http.Handler
	mtls    bool // client certificates required (mtls.go)
}

// vendorState is everything the Sim remembers about one vendor.
type vendorState struct {
	spec   *vendorSpec
	creds  Credentials
	knobs  Knobs
	stats  Stats
	tokens map[string]time.Time // issued token -> expiry (sim clock)
	last   *recordedRequest
	jwks   *keptJWKS // private_key_jwt mode: the client's JWKS as last fetched
	// jwt_bearer mode (bearer.go): the jti of each accepted assertion until
	// it expires, accepted assertions by kid, the last assertions received.
	jtis       map[string]time.Time
	kids       map[string]int
	assertions []string
}

// recordedRequest is a token request kept for LastTokenRequest.
type recordedRequest struct {
	req  *http.Request // body-less clone
	body []byte
}

// New returns a Sim for all five vendors with default credentials, default
// knobs and the real clock.
func New() *Sim {
	s := &Sim{now: time.Now, vendors: map[string]*vendorState{}, release: make(chan struct{})}
	for _, name := range simulated {
		spec := specFor(name)
		s.vendors[name] = &vendorState{
			spec: spec, creds: DefaultCredentials(name),
			knobs: defaultKnobs(spec), tokens: map[string]time.Time{}, jtis: map[string]time.Time{},
		}
	}
	s.control = s.controlMux()
	return s
}

// state returns vendor's state; the caller holds s.mu. It panics for an
// unknown vendor: a misspelt vendor in a test is a bug to report at once.
func (s *Sim) state(vendor string) *vendorState {
	v, ok := s.vendors[vendor]
	if !ok {
		panic("vendorsim: unknown vendor " + vendor)
	}
	return v
}

// SetClock sets the clock tokens are issued and expire by. now must be safe
// for concurrent use.
func (s *Sim) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

func (s *Sim) clock() time.Time {
	s.mu.Lock()
	now := s.now
	s.mu.Unlock()
	return now()
}

// SetCredentials replaces the credentials vendor accepts. Tokens already
// issued stay valid.
func (s *Sim) SetCredentials(vendor string, c Credentials) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state(vendor).creds = c
}

// SetKnobs replaces vendor's knobs; a zero Lifetime means the vendor default.
func (s *Sim) SetKnobs(vendor string, k Knobs) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.state(vendor)
	v.knobs = k.withDefaults(v.spec)
	v.jwks = nil // a new jwks_uri (or none): fetch afresh
}

// Knobs returns vendor's current knobs, Lifetime resolved. While a
// FaultCount is running, FaultCount is the number of faults left; once it
// runs out the Fault is cleared.
func (s *Sim) Knobs(vendor string) Knobs {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state(vendor).knobs
}

// Stats returns vendor's counters (zero for an unknown vendor).
func (s *Sim) Stats(vendor string) Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.vendors[vendor]; ok {
		return v.stats
	}
	return Stats{}
}

// Reset sets counters to zero and knobs to defaults, forgets issued tokens,
// the last token requests and the jwt_bearer assertions, and releases requests held by FaultHang.
// Credentials and the clock are kept.
func (s *Sim) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.vendors {
		v.knobs = defaultKnobs(v.spec)
		v.stats = Stats{}
		v.tokens = map[string]time.Time{}
		v.last = nil
		v.jwks = nil
		v.jtis = map[string]time.Time{}
		v.kids = nil
		v.assertions = nil
	}
	close(s.release)
	s.release = make(chan struct{})
}

// TokenValid reports whether token was issued by this Sim for vendor and has
// not expired by the Sim's clock.
func (s *Sim) TokenValid(vendor, token string) bool {
	_, ok := s.tokenExpiry(vendor, token)
	return ok
}

// tokenExpiry returns the expiry of a live token.
func (s *Sim) tokenExpiry(vendor, token string) (time.Time, bool) {
	now := s.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vendors[vendor]
	if !ok {
		return time.Time{}, false
	}
	exp, ok := v.tokens[token]
	if !ok || !now.Before(exp) {
		return time.Time{}, false
	}
	return exp, true
}

// LastTokenRequest returns a clone of the last request that reached vendor's
// token endpoint, with its body re-readable (GetBody works too), or nil.
func (s *Sim) LastTokenRequest(vendor string) *http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vendors[vendor]
	if !ok || v.last == nil {
		return nil
	}
	return v.last.clone()
}

func (rr *recordedRequest) clone() *http.Request {
	c := rr.req.Clone(context.Background())
	body := rr.body
	c.Body = io.NopCloser(bytes.NewReader(body))
	c.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	c.ContentLength = int64(len(body))
	return c
}

func recordRequest(r *http.Request, body []byte) *recordedRequest {
	c := r.Clone(context.Background())
	c.Body = http.NoBody
	return &recordedRequest{req: c, body: bytes.Clone(body)}
}
