package vendorsim

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxControlBody caps a knobs body.
const maxControlBody = 64 << 10

// controlMux serves /_sim/, the control plane for a sim running as a
// separate process (end-to-end tests, the demo script).
func (s *Sim) controlMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_sim/stats", s.handleAllStats)
	mux.HandleFunc("GET /_sim/stats/{vendor}", s.withVendor(s.handleStats))
	mux.HandleFunc("GET /_sim/knobs/{vendor}", s.withVendor(s.handleGetKnobs))
	mux.HandleFunc("POST /_sim/knobs/{vendor}", s.withVendor(s.handleSetKnobs))
	mux.HandleFunc("POST /_sim/reset", s.handleReset)
	mux.HandleFunc("GET /_sim/valid/{vendor}", s.withVendor(s.handleValid))
	mux.HandleFunc("GET /_sim/credentials/{vendor}", s.withVendor(s.handleCredentials))
	mux.HandleFunc("GET /_sim/last/{vendor}", s.withVendor(s.handleLast))
	mux.HandleFunc("GET /_sim/assertions/{vendor}", s.withVendor(s.handleAssertions))
	return mux
}

// withVendor rejects unknown vendors before h runs, so handlers never
// reach the panicking state lookup.
func (s *Sim) withVendor(h func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		vendor := r.PathValue("vendor")
		if specFor(vendor) == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown vendor " + vendor})
			return
		}
		h(w, r, vendor)
	}
}

func (s *Sim) handleAllStats(w http.ResponseWriter, _ *http.Request) {
	all := map[string]Stats{}
	for _, v := range simulated {
		all[v] = s.Stats(v)
	}
	writeJSON(w, http.StatusOK, all)
}

func (s *Sim) handleStats(w http.ResponseWriter, _ *http.Request, vendor string) {
	writeJSON(w, http.StatusOK, s.Stats(vendor))
}

func (s *Sim) handleGetKnobs(w http.ResponseWriter, _ *http.Request, vendor string) {
	writeJSON(w, http.StatusOK, s.Knobs(vendor))
}

// handleSetKnobs replaces the vendor's knobs with the JSON body (see
// Knobs.UnmarshalJSON) and answers the knobs now in force.
func (s *Sim) handleSetKnobs(w http.ResponseWriter, r *http.Request, vendor string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxControlBody))
	var k Knobs
	if err == nil {
		err = json.Unmarshal(body, &k)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	s.SetKnobs(vendor, k)
	writeJSON(w, http.StatusOK, s.Knobs(vendor))
}

func (s *Sim) handleReset(w http.ResponseWriter, _ *http.Request) {
	s.Reset()
	writeJSON(w, http.StatusOK, map[string]bool{"reset": true})
}

func (s *Sim) handleValid(w http.ResponseWriter, r *http.Request, vendor string) {
	writeJSON(w, http.StatusOK, map[string]bool{"valid": s.TokenValid(vendor, r.URL.Query().Get("token"))})
}

// handleCredentials hands the accepted credentials to the demo script so
// it can configure Vault; they are simulator secrets, never real ones.
func (s *Sim) handleCredentials(w http.ResponseWriter, _ *http.Request, vendor string) {
	s.mu.Lock()
	c := s.state(vendor).creds
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, c)
}

// LastRequestDigest is what GET /_sim/last/{vendor} tells about the last
// token request: which headers and body parameters it carried, each value
// as the hex SHA-256 of its values joined by "\n". A test that knows a
// value it configured checks the vendor received it, and the control
// answer (and whoever logs it) never holds a credential.
type LastRequestDigest struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"` // canonical name -> digest
	// Params are the body's parameters: a form's fields, or a JSON
	// object's string members.
	Params map[string]string `json:"params"`
}

// Digest is the hex SHA-256 of values joined by "\n", as LastRequestDigest
// reports a header or parameter.
func Digest(values ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(values, "\n")))
	return hex.EncodeToString(sum[:])
}

// handleLast answers LastRequestDigest, 404 before the first token request.
func (s *Sim) handleLast(w http.ResponseWriter, _ *http.Request, vendor string) {
	r := s.LastTokenRequest(vendor)
	if r == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no token request yet for " + vendor})
		return
	}
	body, _ := io.ReadAll(r.Body)
	d := LastRequestDigest{Method: r.Method, Path: r.URL.Path, Headers: map[string]string{}, Params: map[string]string{}}
	for name, vs := range r.Header {
		d.Headers[http.CanonicalHeaderKey(name)] = Digest(vs...)
	}
	if mediaType(r) == "application/json" {
		var obj map[string]any
		_ = json.Unmarshal(body, &obj)
		for k, v := range obj {
			if str, ok := v.(string); ok {
				d.Params[k] = Digest(str)
			}
		}
	} else if form, err := url.ParseQuery(string(body)); err == nil {
		for k, vs := range form {
			d.Params[k] = Digest(vs...)
		}
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Sim) handleAssertions(w http.ResponseWriter, _ *http.Request, vendor string) {
	writeJSON(w, http.StatusOK, s.Assertions(vendor))
}
