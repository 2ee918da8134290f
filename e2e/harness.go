//go:build e2e

// Package e2e runs the plugin binary in a real Vault server, against the
// vendor simulator running as its own process, and checks what operators,
// applications and Vault Agent see. `make e2e` builds both binaries and
// runs it; see TestMain for the environment variables it reads.
package e2e

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/testproc"
	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/vendorsim"
)

const (
	pluginName = "vault-plugin-secrets-oauthvendor"
	mountPath  = "oauthvendor"
)

// env is the running Vault + simulator every test talks to. Tests run one
// after another (none is parallel): simulator counters are per vendor, so
// a test's before/after difference is its own traffic only that way.
var env *harness

type harness struct {
	dir       string // temp dir: logs, configs, the plugin copy
	vaultBin  string
	pluginDir string // holds the copy of the plugin Vault runs
	version   string // expected plugin version (VERSION)
	sha256    string // of the plugin binary Vault runs

	vaultAddr string
	rootToken string
	vaultLog  string // server stdout+stderr at -log-level=trace
	auditLog  string // the file audit device
	vault     *api.Client
	vaultProc *testproc.Process

	sim     *simClient
	simProc *testproc.Process
	// creds are the credentials the simulator accepts, per vendor, fetched
	// from its control endpoint as an operator would get them from a vendor.
	creds map[string]vendorsim.Credentials

	oidcDir    string // holds node_modules/oidc-provider (oidc.go)
	oidcServer string // e2e/oidc/server.mjs
}

// runMain starts one simulator and one Vault for the whole package, runs
// the tests, and stops both. It reads VAULT_BIN (else scripts/vault-bin.sh
// finds or builds Vault), OIDC_PROVIDER_DIR (else scripts/oidc-provider.sh
// installs it), PLUGIN_DIR (default ../bin/plugins),
// VENDORSIM_BIN (default ../bin/vendorsim) and E2E_KEEP=1 (keep the work
// dir, logs included, even on success).
func runMain(m *testing.M) int {
	h := &harness{}
	err := h.start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: setup failed: %v\n", err)
		// CI keeps no temp dir: show why here.
		for _, log := range []string{"vault.log", "sim.log"} {
			printTail(filepath.Join(h.dir, log), 30)
		}
		h.stop(false)
		return 1
	}
	env = h
	code := m.Run()
	// Last, so that it covers every test's traffic (the plugin restart,
	// Agent, the vendor errors) whatever order the tests ran in.
	if err := h.scanLogsForSecrets(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: FAIL after all tests: %v\n", err)
		code = 1
	}
	h.stop(code == 0 && os.Getenv("E2E_KEEP") != "1")
	return code
}

func (h *harness) start() error {
	repo, err := filepath.Abs("..")
	if err != nil {
		return err
	}
	if h.dir, err = os.MkdirTemp("", "oauthvendor-e2e-*"); err != nil {
		return err
	}
	fmt.Printf("e2e: work dir %s (logs: vault.log, audit.log, sim.log, agent-<config>.log)\n", h.dir)
	if err := h.findBinaries(repo); err != nil {
		return err
	}
	if err := h.findOIDCProvider(repo); err != nil {
		return err
	}
	simBin := envOr("VENDORSIM_BIN", filepath.Join(repo, "bin", "vendorsim"))
	if err := h.startSim(simBin); err != nil {
		return err
	}
	if err := h.startVault(); err != nil {
		return err
	}
	return h.setupVault()
}

// findBinaries resolves Vault and copies the plugin into the work dir:
// other builds may replace bin/plugins while the suite runs, and Vault
// re-checks the sha256 every time it restarts the plugin.
func (h *harness) findBinaries(repo string) error {
	h.vaultBin = os.Getenv("VAULT_BIN")
	if h.vaultBin == "" {
		fmt.Println("e2e: VAULT_BIN unset; scripts/vault-bin.sh (a first run builds Vault: ~10 minutes)")
		out, err := exec.Command(filepath.Join(repo, "scripts", "vault-bin.sh")).Output()
		if err != nil {
			return fmt.Errorf("scripts/vault-bin.sh: %w", err)
		}
		h.vaultBin = strings.TrimSpace(string(out))
	}
	version, err := os.ReadFile(filepath.Join(repo, "VERSION"))
	if err != nil {
		return err
	}
	h.version = strings.TrimSpace(string(version))

	src := filepath.Join(envOr("PLUGIN_DIR", filepath.Join(repo, "bin", "plugins")), pluginName)
	h.pluginDir = filepath.Join(h.dir, "plugins")
	if err := os.Mkdir(h.pluginDir, 0o755); err != nil {
		return err
	}
	sum, err := copyExecutable(src, filepath.Join(h.pluginDir, pluginName))
	if err != nil {
		return fmt.Errorf("plugin binary (run `make build vendorsim` first): %w", err)
	}
	h.sha256 = sum
	return nil
}

