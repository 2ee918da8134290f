package oauthvendor

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
)

// codeVendor is a fake authorization server for the authorization_code
// grant (RFC 6749 4.1 with PKCE, RFC 7636) whose refresh tokens rotate
// strictly, as the strictest vendors do: every refresh answers a new
// refresh token and spends the one sent; a spent token sent again is a
// replay, which revokes the whole family (every token of that consent),
// as OAuth 2.1 / RFC 9700 4.14.2 recommend. It sits behind the plugin's
// HTTP client (an http.RoundTripper, as fakeVendor), at
// http://127.0.0.1/<name>/token, on the test's clock.
type codeVendor struct {
	t     testing.TB
	clock *fakeClock

	mu    sync.Mutex
	codes map[string]*pendingCode
	// refresh tokens: each belongs to a family (one consent); current is
	// the one valid token of each family.
	family  map[string]int
	spent   map[string]bool
	current map[int]string
	revoked map[int]bool
	seq     int
	// what the vendor saw
	requests, refreshes, exchanges int
	replays                        int    // spent tokens sent again: the plugin's fault, always
	unknownSent                    int    // refresh tokens it never issued
	lastBody                       string // the last token request's body
	// noRotate: refreshes answer no refresh_token (RFC 6749 6 lets them).
	noRotate bool
	// failNext answers the next n token requests with 503 (after spending
	// nothing: the vendor failed before looking).
	failNext int
	// lostAnswer: the next refresh is processed (the token spent and a
	// new one issued) but the answer is a 503: the worst case of a lost
	// answer, which only a reuse window could recover.
	lostAnswer bool
	lifetime   time.Duration
	// The device flow (RFC 8628, device_consent_test.go): the answers to
	// polls in order (the last repeats; "" approves), the device codes
	// issued and not yet spent, and when each poll came (the test clock).
	deviceScript []string
	deviceCodes  map[string]bool
	deviceTTL    time.Duration
	deviceAuths  int
	polls        []time.Time
}

type pendingCode struct {
	clientID, redirect, challenge string
}

func newCodeVendor(t testing.TB, clock *fakeClock) *codeVendor {
	return &codeVendor{t: t, clock: clock, codes: map[string]*pendingCode{}, family: map[string]int{},
		spent: map[string]bool{}, current: map[int]string{}, revoked: map[int]bool{}, lifetime: time.Hour,
		deviceCodes: map[string]bool{}, deviceTTL: 10 * time.Minute}
}

func (v *codeVendor) install(b *backend) {
	b.tuneHTTP = func(c *retryablehttp.Client) {
		c.HTTPClient.Transport = v
		c.RetryMax = 0
	}
}

