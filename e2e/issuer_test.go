//go:build e2e

package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// federatedVendor is a token endpoint that trusts the mount's issuer the
// way Entra ID (federated identity credentials), Google STS or Databricks
// do, with a real relying-party library: go-oidc discovers the issuer over
// HTTP from Vault (.well-known/openid-configuration, then jwks_uri) and
// verifies each assertion (signature, iss, aud = the verifier's ClientID,
// exp), refetching the JWKS on an unknown kid. The JWT is the client
// assertion, else the jwt_bearer assertion, else a token exchange's
// subject_token (Google STS, Databricks).
type federatedVendor struct {
	*httptest.Server
	issuer string

	mu         sync.Mutex
	provider   *oidc.Provider
	seen       []federatedAssertion
	last       string
	refusals   []string
	audiences  map[string]string // token URL path -> expected aud
	discovered int
}

type federatedAssertion struct {
	path, sub, kid, clientID string
	// subjectType is a token exchange's subject_token_type.
	subjectType string
	// token is the access token answered; sig the JWT's signature.
	token, sig string
}

func newFederatedVendor(t *testing.T, issuer string) *federatedVendor {
	v := &federatedVendor{issuer: issuer, audiences: map[string]string{}}
	v.Server = httptest.NewServer(http.HandlerFunc(v.serve))
	t.Cleanup(v.Close)
	return v
}

func (v *federatedVendor) providerOnce() (*oidc.Provider, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.provider != nil {
		return v.provider, nil
	}
	// Not the request's context: go-oidc's key set fetches with the
	// provider's context later too (a refetch on an unknown kid).
	p, err := oidc.NewProvider(context.Background(), v.issuer)
	if err == nil {
		v.provider = p
		v.discovered++
	}
	return p, err
}

func (v *federatedVendor) serve(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	assertion := r.PostForm.Get("client_assertion")
	for _, field := range []string{"assertion", "subject_token"} {
		if assertion == "" {
			assertion = r.PostForm.Get(field)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	refuse := func(err error) {
		v.mu.Lock()
		v.refusals = append(v.refusals, err.Error())
		v.mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "error_description": err.Error()})
	}
	p, err := v.providerOnce()
	if err != nil {
		refuse(fmt.Errorf("discovery: %w", err))
		return
	}
	v.mu.Lock()
	aud := v.audiences[r.URL.Path]
	v.mu.Unlock()
	tok, err := p.Verifier(&oidc.Config{ClientID: aud}).Verify(r.Context(), assertion)
	if err != nil {
		refuse(err)
		return
	}
	kid := ""
	if parts := strings.Split(assertion, "."); len(parts) == 3 {
		var h struct {
			Kid string `json:"kid"`
		}
		if raw, err := base64.RawURLEncoding.DecodeString(parts[0]); err == nil {
			_ = json.Unmarshal(raw, &h)
		}
		kid = h.Kid
	}
	v.mu.Lock()
	n := len(v.seen) + 1
	v.seen = append(v.seen, federatedAssertion{path: r.URL.Path, sub: tok.Subject, kid: kid, clientID: r.PostForm.Get("client_id"),
		subjectType: r.PostForm.Get("subject_token_type"), token: fmt.Sprintf("federated-%d", n),
		sig: assertion[strings.LastIndexByte(assertion, '.')+1:]})
	v.last = assertion
	v.mu.Unlock()
	fmt.Fprintf(w, `{"access_token":"federated-%d","token_type":"Bearer","expires_in":3600}`, n)
}

func (v *federatedVendor) lastSeen(t *testing.T) federatedAssertion {
	t.Helper()
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.seen) == 0 {
		t.Fatalf("no assertion verified; refusals: %v", v.refusals)
	}
	return v.seen[len(v.seen)-1]
}

