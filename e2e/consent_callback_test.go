//go:build e2e

package e2e

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
)

// codeServer is a token endpoint in the test process for the
// authorization_code grant: the code exchange (PKCE S256 checked against
// the challenge the authorize URL carried) and refresh grants that rotate
// strictly (a spent refresh token is refused and counted).
type codeServer struct {
	*httptest.Server
	mu         sync.Mutex
	challenges map[string]string // code -> code_challenge
	valid      string            // the one valid refresh token
	issued     []string          // every refresh token issued
	replays    int
	seq        int
}

func newCodeServer(t *testing.T) *codeServer {
	s := &codeServer{challenges: map[string]string{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *codeServer) serve(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	s.mu.Lock()
	defer s.mu.Unlock()
	refuse := func(code string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
	}
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		want, ok := s.challenges[r.PostForm.Get("code")]
		delete(s.challenges, r.PostForm.Get("code"))
		if !ok || base64.RawURLEncoding.EncodeToString(sum[:]) != want {
			refuse("invalid_grant")
			return
		}
	case "refresh_token":
		if rt := r.PostForm.Get("refresh_token"); rt != s.valid {
			s.replays++
			refuse("invalid_grant")
			return
		}
	default:
		refuse("unsupported_grant_type")
		return
	}
	s.seq++
	s.valid = fmt.Sprintf("e2e-refresh-%d-%s", s.seq, randomHex(8))
	s.issued = append(s.issued, s.valid)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": fmt.Sprintf("e2e-access-%d", s.seq),
		"token_type": "Bearer", "expires_in": 3600, "refresh_token": s.valid})
}

// approve is the user approving at the authorize URL: the server learns
// the code's challenge, the browser is sent to the redirect.
func (s *codeServer) approve(t *testing.T, authorizeURL string) (code, state, redirect string) {
	u, err := url.Parse(authorizeURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if q.Get("code_challenge_method") != "S256" {
		t.Fatalf("authorize_url without S256: %s", authorizeURL)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	code = "e2e-code-" + randomHex(8)
	s.challenges[code] = q.Get("code_challenge")
	return code, q.Get("state"), q.Get("redirect_uri")
}

// TestConsentCallbackThroughVault: a real Vault serves the mount's
// callback without a token, hands the redirect's query to the plugin and
// answers its text page; the consent is single use; creds then serves the
// exchange's token and a rotate runs a refresh grant with the refresh
// token the exchange gave. No refresh token or code appears in any
// answer, the server log or the audit log.
func TestConsentCallbackThroughVault(t *testing.T) {
	vendor := newCodeServer(t)
	callback := env.vaultAddr + "/v1/" + mountPath + "/callback"
	writeConfig(t, "consent-e2e", map[string]any{
		"grant_type": "authorization_code", "token_url": vendor.URL + "/token",
		"auth_url": "https://login.example.com/authorize", "redirect_url": callback,
		"client_id": "e2e-client", "client_secret": "e2e-client-secret", "scopes": "offline_access",
	})
	start, err := env.vault.Logical().Write(mountPath+"/consent/consent-e2e", nil)
	if err != nil {
		t.Fatal(err)
	}
	code, state, redirect := vendor.approve(t, start.Data["authorize_url"].(string))
	if redirect != callback {
		t.Fatalf("redirect_uri %q, want %q", redirect, callback)
	}
	browser := func() (int, string, string) {
		resp, err := http.Get(redirect + "?" + url.Values{"code": {code}, "state": {state}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(body)
	}
	status, ctype, page := browser() // no X-Vault-Token: the browser has none
	if status != 200 || !strings.HasPrefix(ctype, "text/plain") || !strings.Contains(page, "done") || strings.Contains(page, code) {
		t.Fatalf("callback through Vault: %d %s %q", status, ctype, page)
	}
	if status, _, page := browser(); status != 400 || !strings.Contains(page, "no consent in progress") {
		t.Fatalf("replayed callback: %d %q", status, page)
	}
	first := accessToken(t, readCreds(t, "consent-e2e"))
	if _, err := env.vault.Logical().Write(mountPath+"/rotate/consent-e2e", nil); err != nil {
		t.Fatal(err)
	}
	if second := accessToken(t, readCreds(t, "consent-e2e")); second == first {
		t.Fatal("rotate did not run a refresh grant")
	}
	cfg, err := env.vault.Logical().Read(mountPath + "/config/consent-e2e")
	if err != nil || cfg.Data["refresh_token_set"] != true {
		t.Fatalf("config read: %v %v", cfg, err)
	}
	vendor.mu.Lock()
	issued, replays := append([]string{code}, vendor.issued...), vendor.replays
	vendor.mu.Unlock()
	if len(issued) != 3 || replays != 0 {
		t.Fatalf("vendor issued %d refresh tokens with %d replays, want 2 and 0", len(issued)-1, replays)
	}
	// Vault's audit device records a request's request_uri as it is: the
	// GET redirect's code shows there (spent by then, and worthless
	// without the PKCE verifier, which never left Vault), and nowhere else.
	audit, _ := os.ReadFile(env.auditLog)
	if n, inURI := strings.Count(string(audit), code), strings.Count(string(audit), "callback?code="+code); n != inURI {
		t.Errorf("the GET redirect's code is in the audit log %d times, %d of them in request_uri", n, inURI)
	}
	// response_mode=form_post: the code comes in a form body, which the
	// audit device HMACs like any request data.
	start, err = env.vault.Logical().Write(mountPath+"/consent/consent-e2e", nil)
	if err != nil {
		t.Fatal(err)
	}
	postCode, postState, _ := vendor.approve(t, start.Data["authorize_url"].(string))
	resp, err := http.PostForm(redirect, url.Values{"code": {postCode}, "state": {postState}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "done") {
		t.Fatalf("form_post callback: %d %q", resp.StatusCode, body)
	}
	vendor.mu.Lock()
	issued = append([]string{postCode}, vendor.issued...)
	vendor.mu.Unlock()
	cfgJSON, _ := json.Marshal(cfg.Data)
	texts := map[string]string{"config read": string(cfgJSON), "callback page": page + string(body)}
	for _, f := range []string{env.vaultLog, env.auditLog} {
		b, _ := os.ReadFile(f)
		texts[f] = string(b)
	}
	for where, text := range texts {
		for _, secret := range issued {
			if strings.Contains(text, secret) {
				t.Errorf("%s shows %s", where, secret)
			}
		}
	}
}
