package oauth

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Test credentials: each must never show in an error.
const (
	testDeviceCode   = "GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS"
	testUserCode     = "WDJB-MJHT"
	testClientSecret = "cs-Zq8vN3kPw7Rt2YxL5mJ9"
)

// deviceAnswer is one scripted answer of the device-flow server.
type deviceAnswer struct {
	status int
	body   map[string]interface{}
	// echo: answer 400 invalid_request quoting the request's body and
	// Authorization header, as careless vendors do.
	echo bool
}

// seenRequest is what the server received.
type seenRequest struct {
	path   string
	form   url.Values
	header http.Header
}

// deviceServer is an RFC 8628 server: /device answers the device
// authorization request, /token the polls, each from its script (the
// last answer repeats).
type deviceServer struct {
	*httptest.Server
	mu           sync.Mutex
	device, poll []deviceAnswer
	seen         []seenRequest
}

func newDeviceServer(t *testing.T, device []deviceAnswer, poll ...deviceAnswer) *deviceServer {
	t.Helper()
	s := &deviceServer{device: device, poll: poll}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *deviceServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	s.mu.Lock()
	s.seen = append(s.seen, seenRequest{path: r.URL.Path, form: form, header: r.Header.Clone()})
	script := &s.poll
	if r.URL.Path == "/device" {
		script = &s.device
	}
	a := (*script)[0]
	if len(*script) > 1 {
		*script = (*script)[1:]
	}
	s.mu.Unlock()
	if a.echo {
		a.status = http.StatusBadRequest
		a.body = map[string]interface{}{"error": "invalid_request",
			"error_description": "bad request: " + string(body) + " auth " + r.Header.Get("Authorization")}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	_ = json.NewEncoder(w).Encode(a.body)
}

// requests are the requests the server got at path.
func (s *deviceServer) requests(path string) []seenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []seenRequest
	for _, r := range s.seen {
		if r.path == path {
			out = append(out, r)
		}
	}
	return out
}

// deviceOK is a device authorization answer (RFC 8628 3.2's example).
func deviceOK(members map[string]interface{}) deviceAnswer {
	body := map[string]interface{}{"device_code": testDeviceCode, "user_code": testUserCode,
		"verification_uri": "https://example.com/device", "expires_in": 1800, "interval": 5}
	for k, v := range members {
		if v == nil {
			delete(body, k)
		} else {
			body[k] = v
		}
	}
	return deviceAnswer{status: http.StatusOK, body: body}
}

func pollError(status int, code string) deviceAnswer {
	return deviceAnswer{status: status, body: map[string]interface{}{"error": code}}
}

func pollToken() deviceAnswer {
	return deviceAnswer{status: http.StatusOK, body: map[string]interface{}{"access_token": "at-1", "token_type": "Bearer",
		"expires_in": 3600, "refresh_token": "rt-1"}}
}

// testClock is an injected clock the test moves by hand.
type testClock struct{ t time.Time }

func newTestClock() *testClock               { return &testClock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)} }
func (c *testClock) now() time.Time          { return c.t }
func (c *testClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// deviceConfig is a config of srv's device flow with client_auth auth.
func deviceConfig(srv *deviceServer, auth string) *Config {
	return &Config{Name: "tv", TokenURL: srv.URL + "/token", DeviceAuthURL: srv.URL + "/device",
		ClientAuth: auth, ClientID: "tv-client", ClientSecret: testClientSecret, Scopes: []string{"openid", "offline_access"},
		Timeout: 10 * time.Second, AssertionAudience: srv.URL + "/token", GrantType: GrantDeviceCode,
		TokenField: "access_token", ExpiresInField: "expires_in", TokenTypeField: "token_type", DefaultTTL: time.Hour}
}

// noRetries: a test's 5xx is answered once, with no real wait.
var noRetries = Hooks{Tune: func(c *retryablehttp.Client) { c.RetryMax = 0 }}

func newDeviceClient(t *testing.T, cfg *Config) *Client {
	t.Helper()
	c, err := NewClient(cfg, NewPool())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// authorize runs AuthorizeDevice and fails the test on an error.
func authorize(t *testing.T, c *Client, cfg *Config, clk *testClock) *DeviceAuthorization {
	t.Helper()
	d, err := c.AuthorizeDevice(context.Background(), cfg, clk.now, noRetries)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// assertNoCredential: text shows neither the device code nor the client
// secret, in any encoding (exposes, redact_test.go).
func assertNoCredential(t *testing.T, text string) {
	t.Helper()
	for _, s := range []string{testDeviceCode, testClientSecret} {
		if exposes(text, s) || strings.Contains(text, s[:12]) {
			t.Fatalf("text shows a credential: %q", text)
		}
	}
}
