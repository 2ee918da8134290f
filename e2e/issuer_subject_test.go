//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestIssuerSubjectTokenExchange: token_exchange with assertion_source=
// issuer in a real Vault, secretless. A Google-STS-shaped config (no
// client authentication, aud and audience the workload identity
// provider) and preset databricks (aud the account ID) send the issuer's
// JWT as subject_token, which the token endpoint verifies with go-oidc
// (discovery over HTTP from Vault, ClientID = the audience); creds read
// returns the endpoint's token. Then a two-step chain: A exchanges B's
// token (subject_config), B being the databricks exchange of the issuer's
// JWT; readers and grant loops on both for a few seconds: 0 failed reads,
// and every subject token A's endpoint saw is one B was granted. The
// subject JWTs' signatures join the secrets the final log scan looks for.
func TestIssuerSubjectTokenExchange(t *testing.T) {
	const provider = "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/vault/providers/oauthvendor"
	issuer := env.vaultAddr + "/v1/" + mountPath
	s, err := env.vault.Logical().Write(mountPath+"/oidc/config", map[string]any{"issuer": issuer})
	if err != nil {
		t.Fatalf("oidc/config: %v", err)
	}
	v := newFederatedVendor(t, issuer)
	v.audiences["/v1/token"] = provider
	v.audiences["/oidc/v1/token"] = "acct-e2e"

	writeConfig(t, "iss-sts", map[string]any{"token_url": v.URL + "/v1/token", "grant_type": "token_exchange", "client_auth": "none",
		"assertion_source": "issuer", "assertion_audience": provider, "audience": provider,
		"scopes": "https://www.googleapis.com/auth/cloud-platform", "verify": true})
	got := v.lastSeen(t)
	if got.sub != "oauthvendor:iss-sts" || got.kid != s.Data["kid"] || got.subjectType != "urn:ietf:params:oauth:token-type:jwt" || got.clientID != "" {
		t.Fatalf("sts subject token %+v, want sub oauthvendor:iss-sts, kid %v, typed jwt, no client", got, s.Data["kid"])
	}
	if tok := accessToken(t, readCreds(t, "iss-sts")); tok != got.token {
		t.Fatalf("creds/iss-sts %s, want the endpoint's %s", tok, got.token)
	}

	writeConfig(t, "iss-dbx-b", map[string]any{"preset": "databricks", "token_url": v.URL, "client_id": "sp-e2e",
		"assertion_source": "issuer", "assertion_audience": "acct-e2e", "verify": true})
	if got := v.lastSeen(t); got.path != "/oidc/v1/token" || got.sub != "oauthvendor:iss-dbx-b" || got.clientID != "sp-e2e" {
		t.Fatalf("databricks subject token %+v", got)
	}

	a := newChainedVendor(t)
	// B lets its token go to A's endpoint (a write giving its credentials:
	// it has none).
	writeConfigPartial(t, "iss-dbx-b", map[string]any{"exchange_urls": a.URL})
	writeConfig(t, "iss-chain-a", map[string]any{"token_url": a.URL + "/token", "grant_type": "token_exchange",
		"client_auth": "none", "subject_config": "iss-dbx-b", "verify": true})
	if tok := accessToken(t, readCreds(t, "iss-chain-a")); !strings.HasPrefix(tok, "chained-federated-") {
		t.Fatalf("creds/iss-chain-a %s", tok)
	}
	ra, rb := startReaders(t, "iss-chain-a"), startReaders(t, "iss-dbx-b")
	time.Sleep(4 * time.Second)
	ra.finish(t)
	rb.finish(t)

	v.mu.Lock()
	granted := map[string]bool{}
	for _, seen := range v.seen {
		granted[seen.token] = true
		if seen.subjectType != "" {
			// A subject token is a credential: the final scan of the
			// audit and server logs looks for it too.
			addSecret("issuer subject token signature ("+seen.path+")", seen.sig)
		}
	}
	refusals := v.refusals
	v.mu.Unlock()
	subjects := a.subjectTokens()
	for _, tok := range subjects {
		if !granted[tok] {
			t.Errorf("A's endpoint got subject token %q, not one B was granted", tok)
		}
	}
	t.Logf("%d subject tokens verified by go-oidc, %d exchanges at A", len(granted), len(subjects))
	if len(refusals) != 0 || len(subjects) < 3 {
		t.Fatalf("relying party refusals %v; A exchanged %d times", refusals, len(subjects))
	}
}

// chainedVendor is A's token endpoint: it exchanges any subject token
// for "chained-<subject token>" and remembers what it was given.
type chainedVendor struct {
	*httptest.Server
	mu       sync.Mutex
	subjects []string
}

func newChainedVendor(t *testing.T) *chainedVendor {
	c := &chainedVendor{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		subject := r.PostForm.Get("subject_token")
		c.mu.Lock()
		c.subjects = append(c.subjects, subject)
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange" || subject == "" {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_request"})
			return
		}
		fmt.Fprintf(w, `{"access_token":"chained-%s","token_type":"Bearer","expires_in":3600}`, subject)
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *chainedVendor) subjectTokens() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.subjects...)
}
