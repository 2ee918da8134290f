package oauthvendor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// fakeVendor is a scripted token endpoint behind the plugin's own HTTP
// client (an http.RoundTripper): each config is served at
// http://127.0.0.1/<name>/token, answers follow the mode the test sets per
// name, and time passes on the test's fake clock, so a slow answer ages a
// token exactly as much as the test says. It records every request and
// every token it issued with the vendor's own expiry.
type fakeVendor struct {
	clock *fakeClock

	mu      sync.Mutex
	modes   map[string]vendorMode
	issued  map[string]issuedToken // by access token
	log     []vendorRequest
	held    map[string][]chan struct{}
	arrived chan string // a held request reached the vendor (buffered)
	// onRequest, when set, runs as each request arrives (the schedule
	// test's invariant checks), before the answer is chosen.
	onRequest func(name, secret string, at time.Time)
	// onAnswer, when set, runs once the answer is chosen.
	onAnswer func(name string, m vendorMode, at time.Time)
	// capture, when set, sees each request and its body.
	capture func(r *http.Request, body string)
	// route, when set, may answer a request that is not a token request
	// (the schedule test's discovery documents).
	route func(r *http.Request) (*http.Response, bool)
	// authenticate, when set, checks the request's client authentication
	// and returns who it is (the secret, key id or certificate that
	// authenticated); a refusal is answered 401 invalid_client.
	authenticate func(r *http.Request, name string, form url.Values) (identity string, ok bool)
	// beforeAnswer and afterAnswer, when set, see each request with its
	// grant's context (retries of one grant share it).
	beforeAnswer func(r vendorRequest)
	afterAnswer  func(r vendorRequest, m vendorMode)
	seq          int
}

// vendorMode is how a token endpoint answers until told otherwise.
type vendorMode struct {
	status     int           // 0: 200 with a token; else this status with an OAuth error
	oauthError string        // the error code with status (default server_error)
	retryAfter string        // Retry-After header with status
	lifetime   time.Duration // expires_in of issued tokens (default 1 h)
	transit    time.Duration // fake time that passes before the answer arrives
	hold       bool          // wait for release (or the request's context) first
	echo       bool          // with status: error_description quotes the request (body and headers)
	desc       string        // with status: error_description, when not echo
}

// issuedToken is what the vendor knows of a token it minted.
type issuedToken struct {
	name, secret string
	expiresAt    time.Time
	idx          int // the index in the request log of the request that got it
}

// vendorRequest is one token request as the vendor saw it.
type vendorRequest struct {
	name, secret string
	at           time.Time
	status       int // what it answered (0 when the request gave up first)
	ctx          context.Context
	retry        bool // an earlier request of the log had the same context: a retry inside one grant
	idx          int
}

func newFakeVendor(clock *fakeClock) *fakeVendor {
	return &fakeVendor{
		clock: clock, modes: map[string]vendorMode{}, issued: map[string]issuedToken{},
		held: map[string][]chan struct{}{}, arrived: make(chan string, 1024),
	}
}

// install makes every vendor client of b use the fake vendor, without
// retries: each grant is exactly one request, so counts compare.
func (v *fakeVendor) install(b *backend) {
	b.tuneHTTP = func(c *retryablehttp.Client) {
		c.HTTPClient.Transport = v
		c.RetryMax = 0
	}
}

func (v *fakeVendor) setMode(name string, m vendorMode) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.modes[name] = m
}

// release lets every held request of a name answer.
func (v *fakeVendor) release(name string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, ch := range v.held[name] {
		close(ch)
	}
	delete(v.held, name)
}

func (v *fakeVendor) releaseAll() {
	v.mu.Lock()
	names := make([]string, 0, len(v.held))
	for n := range v.held {
		names = append(names, n)
	}
	v.mu.Unlock()
	for _, n := range names {
		v.release(n)
	}
}

func (v *fakeVendor) requests(name string) []vendorRequest {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []vendorRequest
	for _, r := range v.log {
		if r.name == name {
			out = append(out, r)
		}
	}
	return out
}

func (v *fakeVendor) allRequests() []vendorRequest {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]vendorRequest(nil), v.log...)
}

func (v *fakeVendor) token(access string) (issuedToken, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	t, ok := v.issued[access]
	return t, ok
}