func (h *harness) startSim(bin string) error {
	addrFile := filepath.Join(h.dir, "sim.addr")
	p, err := testproc.Start(h.dir, "sim.log", bin, "-addr-file", addrFile)
	if err != nil {
		return fmt.Errorf("vendorsim (run `make vendorsim` first): %w", err)
	}
	h.simProc = p
	base, err := p.WaitFile(addrFile, 20*time.Second)
	if err != nil {
		return fmt.Errorf("vendorsim: %w (see sim.log)", err)
	}
	h.sim = newSimClient(base)
	h.creds = map[string]vendorsim.Credentials{}
	for _, v := range vendorsim.Vendors {
		var c vendorsim.Credentials
		if err := h.sim.getJSONErr("/_sim/credentials/"+v, &c); err != nil {
			return err
		}
		h.creds[v] = c
	}
	return nil
}

// startVault runs `vault server -dev` on a free loopback port pair (the dev
// listener on P, its cluster listener on P+1), retrying when another
// process takes the pair between the probe and Vault's bind.
func (h *harness) startVault() error {
	h.rootToken = "e2e-" + randomHex(12)
	h.vaultLog = filepath.Join(h.dir, "vault.log")
	h.auditLog = filepath.Join(h.dir, "audit.log")
	hcl := fmt.Sprintf("plugin_directory = %q\ndisable_mlock = true\n", h.pluginDir)
	cfg := filepath.Join(h.dir, "vault.hcl")
	if err := os.WriteFile(cfg, []byte(hcl), 0o600); err != nil {
		return err
	}
	var lastErr error
	for range 3 {
		port, err := testproc.FreePortPair()
		if err != nil {
			return err
		}
		h.vaultAddr = "http://127.0.0.1:" + strconv.Itoa(port)
		p, err := testproc.Start(h.dir, "vault.log", h.vaultBin, "server", "-dev", "-dev-no-store-token",
			"-dev-listen-address=127.0.0.1:"+strconv.Itoa(port), "-dev-root-token-id="+h.rootToken,
			"-log-level=trace", "-config="+cfg)
		if err != nil {
			return err
		}
		if lastErr = p.WaitHTTP(h.vaultAddr+"/v1/sys/health", 90*time.Second); lastErr == nil {
			h.vaultProc = p
			return nil
		}
		p.Stop()
	}
	return fmt.Errorf("vault server: %w (see vault.log)", lastErr)
}

// setupVault does what an operator does once: an audit device, the plugin
// registered by sha256 and version, the mount pinned to that version.
func (h *harness) setupVault() error {
	c, err := testproc.VaultClient(h.vaultAddr, h.rootToken)
	if err != nil {
		return err
	}
	h.vault = c

	ctx := context.Background()
	if err := c.Sys().EnableAuditWithOptionsWithContext(ctx, "file", &api.EnableAuditOptions{
		Type: "file", Options: map[string]string{"file_path": h.auditLog},
	}); err != nil {
		return fmt.Errorf("enabling the file audit device: %w", err)
	}
	return testproc.RegisterAndMount(ctx, c, pluginName, h.sha256, h.version, mountPath)
}

func (h *harness) stop(removeDir bool) {
	if h.vaultProc != nil {
		h.vaultProc.Stop()
	}
	if h.simProc != nil {
		h.simProc.Stop()
	}
	if h.dir == "" {
		return
	}
	if removeDir {
		_ = os.RemoveAll(h.dir)
		return
	}
	fmt.Printf("e2e: logs kept in %s\n", h.dir)
}

// copyExecutable copies src to dst (mode 0755) and returns its sha256.
func copyExecutable(src, dst string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return "", err
	}
	sum := sha256.New()
	if _, err := io.Copy(io.MultiWriter(out, sum), in); err != nil {
		out.Close()
		return "", err
	}
	if err := out.Close(); err != nil {
		return "", err
	}
	return hex.EncodeToString(sum.Sum(nil)), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// printTail prints the last n lines of a log file to stderr, if it exists.
func printTail(path string, n int) {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	fmt.Fprintf(os.Stderr, "---- last lines of %s\n%s\n", path, strings.Join(lines[max(0, len(lines)-n):], "\n"))
}
