package vendorsim

import (
	"net/http"
	"strings"
	"time"
)

// apiOK is the protected endpoint's answer to a live token.
type apiOK struct {
	Vendor    string `json:"vendor"`
	OK        bool   `json:"ok"`
	ExpiresAt string `json:"expires_at"`
}

// serveAPI is the vendor's protected endpoint: 200 for a live token this
// sim issued for the vendor, 401 invalid_token otherwise (every page says
// a 401 means "get a new token").
func (s *Sim) serveAPI(w http.ResponseWriter, r *http.Request, spec *vendorSpec) {
	creds := s.countAPI(spec.name)
	exp, e := s.checkAPI(r, spec, creds)
	s.countAPIResult(spec.name, e == nil)
	if e != nil {
		spec.writeError(w, *e)
		return
	}
	writeJSON(w, http.StatusOK, apiOK{Vendor: spec.name, OK: true, ExpiresAt: exp.UTC().Format(time.RFC3339)})
}

// checkAPI applies the vendor's per-call headers (AlphaSense's x-api-key,
// the model-portfolio Accept) and then the bearer token.
func (s *Sim) checkAPI(r *http.Request, spec *vendorSpec, creds Credentials) (time.Time, *apiError) {
	if r.Method != http.MethodGet {
		e := methodNotAllowed()
		e.header["Allow"] = http.MethodGet
		return time.Time{}, &e
	}
	if e := spec.checkHeaders(r, creds); e != nil {
		return time.Time{}, e
	}
	tok, ok := bearerToken(r)
	if !ok {
		return time.Time{}, invalidToken("missing bearer token")
	}
	exp, ok := s.tokenExpiry(spec.name, tok)
	if !ok {
		return time.Time{}, invalidToken("The access token is expired or invalid")
	}
	return exp, nil
}

// bearerToken reads "Authorization: Bearer <token>" (RFC 6750 2.1; the
// scheme is case-insensitive, the token is taken verbatim, so the quoted
// token of the model-portfolio page's typo'd curl example is rejected).
func bearerToken(r *http.Request) (string, bool) {
	vals := r.Header.Values("Authorization")
	if len(vals) != 1 {
		return "", false
	}
	scheme, tok, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" || strings.ContainsAny(tok, " \"") {
		return "", false
	}
	return tok, true
}

func invalidToken(desc string) *apiError {
	return &apiError{status: http.StatusUnauthorized, code: "invalid_token", desc: desc,
		header: map[string]string{"WWW-Authenticate": `Bearer error="invalid_token"`}}
}

// countAPI counts an API request and returns the credentials to check it by.
func (s *Sim) countAPI(vendor string) Credentials {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.state(vendor)
	v.stats.APIRequests++
	return v.creds
}

func (s *Sim) countAPIResult(vendor string, accepted bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.state(vendor)
	if accepted {
		v.stats.APIAccepted++
	} else {
		v.stats.APIRejected++
	}
}