func (v *fakeVendor) RoundTrip(req *http.Request) (*http.Response, error) {
	if v.route != nil {
		if resp, ok := v.route(req); ok {
			return resp, nil
		}
	}
	name := strings.TrimSuffix(strings.TrimPrefix(req.URL.Path, "/"), "/token")
	body := requestBody(req)
	form, _ := url.ParseQuery(body)
	secret := form.Get("client_secret")
	if v.capture != nil {
		v.capture(req, body)
	}
	refused := false
	if v.authenticate != nil {
		var ok bool
		secret, ok = v.authenticate(req, name, form)
		refused = !ok
	}
	at := v.clock.Now()
	if v.onRequest != nil {
		v.onRequest(name, secret, at)
	}
	v.mu.Lock()
	r := vendorRequest{name: name, secret: secret, at: at, ctx: req.Context()}
	for _, p := range v.log {
		r.retry = r.retry || (p.name == name && p.ctx == r.ctx)
	}
	v.mu.Unlock()
	if v.beforeAnswer != nil {
		v.beforeAnswer(r)
	}
	// The mode is read and a held request registered under one lock: a
	// join that clears the mode and then releases misses none.
	v.mu.Lock()
	m := v.modes[name]
	if refused {
		m.status, m.oauthError, m.retryAfter = http.StatusUnauthorized, "invalid_client", ""
	}
	idx := len(v.log)
	r.idx = idx
	v.log = append(v.log, r)
	var wait chan struct{}
	if m.hold {
		wait = make(chan struct{})
		v.held[name] = append(v.held[name], wait)
	}
	v.mu.Unlock()
	if wait != nil {
		v.arrived <- name
		select {
		case <-wait:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	resp := v.answer(req, body, name, secret, at, m, idx)
	if v.onAnswer != nil {
		v.onAnswer(name, m, at)
	}
	v.mu.Lock()
	v.log[idx].status = resp.StatusCode
	r.status = resp.StatusCode
	v.mu.Unlock()
	if v.afterAnswer != nil {
		v.afterAnswer(r, m)
	}
	v.clock.Advance(m.transit)
	return resp, nil
}

// answer mints at the moment the request arrived: the vendor's expiry is
// the earliest the plugin may claim.
func (v *fakeVendor) answer(req *http.Request, body, name, secret string, at time.Time, m vendorMode, idx int) *http.Response {
	if m.status != 0 {
		code := m.oauthError
		if code == "" {
			code = "server_error"
		}
		doc := map[string]interface{}{"error": code}
		if m.desc != "" {
			doc["error_description"] = m.desc
		}
		if m.echo {
			headers, _ := json.Marshal(req.Header)
			doc["error_description"] = "bad request: " + body + " headers " + string(headers)
		}
		resp := jsonResponse(req, m.status, doc)
		if m.retryAfter != "" {
			resp.Header.Set("Retry-After", m.retryAfter)
		}
		return resp
	}
	lifetime := m.lifetime
	if lifetime == 0 {
		lifetime = time.Hour
	}
	v.mu.Lock()
	v.seq++
	access := fmt.Sprintf("tok-%s-%d", name, v.seq)
	v.issued[access] = issuedToken{name: name, secret: secret, expiresAt: at.Add(lifetime), idx: idx}
	v.mu.Unlock()
	doc := map[string]interface{}{"access_token": access, "token_type": "Bearer", "expires_in": int64(lifetime / time.Second)}
	if form, _ := url.ParseQuery(body); form.Get("grant_type") == "urn:ietf:params:oauth:grant-type:token-exchange" {
		doc["issued_token_type"] = "urn:ietf:params:oauth:token-type:access_token" // RFC 8693 2.2.1
	}
	return jsonResponse(req, http.StatusOK, doc)
}

func requestBody(req *http.Request) string {
	if req.Body == nil {
		return ""
	}
	body, _ := io.ReadAll(req.Body)
	return string(body)
}

func jsonResponse(req *http.Request, status int, doc map[string]interface{}) *http.Response {
	body, _ := json.Marshal(doc)
	return &http.Response{
		StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)), Request: req, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
	}
}

// fakeVendorConfig is a generic client_credentials config at the fake vendor.
func fakeVendorConfig(name, secret string) map[string]interface{} {
	return map[string]interface{}{
		"token_url": "http://127.0.0.1/" + name + "/token", "client_id": "id-" + name, "client_secret": secret,
	}
}
