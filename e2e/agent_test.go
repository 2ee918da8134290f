//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/testproc"
	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/vendorsim"
)

// Vault Agent renders creds/<name> to a file and, with 30 s vendor tokens,
// re-renders a new token before the old one expires, again and again: its
// re-read of the non-renewable lease (at 85-95% of the TTL) lands in the
// plugin's refresh window. The file is polled every 250 ms and every
// content seen is checked against the simulator at once.
func TestAgentRotatesBeforeExpiry(t *testing.T) {
	agentRotates(t, "agentsync-agent", nil)
}

// The same with lease=false: no lease for Agent to time, so it re-reads
// ttl+1 s after each read because the answer carries rotation_period.
// Without it, Agent waits 85-95% of its 5-minute default lease duration and
// the file holds an expired token from the 30th second.
func TestAgentRotatesBeforeExpiryWithoutLease(t *testing.T) {
	agentRotates(t, "agentsync-agent-nolease", map[string]any{"lease": false})
}

func agentRotates(t *testing.T, name string, extra map[string]any) {
	const (
		vendor    = vendorsim.AgentSync
		lifetime  = 30 * time.Second
		rotations = 3
		limit     = 4 * time.Minute
	)
	configureVendor(t, name, vendor, extra)
	env.sim.setKnobs(t, vendor, map[string]any{"lifetime": lifetime.String()})
	before := env.sim.tokenRequests(t, vendor)

	dir := t.TempDir()
	dest := filepath.Join(dir, "token")
	agent := startAgent(t, dir, name, dest)

	type seen struct {
		first, last time.Time
		polls       int
	}
	var (
		order   []string
		tokens  = map[string]*seen{}
		invalid []string
		start   = time.Now()
	)
	// Stops at the first invalid observation: one is a failure, and
	// without the fix for lease=false the next render is minutes away.
	for len(order) < rotations+1 && len(invalid) == 0 && time.Since(start) < limit {
		if agent.Exited() {
			t.Fatalf("vault agent exited: %v (see %s)", agent.Err(), filepath.Join(env.dir, agentLog(name)))
		}
		b, err := os.ReadFile(dest)
		now := time.Now()
		switch {
		case os.IsNotExist(err) && len(order) == 0:
			// Not rendered yet.
		case err != nil:
			invalid = append(invalid, fmt.Sprintf("%s: %v", now.Sub(start).Round(time.Millisecond), err))
		default:
			tok := string(b)
			if !env.sim.valid(t, vendor, tok) {
				invalid = append(invalid, fmt.Sprintf("%s: file held an invalid token (%d bytes)", now.Sub(start).Round(time.Millisecond), len(tok)))
			}
			s := tokens[tok]
			if s == nil {
				// A new render: the token it replaces must still be live.
				if n := len(order); n > 0 && !env.sim.valid(t, vendor, order[n-1]) {
					invalid = append(invalid, fmt.Sprintf("%s: token %d replaced only after it expired", now.Sub(start).Round(time.Millisecond), n))
				}
				s = &seen{first: now}
				tokens[tok] = s
				order = append(order, tok)
			}
			s.last, s.polls = now, s.polls+1
		}
		time.Sleep(250 * time.Millisecond)
	}

	for _, msg := range invalid {
		t.Errorf("invalid observation at %s", msg)
	}
	if len(order) < rotations+1 {
		t.Errorf("saw %d distinct tokens in %s, want %d (%d rotations)", len(order), time.Since(start).Round(time.Second), rotations+1, rotations)
	}
	for i, tok := range order {
		s := tokens[tok]
		line := fmt.Sprintf("token %d: rendered at +%s, last seen at +%s (%d polls)", i+1,
			s.first.Sub(start).Round(time.Millisecond), s.last.Sub(start).Round(time.Millisecond), s.polls)
		if i+1 < len(order) {
			// Minted before it was first seen, so it expired at the latest
			// lifetime after that.
			left := s.first.Add(lifetime).Sub(tokens[order[i+1]].first)
			line += fmt.Sprintf(", replaced at most %s before its expiry", left.Round(time.Millisecond))
		}
		t.Log(line)
	}
	t.Logf("%d vendor token requests for %d tokens rendered", env.sim.tokenRequests(t, vendor)-before, len(order))
}

func agentLog(name string) string { return "agent-" + name + ".log" }

// startAgent runs `vault agent` (the same binary as the server) with
// auto-auth from a token file and one template, until the test ends.
func startAgent(t *testing.T, dir, name, dest string) *testproc.Process {
	t.Helper()
	tokenFile := filepath.Join(dir, "vault-token")
	if err := os.WriteFile(tokenFile, []byte(env.rootToken), 0o600); err != nil {
		t.Fatal(err)
	}
	hcl := fmt.Sprintf(`
vault {
  address = %q
}
auto_auth {
  method "token_file" {
    config = {
      token_file_path = %q
    }
  }
}
template_config {
  exit_on_retry_failure = true
}
template {
  contents    = "{{ with secret \"%s/creds/%s\" }}{{ .Data.access_token }}{{ end }}"
  destination = %q
}
`, env.vaultAddr, tokenFile, mountPath, name, dest)
	cfg := filepath.Join(dir, "agent.hcl")
	if err := os.WriteFile(cfg, []byte(hcl), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := testproc.Start(env.dir, agentLog(name), env.vaultBin, "agent", "-config="+cfg, "-log-level=debug")
	if err != nil {
		t.Fatalf("vault agent: %v", err)
	}
	t.Cleanup(p.Stop)
	return p
}
