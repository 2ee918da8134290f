//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// A person giving consent: Debian's chromium, headless, driven by
// playwright-core (e2e/oidc/browser.mjs, installed beside oidc-provider by
// scripts/oidc-provider.sh) through oidc-provider's login and consent
// pages. The tests that need it fail, never skip, on a machine without it.

// chromium is the browser binary, resolved once: $CHROMIUM_BIN, else
// scripts/chromium.sh (which installs Debian's chromium when missing).
var chromium struct {
	once sync.Once
	bin  string
	err  error
}

func chromiumBin(t testing.TB) string {
	t.Helper()
	chromium.once.Do(func() {
		cmd := exec.Command(filepath.Join("..", "scripts", "chromium.sh"))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			chromium.err = fmt.Errorf("scripts/chromium.sh (it says why on stderr): %w", err)
			return
		}
		chromium.bin = strings.TrimSpace(string(out))
		if _, err := os.Stat(chromium.bin); err != nil {
			chromium.err = fmt.Errorf("scripts/chromium.sh printed %q: %w", chromium.bin, err)
		}
	})
	if chromium.err != nil {
		t.Fatalf("no Chromium to give consent with (the consent tests need a real browser: `make e2e` installs Debian's chromium, or set CHROMIUM_BIN): %v", chromium.err)
	}
	return chromium.bin
}

// browserResult is browser.mjs's report: the pages it went through, and
// the last one's address (without its query), HTTP status and text.
type browserResult struct {
	Steps    []string `json:"steps"`
	FinalURL string   `json:"final_url"`
	// FinalQuery is the last page's query: at a redirect_uri, the code
	// and state (for a replay; never logged).
	FinalQuery string `json:"final_query"`
	Status     int    `json:"status"`
	Text       string `json:"text"`
	Error      string `json:"error"`
}

// consentInBrowser opens authorizeURL, logs in as login, approves, and
// follows the redirect until a page under redirectPrefix has loaded (the
// plugin's callback, or a test listener): what a person does with the URL
// consent/<name> answers.
func consentInBrowser(t testing.TB, authorizeURL, redirectPrefix, login string) browserResult {
	t.Helper()
	r := runBrowser(t, "--url", authorizeURL, "--until", redirectPrefix, "--login", login)
	wantSteps(t, r, "login", "consent")
	if !strings.HasPrefix(r.FinalURL, redirectPrefix) {
		t.Fatalf("the browser ended at %s, want %s", r.FinalURL, redirectPrefix)
	}
	return r
}

// deviceConsentInBrowser opens verificationURI, types userCode, confirms,
// logs in as login and approves (RFC 8628 3.3): it ends on the provider's
// success page.
func deviceConsentInBrowser(t testing.TB, verificationURI, userCode, login string) browserResult {
	t.Helper()
	r := runBrowser(t, "--url", verificationURI, "--user-code", userCode, "--login", login)
	wantSteps(t, r, "user_code", "confirm", "login", "consent")
	if r.Status != 200 {
		t.Fatalf("the device flow's last page: HTTP %d: %s", r.Status, r.Text)
	}
	return r
}

func wantSteps(t testing.TB, r browserResult, want ...string) {
	t.Helper()
	if !slices.Equal(r.Steps, want) {
		t.Fatalf("the browser went through %v, want %v", r.Steps, want)
	}
}

// runBrowser runs browser.mjs (its log: browser-<test>.log in the work
// dir) and fails the test unless it finished.
func runBrowser(t testing.TB, args ...string) browserResult {
	t.Helper()
	bin := chromiumBin(t)
	// Seconds on an idle machine; a loaded one (2 cores shared with
	// builds) has been seen to take a minute to start Node and Chromium.
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	script := filepath.Join(filepath.Dir(env.oidcServer), "browser.mjs")
	logPath := filepath.Join(env.dir, "browser-"+safeName(t.Name())+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.CommandContext(ctx, "node", append([]string{script, "--provider-dir", env.oidcDir,
		"--chromium", bin, "--timeout", "150"}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, logFile
	start := time.Now()
	runErr := cmd.Run()
	var r browserResult
	if err := json.Unmarshal(bytes.TrimSpace(out.Bytes()), &r); err != nil {
		printTail(logPath, 20)
		t.Fatalf("browser.mjs (%v) printed no report: %v: %.300s", runErr, err, out.String())
	}
	if runErr != nil || r.Error != "" {
		printTail(logPath, 20)
		t.Fatalf("the browser did not finish the consent (%v) after %v: %s", runErr, r.Steps, r.Error)
	}
	t.Logf("browser: %s in %s, ended at %s (HTTP %d)", strings.Join(r.Steps, ", "),
		time.Since(start).Round(100*time.Millisecond), r.FinalURL, r.Status)
	return r
}
