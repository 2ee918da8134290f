package oauthvendor

import (
	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
	"strings"
	"testing"
)

// TestWithheldDescriptionThroughAGrant: a withheld description keeps the
// OAuth error (oauth's TestWithheldDescriptionKeepsTheOAuthError), through
// a read: the operator reads the status and the code.
func TestWithheldDescriptionThroughAGrant(t *testing.T) {
	const secret = "q7+authentication+Zx"
	withheld := oauth.Withheld
	env := newFakeEnv(t)
	cfg := fakeVendorConfig("x", secret)
	env.write("config/x", cfg)
	env.vendor.setMode("x", vendorMode{status: 401, oauthError: "invalid_client", desc: "Client authentication failed"})
	err := env.readErr("x")
	if err == nil || !strings.Contains(err.Error(), "HTTP 401: invalid_client: "+withheld) {
		t.Fatalf("read: %v, want HTTP 401 and invalid_client beside the withheld description", err)
	}
	if st := env.status("x"); !strings.Contains(st["last_error"].(string), "invalid_client") {
		t.Fatalf("status: %v, want invalid_client", st)
	}
}
