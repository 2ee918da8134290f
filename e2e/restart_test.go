//go:build e2e

package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/vendorsim"
)

// The plugin process dies (SIGKILL: no cleanup, the in-memory cache is
// gone); Vault starts it again on the next request, which is served the
// token cached in storage without asking the vendor.
func TestPluginKilledServesStoredToken(t *testing.T) {
	const (
		name   = "alation-restart"
		vendor = vendorsim.Alation
	)
	configureVendor(t, name, vendor, nil)
	tok := accessToken(t, readCreds(t, name))
	before := env.sim.tokenRequests(t, vendor)

	old := pluginPID(t)
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatalf("killing the plugin (pid %d): %v", old, err)
	}
	killed := time.Now()

	var (
		got      string
		firstErr error
	)
	attempts, err := eventually(15*time.Second, func() error {
		s, err := env.vault.Logical().Read(mountPath + "/creds/" + name)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			return err
		}
		got, _ = s.Data["access_token"].(string)
		return nil
	})
	if err != nil {
		t.Fatalf("creds/%s after the kill: %v", name, err)
	}
	took := time.Since(killed)
	if got != tok {
		t.Errorf("after the restart the reader got another token")
	}
	if n := env.sim.tokenRequests(t, vendor) - before; n != 0 {
		t.Errorf("the restarted plugin asked the vendor %d times, want 0", n)
	}
	if now := pluginPID(t); now == old {
		t.Errorf("plugin pid still %d: it was not restarted", now)
	}
	if g := jsonNumber(t, readStatus(t, name)["grants"]); g != 1 {
		t.Errorf("status grants = %d, want 1", g)
	}
	t.Logf("plugin pid %d killed; served from storage after %s (%d attempt(s)), 0 vendor requests", old, took.Round(time.Millisecond), attempts)
	if firstErr != nil {
		t.Logf("Vault's answer while restarting the plugin: %v", firstErr)
	}
}

// pluginPID finds this suite's plugin process: a child of our Vault running
// the binary from our plugin directory (other Vaults on the machine may run
// the same plugin; they are not ours to kill).
func pluginPID(t *testing.T) int {
	t.Helper()
	var pids []int
	_, err := eventually(10*time.Second, func() error {
		out, _ := exec.Command("pgrep", "-P", strconv.Itoa(env.vaultProc.Pid()), "-f",
			filepath.Join(env.pluginDir, pluginName)).Output()
		pids = pids[:0]
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
		if len(pids) != 1 {
			return fmt.Errorf("found plugin pids %v, want exactly one", pids)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pids[0]
}