// approve is the user at the authorize URL: the vendor checks what the
// plugin sent and answers the redirect's query (code and state).
func (v *codeVendor) approve(authorizeURL string) url.Values {
	v.t.Helper()
	u, err := url.Parse(authorizeURL)
	if err != nil {
		v.t.Fatalf("authorize_url: %v", err)
	}
	q := u.Query()
	if q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 {
		v.t.Fatalf("authorize_url lacks response_type=code or an S256 challenge: %s", u.RawQuery)
	}
	if len(q.Get("state")) < 22 { // 128 bits of base64url at least
		v.t.Fatalf("state too short: %q", q.Get("state"))
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.seq++
	code := fmt.Sprintf("code-%d-secret", v.seq)
	v.codes[code] = &pendingCode{clientID: q.Get("client_id"), redirect: q.Get("redirect_uri"), challenge: q.Get("code_challenge")}
	return url.Values{"code": {code}, "state": {q.Get("state")}}
}

// revokeAll is the user revoking the app at the vendor.
func (v *codeVendor) revokeAll() {
	v.mu.Lock()
	defer v.mu.Unlock()
	for f := range v.current {
		v.revoked[f] = true
	}
}

func (v *codeVendor) set(fn func(v *codeVendor)) {
	v.mu.Lock()
	defer v.mu.Unlock()
	fn(v)
}

func (v *codeVendor) get(fn func(v *codeVendor)) { v.set(fn) }

func (v *codeVendor) RoundTrip(req *http.Request) (*http.Response, error) {
	body := requestBody(req)
	form, _ := url.ParseQuery(body)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.requests++
	v.lastBody = body
	if v.failNext > 0 {
		v.failNext--
		return jsonResponse(req, 503, map[string]interface{}{"error": "temporarily_unavailable"}), nil
	}
	if form.Get("client_id") == "" {
		return jsonResponse(req, 401, map[string]interface{}{"error": "invalid_client"}), nil
	}
	if strings.HasSuffix(req.URL.Path, "/device") {
		return v.authorizeDevice(req), nil
	}
	switch form.Get("grant_type") {
	case oauth.DeviceCodeGrantType:
		return v.pollDevice(req, form, body), nil
	case "authorization_code":
		return v.exchange(req, form), nil
	case "refresh_token":
		return v.refresh(req, form), nil
	}
	return jsonResponse(req, 400, map[string]interface{}{"error": "unsupported_grant_type"}), nil
}

func (v *codeVendor) exchange(req *http.Request, form url.Values) *http.Response {
	v.exchanges++
	pc := v.codes[form.Get("code")]
	delete(v.codes, form.Get("code")) // one use, RFC 6749 4.1.2
	sum := sha256.Sum256([]byte(form.Get("code_verifier")))
	switch {
	case pc == nil:
		return oauthRefusal(req, "invalid_grant", "unknown or used code")
	case base64.RawURLEncoding.EncodeToString(sum[:]) != pc.challenge:
		return oauthRefusal(req, "invalid_grant", "PKCE verification failed")
	case form.Get("redirect_uri") != pc.redirect || form.Get("client_id") != pc.clientID:
		return oauthRefusal(req, "invalid_grant", "redirect_uri or client_id differs from the authorize request")
	case form.Has("scope"):
		return oauthRefusal(req, "invalid_request", "scope on a code exchange")
	}
	v.seq++
	return v.issue(req, v.seq, true)
}

func (v *codeVendor) refresh(req *http.Request, form url.Values) *http.Response {
	v.refreshes++
	rt := form.Get("refresh_token")
	f, known := v.family[rt]
	switch {
	case !known:
		v.unknownSent++
		return oauthRefusal(req, "invalid_grant", "unknown refresh token")
	case v.spent[rt]:
		v.replays++
		v.revoked[f] = true
		return oauthRefusal(req, "invalid_grant", "refresh token reused: every token of this grant is revoked")
	case v.revoked[f]:
		return oauthRefusal(req, "invalid_grant", "refresh token revoked")
	}
	if !v.noRotate {
		v.spent[rt] = true
	}
	resp := v.issue(req, f, !v.noRotate)
	if v.lostAnswer {
		v.lostAnswer = false
		return jsonResponse(req, 503, map[string]interface{}{"error": "temporarily_unavailable"})
	}
	return resp
}

// issue answers an access token and, when rotate, a new refresh token of
// family f.
func (v *codeVendor) issue(req *http.Request, f int, rotate bool) *http.Response {
	v.seq++
	doc := map[string]interface{}{"access_token": fmt.Sprintf("at-%d-%d", f, v.seq), "token_type": "Bearer",
		"expires_in": int(v.lifetime / time.Second)}
	if rotate {
		rt := fmt.Sprintf("rt-%d-%d-secret", f, v.seq)
		v.family[rt] = f
		v.current[f] = rt
		doc["refresh_token"] = rt
	}
	return jsonResponse(req, 200, doc)
}

func oauthRefusal(req *http.Request, code, desc string) *http.Response {
	return jsonResponse(req, 400, map[string]interface{}{"error": code, "error_description": desc})
}

// authCodeConfig is a user-delegated config at the code vendor.
func authCodeConfig(name string) map[string]interface{} {
	return map[string]interface{}{
		"grant_type": "authorization_code", "token_url": "http://127.0.0.1/" + name + "/token",
		"auth_url": "https://login.example.com/authorize", "redirect_url": "https://vault.example.com/v1/oauthvendor/callback",
		"client_id": "id-" + name, "client_secret": "client-secret-" + name, "scopes": "offline_access,read",
		"authorize_params": map[string]interface{}{"prompt": "consent", "audience": "api.example.com"},
	}
}
