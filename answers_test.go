package oauthvendor

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/testkit"
)

// TestHostileAnswerIsA502: through the backend, a 2xx whose token would
// forge a header line is a 502 naming the config, and nothing is cached.
func TestHostileAnswerIsA502(t *testing.T) {
	env := newTestEnv(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"%s\r\nX-Evil: 1","token_type":"Bearer","expires_in":3600}`, testkit.SecretPart)
	}))
	t.Cleanup(srv.Close)
	env.write("config/hostile", map[string]interface{}{
		"token_url": srv.URL + "/oauth/token", "client_id": "id-1", "client_secret": "generic-secret-value",
	})
	resp, err := env.do(logical.ReadOperation, "creds/hostile", nil)
	if err == nil {
		t.Fatalf("served %v", resp)
	}
	if codedStatus(err) != http.StatusBadGateway || !strings.Contains(err.Error(), `"hostile"`) ||
		!strings.Contains(err.Error(), "control character") {
		t.Fatalf("error %q (status %d) should be a 502 naming the config and the cause", err, codedStatus(err))
	}
	if strings.Contains(err.Error(), testkit.SecretPart) || strings.Contains(env.logs.String(), testkit.SecretPart) {
		t.Fatal("the hostile token reached the error or the log")
	}
	if tok, lerr := loadToken(context.Background(), env.storage, "hostile"); lerr != nil || tok != nil {
		t.Fatalf("cached %v (%v)", tok, lerr)
	}
}
