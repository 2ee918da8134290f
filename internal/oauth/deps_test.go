package oauth

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsNoVault: the protocol package can be read and tested without
// Vault; Vault's types stop at the engine (STYLE.md "Layers").
func TestImportsNoVault(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 || !strings.Contains(string(out), "github.com/hashicorp/go-retryablehttp") {
		t.Fatalf("go list -deps listed %d packages, not this package's dependencies:\n%s", len(deps), out)
	}
	for _, d := range deps {
		if strings.HasPrefix(d, "github.com/hashicorp/vault") {
			t.Errorf("internal/oauth depends on %s", d)
		}
	}
}