// TestIssuerFederatedAssertions: the mount as an OIDC issuer, in a real
// Vault. oidc/config is Vault's address and the mount; a private_key_jwt
// config (Entra's federated identity credential: aud
// api://AzureADTokenExchange) and a jwt_bearer config (Databricks-like:
// aud the token URL) get tokens with assertions that go-oidc verifies
// after discovering the issuer over HTTP, with no stored secret; both
// keep working, 0 failed reads, while the issuer key rotates
// (publish, switch, auto); and oidc-provider's bundled jose verifies one.
func TestIssuerFederatedAssertions(t *testing.T) {
	issuer := env.vaultAddr + "/v1/" + mountPath
	s, err := env.vault.Logical().Write(mountPath+"/oidc/config", map[string]any{"issuer": issuer + "/"})
	if err != nil {
		t.Fatalf("oidc/config: %v", err)
	}
	if s.Data["issuer"] != issuer {
		t.Fatalf("oidc/config answered issuer %v, want %s", s.Data["issuer"], issuer)
	}
	checkWellKnownHeaders(t, issuer)

	v := newFederatedVendor(t, issuer)
	v.audiences["/entra/token"] = "api://AzureADTokenExchange"
	v.audiences["/dbx/token"] = v.URL + "/dbx/token"
	// verify=true: the write itself runs a grant the relying party verifies.
	writeConfig(t, "iss-entra", map[string]any{"token_url": v.URL + "/entra/token", "client_id": "app-1",
		"client_auth": "private_key_jwt", "assertion_source": "issuer", "assertion_audience": "api://AzureADTokenExchange", "verify": true})
	if got := v.lastSeen(t); got.sub != "oauthvendor:iss-entra" || got.clientID != "app-1" || got.kid != s.Data["kid"] {
		t.Fatalf("entra assertion %+v, want sub oauthvendor:iss-entra, client_id app-1, kid %v", got, s.Data["kid"])
	}
	writeConfig(t, "iss-dbx", map[string]any{"token_url": v.URL + "/dbx/token", "grant_type": "jwt_bearer",
		"assertion_source": "issuer", "subject": "sp-1234", "verify": true})
	if got := v.lastSeen(t); got.sub != "sp-1234" || got.path != "/dbx/token" {
		t.Fatalf("jwt_bearer assertion %+v", got)
	}
	if tok := accessToken(t, readCreds(t, "iss-entra")); !strings.HasPrefix(tok, "federated-") {
		t.Fatalf("creds/iss-entra: %s", tok)
	}
	cfg := readConfigData(t, "iss-entra")
	if cfg["private_key_set"] != false || cfg["kid"] != nil || cfg["assertion_source"] != "issuer" {
		t.Fatalf("config/iss-entra read %v", cfg)
	}
	joseVerifies(t, v, issuer)

	for _, steps := range [][]string{{"publish", "switch"}, {"auto"}} {
		before := v.lastSeen(t).kid
		r := startReaders(t, "iss-entra")
		var last map[string]any
		for _, step := range steps {
			time.Sleep(1500 * time.Millisecond) // let readers and grants run at each stage
			s, err := env.vault.Logical().Write(mountPath+"/oidc/rotate-key", map[string]any{"step": step})
			if err != nil {
				t.Fatalf("oidc/rotate-key step=%s: %v", step, err)
			}
			last = s.Data
		}
		time.Sleep(2500 * time.Millisecond) // grants signed by the new key
		r.finish(t)
		newKid, _ := last["kid"].(string)
		if newKid == "" || newKid == before {
			t.Fatalf("rotation %v left kid %s", steps, before)
		}
		mustRotate(t, "iss-entra")
		if got := v.lastSeen(t).kid; got != newKid {
			t.Fatalf("after %v the assertion's kid is %s, want %s", steps, got, newKid)
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.refusals) != 0 || v.discovered != 1 {
		t.Fatalf("relying party refusals %v, discoveries %d", v.refusals, v.discovered)
	}
}

// checkWellKnownHeaders: the documents are readable without a token, raw
// JSON with a Cache-Control, public keys only.
func checkWellKnownHeaders(t *testing.T, issuer string) {
	t.Helper()
	for _, p := range []string{"/.well-known/openid-configuration", "/.well-known/keys"} {
		resp, err := http.Get(issuer + p)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(resp.Header.Get("Cache-Control"), "max-age=") {
			t.Fatalf("GET %s: %d %v %v (%v)", p, resp.StatusCode, resp.Header, body, err)
		}
		if keys, ok := body["keys"].([]any); ok {
			for _, k := range keys {
				for member := range k.(map[string]any) {
					if !publicJWKMembers[member] {
						t.Fatalf("%s: member %q is not public", p, member)
					}
				}
			}
		}
	}
}

// joseVerifies: oidc-provider's own JOSE library (panva's jose, its
// dependency) verifies the last assertion against the issuer's jwks_uri,
// as a Node.js relying party would.
func joseVerifies(t *testing.T, v *federatedVendor, issuer string) {
	t.Helper()
	v.mu.Lock()
	assertion := v.last
	v.mu.Unlock()
	script := `import { createRemoteJWKSet, jwtVerify } from 'jose';
const [token, issuer, audience] = process.argv.slice(1);
const jwks = createRemoteJWKSet(new URL(issuer + '/.well-known/keys'));
const { payload, protectedHeader } = await jwtVerify(token, jwks, { issuer, audience });
console.log(JSON.stringify({ sub: payload.sub, kid: protectedHeader.kid }));`
	cmd := exec.Command("node", "--input-type=module", "-e", script, assertion, issuer, v.URL+"/dbx/token")
	cmd.Dir = env.oidcDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("jose's jwtVerify: %v: %s", err, clip(string(out)))
	}
	var got struct{ Sub, Kid string }
	if err := json.Unmarshal(out, &got); err != nil || got.Sub != "sp-1234" || got.Kid == "" {
		t.Fatalf("jose verified %s (%v)", out, err)
	}
}

// TestIssuerVaultIdentityCommunity: community Vault has no plugin identity
// tokens; a config asking for them is a 400 that says it needs Vault
// Enterprise (matched by the text that crosses the plugin's gRPC hop).
func TestIssuerVaultIdentityCommunity(t *testing.T) {
	_, err := env.vault.Logical().Write(mountPath+"/config/wif", map[string]any{
		"token_url": "https://login.example.com/token", "client_id": "c", "client_auth": "private_key_jwt",
		"assertion_source": "vault_identity", "identity_token_audience": "api://AzureADTokenExchange", "verify": false,
	})
	re := responseError(t, err)
	text := strings.Join(re.Errors, " ")
	t.Logf("community Vault's answer: %s", text)
	if re.StatusCode != 400 || !strings.Contains(text, "needs Vault Enterprise") {
		t.Fatalf("status %d: %s", re.StatusCode, text)
	}
	if s, _ := env.vault.Logical().Read(mountPath + "/config/wif"); s != nil {
		t.Fatal("the refused config was stored")
	}
}
