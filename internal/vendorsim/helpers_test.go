package vendorsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a concurrency-safe settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newTestSim starts a Sim with a fake clock behind an httptest server.
func newTestSim(t *testing.T) (*Sim, *httptest.Server, *fakeClock) {
	t.Helper()
	sim := New()
	clk := &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	sim.SetClock(clk.Now)
	srv := httptest.NewServer(sim)
	t.Cleanup(func() {
		sim.Reset() // release any hanging request before Close waits for it
		srv.Close()
	})
	return sim, srv, clk
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
	return http.ErrUseLastResponse
}}

// tokenReq describes a token request so that cases can bend one part of it.
type tokenReq struct {
	method  string
	path    string
	header  http.Header
	params  map[string]string
	json    bool
	rawBody *string
	basic   *[2]string
}

// goodTokenReq is the request each vendor page documents.
func goodTokenReq(vendor string, c Credentials) tokenReq {
	tr := tokenReq{method: http.MethodPost, path: TokenPath(vendor), header: http.Header{}}
	switch vendor {
	case AlphaSense:
		tr.header.Set("x-api-key", c.APIKey)
		tr.params = map[string]string{"grant_type": "password", "username": c.Username,
			"password": c.Password, "client_id": c.ClientID, "client_secret": c.ClientSecret}
	case ModelPortfolio:
		tr.header.Set("Accept", "application/json; version=1.0.0")
		tr.json = true
		tr.params = map[string]string{"client_id": c.ClientID, "client_secret": c.ClientSecret,
			"grant_type": "client_credentials"}
	case AlertSite:
		tr.json = true
		tr.params = map[string]string{"username": c.Username, "password": c.Password}
	case Alation, AgentSync:
		tr.params = map[string]string{"grant_type": "client_credentials",
			"client_id": c.ClientID, "client_secret": c.ClientSecret}
	}
	if tr.json {
		tr.header.Set("Content-Type", "application/json")
	} else {
		tr.header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return tr
}

// encode renders the body (json.Marshal of a map of strings cannot fail).
func (tr tokenReq) encode() string {
	if tr.rawBody != nil {
		return *tr.rawBody
	}
	if tr.json {
		b, _ := json.Marshal(tr.params)
		return string(b)
	}
	v := url.Values{}
	for k, p := range tr.params {
		v.Set(k, p)
	}
	return v.Encode()
}

func (tr tokenReq) build(t *testing.T, base string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(tr.method, base+tr.path, strings.NewReader(tr.encode()))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range tr.header {
		req.Header[k] = v
	}
	if tr.basic != nil {
		req.SetBasicAuth(tr.basic[0], tr.basic[1])
	}
	return req
}

// apiReq is a correct call of the vendor's protected endpoint with tok.
func apiReq(t *testing.T, base, vendor, tok string, c Credentials) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+APIPath(vendor), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	switch vendor {
	case AlphaSense:
		req.Header.Set("x-api-key", c.APIKey)
	case ModelPortfolio:
		req.Header.Set("Accept", "application/json; version=1.0.0")
	}
	return req
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, c *http.Client, req *http.Request) answer {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, b}
}

// members decodes a JSON object body into raw members.
func members(t *testing.T, body []byte) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %.200s", err, body)
	}
	return m
}

func tokenField(vendor string) string { return specFor(vendor).tokenField }

// tokenOf extracts the token string from a success body.
func tokenOf(t *testing.T, vendor string, body []byte) string {
	t.Helper()
	var tok string
	if err := json.Unmarshal(members(t, body)[tokenField(vendor)], &tok); err != nil || tok == "" {
		t.Fatalf("%s: no string token in %s", vendor, body)
	}
	return tok
}

// getToken obtains a token the documented way.
func getToken(t *testing.T, base, vendor string) string {
	t.Helper()
	a := do(t, http.DefaultClient, goodTokenReq(vendor, DefaultCredentials(vendor)).build(t, base))
	if a.status != http.StatusOK {
		t.Fatalf("%s token: %d %s", vendor, a.status, a.body)
	}
	return tokenOf(t, vendor, a.body)
}

// errorText checks body is the vendor's error shape for status and code
// and returns its human text.
func errorText(t *testing.T, vendor string, status int, code string, body []byte) string {
	t.Helper()
	m := members(t, body)
	switch specFor(vendor).errors {
	case shapeMessage:
		var e messageError
		mustDecode(t, body, &e)
		if len(m) != 1 || e.Message == "" {
			t.Fatalf("%s: want {\"message\"}, got %s", vendor, body)
		}
		return e.Message
	case shapeErrorList:
		var e errorList
		mustDecode(t, body, &e)
		prefix := code + " - "
		if len(m) != 1 || len(e.Errors) != 1 || e.Errors[0].Code != status || !strings.HasPrefix(e.Errors[0].Message, prefix) {
			t.Fatalf("%s: want {\"errors\":[{\"code\":%d,\"message\":\"%s...\"}]}, got %s", vendor, status, prefix, body)
		}
		return strings.TrimPrefix(e.Errors[0].Message, prefix)
	default:
		var e oauthError
		mustDecode(t, body, &e)
		if len(m) != 2 || e.Error != code || e.Description == "" {
			t.Fatalf("%s: want {\"error\":%q,\"error_description\"}, got %s", vendor, code, body)
		}
		return e.Description
	}
}

func mustDecode(t *testing.T, body []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %T: %v: %s", v, err, body)
	}
}
