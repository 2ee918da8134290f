//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// The consent infrastructure on its own, without the plugin: oidc-provider
// with user flows (e2e/oidc/server.mjs), a real Chromium giving consent
// through its pages (e2e/oidc/browser.mjs), and this test as the OAuth
// client. What the plugin's consent tests (consent_test.go) rely on is
// proven here first: PKCE is required and checked, refresh tokens rotate,
// and a rotated refresh token used again is refused and kills the grant.

// codeCatcher is a redirect_uri: it keeps the code and state the browser
// brings, as the plugin's callback would.
type codeCatcher struct {
	*httptest.Server
	mu          sync.Mutex
	code, state string
	hits        int
}

func newCodeCatcher(t *testing.T) *codeCatcher {
	c := &codeCatcher{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Chromium also asks for /favicon.ico.
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.hits++
		c.code, c.state = r.URL.Query().Get("code"), r.URL.Query().Get("state")
		fmt.Fprintln(w, "consent received")
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *codeCatcher) redirectURI() string { return c.URL + "/callback" }

func (c *codeCatcher) caught(t *testing.T) (code, state string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hits != 1 || c.code == "" {
		t.Fatalf("the redirect_uri was reached %d times, code %t", c.hits, c.code != "")
	}
	return c.code, c.state
}

func TestOIDCAuthorizationCodeInBrowser(t *testing.T) {
	const clientID = "e2e-user-code"
	secret := oidcSecret("user-code", clientID)
	catcher := newCodeCatcher(t)
	srv := startUserOIDC(t, oidcUserFlows{AccessTokenTTL: 60, RotateRefreshToken: true},
		userClient(clientID, secret, catcher.redirectURI()))

	// PKCE is required: an authorize request without a challenge is sent
	// back to the client with an error, before any page.
	noPKCE, _ := url.Parse(srv.authorizeURL(clientID, catcher.redirectURI(), "openid", "s", "x"))
	q := noPKCE.Query()
	q.Del("code_challenge")
	q.Del("code_challenge_method")
	noPKCE.RawQuery = q.Encode()
	if loc := redirectOf(t, noPKCE.String()); !strings.Contains(loc, "error=invalid_request") || !strings.Contains(loc, "PKCE") {
		t.Fatalf("an authorize request without PKCE was not refused: redirect to %s", loc)
	}

	verifier, challenge := pkce()
	state := randomHex(16)
	r := consentInBrowser(t, srv.authorizeURL(clientID, catcher.redirectURI(), "openid offline_access", state, challenge),
		catcher.redirectURI(), "e2e-user")
	if r.Status != http.StatusOK || !strings.Contains(r.Text, "consent received") {
		t.Fatalf("the redirect_uri's page: HTTP %d %q", r.Status, r.Text)
	}
	code, gotState := catcher.caught(t)
	if gotState != state {
		t.Fatalf("the redirect carried state %q, want %q", gotState, state)
	}

	exchange := func(verifier string) tokenAnswer {
		return srv.post(t, srv.tokenURL(), clientID, secret, url.Values{"grant_type": {"authorization_code"},
			"code": {code}, "redirect_uri": {catcher.redirectURI()}, "code_verifier": {verifier}})
	}
	// The challenge is checked (and a failed check leaves the code usable).
	if a := exchange(verifier + "x"); a.Status != http.StatusBadRequest || a.Error != "invalid_grant" {
		t.Fatalf("a wrong code_verifier: HTTP %d %q, want 400 invalid_grant", a.Status, a.Error)
	}
	first := exchange(verifier)
	if first.Status != http.StatusOK || first.AccessToken == "" || first.RefreshToken == "" {
		t.Fatalf("code exchange: HTTP %d %q, access token %t, refresh token %t", first.Status, first.Error,
			first.AccessToken != "", first.RefreshToken != "")
	}
	if first.ExpiresIn != 60 {
		t.Errorf("expires_in %d, want the configured 60", first.ExpiresIn)
	}
	srv.mustBeActive(t, first.AccessToken, clientID)

	chain := refreshChain(t, srv, clientID, secret, first.RefreshToken, 2)
	if got := srv.issuedRefreshTokens(t); len(got) != 3 || got[0] != first.RefreshToken || got[2] != chain[2] {
		t.Errorf("the server recorded %d refresh tokens, want the 3 it issued, in order", len(got))
	}
	// No reuse window: the first refresh token again is refused, and the
	// grant dies with it: the newest refresh token too, and its access
	// token (what the plugin's needs-consent must report, not hide).
	reuse := func(rt string) tokenAnswer {
		return srv.post(t, srv.tokenURL(), clientID, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	}
	if a := reuse(chain[0]); a.Status != http.StatusBadRequest || a.Error != "invalid_grant" {
		t.Fatalf("a rotated refresh token used again: HTTP %d %q, want 400 invalid_grant", a.Status, a.Error)
	}
	if a := reuse(chain[2]); a.Error != "invalid_grant" {
		t.Fatalf("after the reuse the newest refresh token: %q, want invalid_grant (the grant revoked)", a.Error)
	}
	if got := srv.introspect(t, first.AccessToken); got["active"] != false {
		t.Errorf("after the reuse the grant's access token is still active: %v", got)
	}
	if a := exchange(verifier); a.Error != "invalid_grant" {
		t.Errorf("the code used twice: %q, want invalid_grant", a.Error)
	}
}

// refreshChain runs n refresh_token grants from rt and returns every
// refresh token of the chain, rt first: each grant must rotate it.
func refreshChain(t *testing.T, srv *oidcServer, clientID, secret, rt string, n int) []string {
	t.Helper()
	chain := []string{rt}
	for i := 1; i <= n; i++ {
		a := srv.post(t, srv.tokenURL(), clientID, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
		if a.Status != http.StatusOK || a.AccessToken == "" {
			t.Fatalf("refresh %d: HTTP %d %q", i, a.Status, a.Error)
		}
		if a.RefreshToken == "" || a.RefreshToken == rt {
			t.Fatalf("refresh %d did not rotate the refresh token", i)
		}
		srv.mustBeActive(t, a.AccessToken, clientID)
		rt = a.RefreshToken
		chain = append(chain, rt)
	}
	return chain
}

// The device flow (RFC 8628) with a reuse window: a rotated refresh token
// stays usable for refresh_reuse_grace seconds (as Xero's and Atlassian's
// do), then reuse revokes the grant as without one. The token endpoint
// holds its answers (token_answer_delay_ms, the kill test's window), and
// holds pollers to the interval with slow_down.
func TestOIDCDeviceFlowInBrowser(t *testing.T) {
	const (
		clientID = "e2e-user-device"
		grace    = 3 // seconds
		delay    = 300 * time.Millisecond
	)
	secret := oidcSecret("user-device", clientID)
	srv := startUserOIDC(t, oidcUserFlows{AccessTokenTTL: 60, RotateRefreshToken: true, RefreshReuseGrace: grace, DeviceFlow: true,
		DeviceInterval: 1, DeviceSlowDown: true, TokenAnswerDelay: int(delay / time.Millisecond)},
		deviceClient(clientID, secret, "http://127.0.0.1:1/unused"))

	d := srv.authorizeDevice(t, clientID, secret, "openid offline_access")
	poll := func() tokenAnswer {
		return srv.post(t, srv.tokenURL(), clientID, secret, url.Values{"grant_type": {deviceCodeGrantType}, "device_code": {d.DeviceCode}})
	}
	if d.Interval != 1 {
		t.Errorf("device authorization interval %d, want the configured 1", d.Interval)
	}
	// RFC 8628 3.5 as the plugin must honour it: the first poll is told to
	// slow down (every 6 s now), and so is one that comes sooner.
	for _, why := range []string{"the first poll", "too fast"} {
		if a := poll(); a.Error != "slow_down" {
			t.Fatalf("polling before consent (%s): HTTP %d %q, want slow_down", why, a.Status, a.Error)
		}
	}
	if log := srv.log(t); strings.Count(log, "device poll too fast") != 1 {
		t.Errorf("the server logged %d too fast polls, want 1", strings.Count(log, "device poll too fast"))
	}
	r := deviceConsentInBrowser(t, d.VerificationURI, d.UserCode, "e2e-device-user")
	if !strings.Contains(r.Text, "Sign-in Success") {
		t.Fatalf("the device flow's last page: %q", r.Text)
	}
	first := poll()
	if first.Status != http.StatusOK || first.AccessToken == "" || first.RefreshToken == "" {
		t.Fatalf("polling after consent: HTTP %d %q, refresh token %t", first.Status, first.Error, first.RefreshToken != "")
	}
	srv.mustBeActive(t, first.AccessToken, clientID)

	// oidc-provider counts in whole seconds: the window is over somewhere
	// between grace-1 and grace seconds after the rotation.
	before := time.Now()
	chain := refreshChain(t, srv, clientID, secret, first.RefreshToken, 1)
	if took := time.Since(before); took < delay {
		t.Errorf("a refresh answered in %s, before the %s delay", took, delay)
	}
	reuse := func() tokenAnswer {
		return srv.post(t, srv.tokenURL(), clientID, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {chain[0]}})
	}
	a := reuse()
	switch took := time.Since(before); {
	case a.Status == http.StatusOK:
		t.Logf("the rotated refresh token was served again %s after the rotation", took.Round(time.Millisecond))
	case took < (grace-1)*time.Second:
		t.Fatalf("reuse %s after the rotation, within the %ds window: HTTP %d %q, want it served", took, grace, a.Status, a.Error)
	}
	if _, err := eventually(10*time.Second, func() error {
		if a := reuse(); a.Error != "invalid_grant" {
			return fmt.Errorf("HTTP %d %q", a.Status, a.Error)
		}
		return nil
	}); err != nil {
		t.Fatalf("reuse after the %ds window: %v, want invalid_grant", grace, err)
	}
	if since := time.Since(before); since < (grace-1)*time.Second {
		t.Errorf("reuse refused %s after the rotation, inside the %ds window", since, grace)
	}
	if a := srv.post(t, srv.tokenURL(), clientID, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {chain[1]}}); a.Error != "invalid_grant" {
		t.Errorf("after reuse past the window the newest refresh token: %q, want invalid_grant (the grant revoked)", a.Error)
	}
	if a := poll(); a.Error != "invalid_grant" {
		t.Errorf("the device code used twice: %q, want invalid_grant", a.Error)
	}
}

// redirectOf is where u redirects to (not followed).
func redirectOf(t *testing.T, u string) string {
	t.Helper()
	status, header, _ := getNoRedirect(t, u)
	if status/100 != 3 {
		t.Fatalf("GET authorize: HTTP %d, want a redirect", status)
	}
	return header.Get("Location")
}
