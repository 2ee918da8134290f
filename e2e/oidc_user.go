//go:build e2e

package e2e

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// oidcUserFlows is server.mjs's user_flows: what a vendor of
// user-delegated tokens offers (authorization code with PKCE, the device
// flow, refresh tokens that rotate), with its own login and consent pages.
type oidcUserFlows struct {
	AccessTokenTTL     int  `json:"access_token_ttl,omitempty"`
	RotateRefreshToken bool `json:"rotate_refresh_token"`
	// RefreshReuseGrace 0: a rotated refresh token used again is
	// invalid_grant and revokes the whole grant. N: usable N seconds more.
	RefreshReuseGrace int  `json:"refresh_reuse_grace,omitempty"`
	DeviceFlow        bool `json:"device_flow"`
	// DeviceInterval (seconds) is answered with each device authorization
	// and enforced: a pending code polled sooner is answered slow_down and
	// the server logs "device poll too fast". DeviceSlowDown answers the
	// first poll of each code slow_down (the interval grows by 5 s).
	DeviceInterval int  `json:"device_interval,omitempty"`
	DeviceSlowDown bool `json:"device_slow_down,omitempty"`
	// TokenAnswerDelay holds the token endpoint's answer this many ms
	// after its grant ran: a kill meanwhile loses the answer.
	TokenAnswerDelay int    `json:"token_answer_delay_ms,omitempty"`
	CredentialsFile  string `json:"credentials_file,omitempty"`
}

// deviceCodeGrantType is RFC 8628 3.4's grant_type.
const deviceCodeGrantType = "urn:ietf:params:oauth:grant-type:device_code"

// userClient registers a confidential client of user-delegated tokens:
// authorization code (redirecting to redirectURI) and refresh_token,
// authenticating with secret in the body.
func userClient(id, secret, redirectURI string) map[string]any {
	return map[string]any{
		"client_id": id, "client_secret": secret, "token_endpoint_auth_method": "client_secret_post",
		"grant_types":    []string{"authorization_code", "refresh_token"},
		"response_types": []string{"code"}, "redirect_uris": []string{redirectURI},
	}
}

// deviceClient is a userClient that may also use the device flow (the
// server must have it on: oidc-provider refuses the grant type otherwise).
func deviceClient(id, secret, redirectURI string) map[string]any {
	c := userClient(id, secret, redirectURI)
	c["grant_types"] = append(c["grant_types"].([]string), deviceCodeGrantType)
	return c
}

// startUserOIDC runs oidc-provider with user flows for clients; every
// refresh token and device code it issues is recorded
// (issuedRefreshTokens).
func startUserOIDC(t testing.TB, flows oidcUserFlows, clients ...map[string]any) *oidcServer {
	t.Helper()
	flows.CredentialsFile = filepath.Join(t.TempDir(), "issued")
	s := startOIDC(t, oidcConfig{Clients: clients, ClientAuthMethods: []string{"client_secret_post"}, UserFlows: &flows})
	s.credentialsFile = flows.CredentialsFile
	s.registered = map[string]bool{}
	return s
}

// issuedRefreshTokens are the refresh tokens the server has issued so far,
// in order. Each, and each device code, is registered with the leak scans:
// none may ever show in a Vault answer or log.
func (s *oidcServer) issuedRefreshTokens(t testing.TB) []string {
	t.Helper()
	b, err := os.ReadFile(s.credentialsFile)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var toks []string
	for _, line := range strings.Split(string(b), "\n") {
		kind, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if kind == "refresh_token" {
			toks = append(toks, value)
		}
		if !s.registered[value] {
			s.registered[value] = true
			addSecret("oidc "+kind, value)
		}
	}
	return toks
}

// log is the server's log so far.
func (s *oidcServer) log(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// refreshesGranted counts the refresh_token grants the server has run for
// clientID (its log's grant.success lines, written before the answer is
// sent, so before any token_answer_delay_ms).
func (s *oidcServer) refreshesGranted(t testing.TB, clientID string) int {
	t.Helper()
	return strings.Count(s.log(t), "grant.success client_id="+clientID+" grant_type=refresh_token\n")
}

func (s *oidcServer) authURL() string       { return s.issuer + "/auth" }
func (s *oidcServer) deviceAuthURL() string { return s.issuer + "/device/auth" }

// pkce is an RFC 7636 code verifier and its S256 challenge.
func pkce() (verifier, challenge string) {
	verifier = randomHex(32)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorizeURL is RFC 6749 4.1.1's request with RFC 7636's challenge, as
// the plugin's consent/<name> builds it.
func (s *oidcServer) authorizeURL(clientID, redirectURI, scope, state, challenge string) string {
	q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirectURI},
		"scope": {scope}, "state": {state}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	return s.authURL() + "?" + q.Encode()
}

// tokenAnswer is a token endpoint's answer, success or error.
type tokenAnswer struct {
	Status       int    `json:"-"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
	Error        string `json:"error"`
}

// post sends form to the endpoint as the client (client_secret_post) and
// returns its answer whatever the status.
func (s *oidcServer) post(t testing.TB, endpoint, clientID, secret string, form url.Values) tokenAnswer {
	t.Helper()
	form.Set("client_id", clientID)
	form.Set("client_secret", secret)
	resp, err := s.http.PostForm(endpoint, form)
	if err != nil {
		t.Fatalf("oidc-provider %s: %v", endpoint, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	a := tokenAnswer{Status: resp.StatusCode}
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("oidc-provider %s: HTTP %d, not JSON: %.200s", endpoint, resp.StatusCode, body)
	}
	return a
}

// deviceAuthorization is RFC 8628 3.2's answer.
type deviceAuthorization struct {
	DeviceCode      string `json:"device_code"`
	UserCode        string `json:"user_code"`
	VerificationURI string `json:"verification_uri"`
	Interval        int    `json:"interval"`
}

// authorizeDevice asks for a device and user code (RFC 8628 3.1).
func (s *oidcServer) authorizeDevice(t testing.TB, clientID, secret, scope string) deviceAuthorization {
	t.Helper()
	form := url.Values{"client_id": {clientID}, "client_secret": {secret}, "scope": {scope}}
	resp, err := s.http.PostForm(s.deviceAuthURL(), form)
	if err != nil {
		t.Fatalf("device authorization: %v", err)
	}
	defer resp.Body.Close()
	var d deviceAuthorization
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&d); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("device authorization: HTTP %d, %v", resp.StatusCode, err)
	}
	if d.DeviceCode == "" || d.UserCode == "" || d.VerificationURI == "" {
		t.Fatalf("device authorization answered %+v", d)
	}
	return d
}

// getNoRedirect is a GET with no Vault token, as a browser sends, whose
// redirect is answered, not followed.
func getNoRedirect(t testing.TB, u string) (int, http.Header, string) {
	t.Helper()
	c := httpClient(10 * time.Second)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, resp.Header, string(body)
}
