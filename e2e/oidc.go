//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/testproc"
)

// oidcProviderDir is where scripts/oidc-provider.sh installed panva's
// oidc-provider (node_modules/ inside), resolved once by the harness: a
// machine without it fails the suite at setup rather than skipping the
// authorization-server tests.
func (h *harness) findOIDCProvider(repo string) error {
	if _, err := exec.LookPath("node"); err != nil {
		return fmt.Errorf("node (Node.js runs oidc-provider, the suite's authorization server): %w", err)
	}
	h.oidcDir = os.Getenv("OIDC_PROVIDER_DIR")
	if h.oidcDir == "" {
		fmt.Println("e2e: OIDC_PROVIDER_DIR unset; scripts/oidc-provider.sh (a first run installs it with npm ci)")
	}
	// The script also checks a given OIDC_PROVIDER_DIR.
	cmd := exec.Command(filepath.Join(repo, "scripts", "oidc-provider.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("scripts/oidc-provider.sh: %w", err)
	}
	h.oidcDir = strings.TrimSpace(string(out))
	h.oidcServer = filepath.Join(repo, "e2e", "oidc", "server.mjs")
	return nil
}

// oidcConfig is e2e/oidc/server.mjs's config file.
type oidcConfig struct {
	Clients           []map[string]any        `json:"clients"`
	ClientAuthMethods []string                `json:"client_auth_methods,omitempty"`
	Resources         map[string]oidcResource `json:"resources,omitempty"`
	// UserFlows adds authorization code, refresh tokens and the device
	// flow (oidc_user.go); nil: a machine-to-machine vendor only.
	UserFlows *oidcUserFlows `json:"user_flows,omitempty"`
}

// oidcResource is an RFC 8707 resource server: a token requested for it is
// a JWT with aud = its indicator.
type oidcResource struct {
	Scope string `json:"scope,omitempty"`
}

// oidcServer is one running oidc-provider. Each test starts its own: its
// replay cache and its cache of each client's jwks_uri start empty, and
// its clients are the test's.
type oidcServer struct {
	issuer string
	http   *http.Client
	// introspector authenticates to the introspection endpoint.
	introspector, introspectorSecret string
	// credentialsFile lists the refresh tokens and device codes it issued
	// (user flows); registered are those the leak scans know.
	credentialsFile string
	registered      map[string]bool
	logPath         string
}

// startOIDC runs oidc-provider with cfg's clients (plus one that may
// introspect) until the test ends. Its log is oidc-<test>.log in the work
// dir.
func startOIDC(t testing.TB, cfg oidcConfig) *oidcServer {
	t.Helper()
	s := &oidcServer{http: httpClient(10 * time.Second), introspector: "e2e-introspector", introspectorSecret: "introspect-" + randomHex(24)}
	addSecret("oidc introspector client_secret", s.introspectorSecret)
	// client_secret_post: every test's client_auth_methods lists it.
	cfg.Clients = append(cfg.Clients, secretClient(s.introspector, "client_secret_post", s.introspectorSecret))

	base := "oidc-" + safeName(t.Name())
	cfgFile := filepath.Join(env.dir, base+".json")
	addrFile := filepath.Join(env.dir, base+".addr")
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s.logPath = filepath.Join(env.dir, base+".log")
	p, err := testproc.Start(env.dir, base+".log", "node", env.oidcServer,
		"--provider-dir", env.oidcDir, "--config", cfgFile, "--addr-file", addrFile)
	if err != nil {
		t.Fatalf("starting oidc-provider: %v", err)
	}
	t.Cleanup(func() { p.StopWithin(5 * time.Second) })
	if s.issuer, err = p.WaitFile(addrFile, 30*time.Second); err != nil {
		printTail(filepath.Join(env.dir, base+".log"), 30)
		t.Fatalf("oidc-provider: %v", err)
	}
	return s
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

func safeName(s string) string { return unsafeChars.ReplaceAllString(s, "_") }

func (s *oidcServer) tokenURL() string { return s.issuer + "/token" }

// secretClient registers a client_credentials client that authenticates
// with a shared secret (client_secret_post, client_secret_basic or
// client_secret_jwt).
func secretClient(id, method, secret string) map[string]any {
	c := m2mClient(id, method)
	c["client_secret"] = secret
	return c
}

// jwksURIClient registers a private_key_jwt client whose keys oidc-provider
// fetches from uri (the plugin's jwks/<name>).
func jwksURIClient(id, uri string) map[string]any {
	c := m2mClient(id, "private_key_jwt")
	c["jwks_uri"] = uri
	return c
}

// jwksClient registers a private_key_jwt client with its public keys
// uploaded, as vendors without a jwks_uri want.
func jwksClient(id string, keys ...jose.JSONWebKey) map[string]any {
	c := m2mClient(id, "private_key_jwt")
	c["jwks"] = jose.JSONWebKeySet{Keys: keys}
	return c
}

func m2mClient(id, method string) map[string]any {
	return map[string]any{
		"client_id": id, "token_endpoint_auth_method": method,
		"grant_types": []string{"client_credentials"}, "response_types": []string{}, "redirect_uris": []string{},
	}
}

// vaultJWKSURL is jwks/<name> on the test's Vault: a vendor's jwks_uri.
func vaultJWKSURL(name string) string {
	return env.vaultAddr + "/v1/" + mountPath + "/jwks/" + name
}

// discovery is the server's OpenID Provider metadata.
func (s *oidcServer) discovery(t testing.TB) map[string]any {
	t.Helper()
	var meta map[string]any
	s.getJSON(t, s.issuer+"/.well-known/openid-configuration", &meta)
	return meta
}

// jwks is the server's own signing keys (what a resource server checks
// its JWT access tokens with), from the jwks_uri its discovery names.
func (s *oidcServer) jwks(t testing.TB) jose.JSONWebKeySet {
	t.Helper()
	uri, _ := s.discovery(t)["jwks_uri"].(string)
	if uri == "" {
		t.Fatal("oidc-provider discovery names no jwks_uri")
	}
	var set jose.JSONWebKeySet
	s.getJSON(t, uri, &set)
	return set
}

// introspect asks the server about token (RFC 7662).
func (s *oidcServer) introspect(t testing.TB, token string) map[string]any {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.issuer+"/token/introspection",
		strings.NewReader(url.Values{"token": {token}, "client_id": {s.introspector}, "client_secret": {s.introspectorSecret}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var out map[string]any
	s.do(t, req, &out)
	return out
}

// mustBeActive fails the test unless the server issued token to clientID
// and it is live.
func (s *oidcServer) mustBeActive(t testing.TB, token, clientID string) {
	t.Helper()
	got := s.introspect(t, token)
	if got["active"] != true || got["client_id"] != clientID {
		t.Fatalf("introspection of the served token: want active for %s, got %v", clientID, got)
	}
}

func (s *oidcServer) getJSON(t testing.TB, u string, out any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.do(t, req, out)
}

func (s *oidcServer) do(t testing.TB, req *http.Request, out any) {
	t.Helper()
	resp, err := s.http.Do(req)
	if err != nil {
		t.Fatalf("oidc-provider %s: %v", req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("oidc-provider %s: HTTP %d: %s", req.URL.Path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("oidc-provider %s: %v", req.URL.Path, err)
	}
}
