//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/vendorsim"
)

// A 3-node raft cluster: reads through standbys (which forward to the
// active node in Vault OSS) share one cached token, one vendor request for
// every read on every node. Then the active node dies (SIGKILL): a survivor
// takes over and serves the same token from the replicated storage with no
// vendor request, with the configs, their write-only flags and the grant
// history intact, and the cluster still writes (rotate) afterwards.
//
// Proactive refresh survives the failover (issue 12): a token read once on
// the old leader, at a vendor that takes 500 ms, is refreshed by the new
// leader's periodic pass before its readers' refresh window opens, with
// nobody reading on the new leader meanwhile, so the next reader gets the
// new token without a vendor request.
func TestHAStandbyReadsAndFailover(t *testing.T) {
	const readsPerConfig = 12
	configs := []struct{ name, vendor string }{
		{"ha-agentsync", vendorsim.AgentSync},
		{"ha-alation", vendorsim.Alation},
	}

	begin := time.Now()
	c := startCluster(t, 3)
	active := c.waitActive(t, c.nodes, 30*time.Second)
	var standbys []*vaultNode
	for _, n := range c.nodes {
		if n != active {
			standbys = append(standbys, n)
		}
	}
	t.Logf("cluster up in %s: %s active, %s and %s standby", time.Since(begin).Round(100*time.Millisecond),
		active.id, standbys[0].id, standbys[1].id)

	before := map[string]int{}
	for _, cfg := range configs {
		before[cfg.vendor] = env.sim.tokenRequests(t, cfg.vendor)
	}
	// Written with verify (the default): the write's grant mints the token
	// every node then serves.
	for _, cfg := range configs {
		if _, err := active.client.Logical().Write(mountPath+"/config/"+cfg.name, operatorConfig(t, cfg.vendor)); err != nil {
			t.Fatalf("writing config/%s through %s: %v", cfg.name, active.id, err)
		}
	}

	// Round robin over the nodes, a standby first: every read, forwarded
	// or not, is served the verified token from replicated storage.
	order := []*vaultNode{standbys[0], active, standbys[1]}
	tokens := map[string]string{}
	for _, cfg := range configs {
		for i := range readsPerConfig {
			n := order[i%len(order)]
			s, err := n.client.Logical().Read(mountPath + "/creds/" + cfg.name)
			if err != nil || s == nil {
				t.Fatalf("read %d of creds/%s through %s: %v", i, cfg.name, n.id, err)
			}
			tok := accessToken(t, s)
			if prev, ok := tokens[cfg.name]; ok && tok != prev {
				t.Errorf("read %d of creds/%s through %s got another token", i, cfg.name, n.id)
			}
			tokens[cfg.name] = tok
		}
		if !env.sim.valid(t, cfg.vendor, tokens[cfg.name]) {
			t.Errorf("creds/%s: the simulator does not know the shared token", cfg.name)
		}
		if n := env.sim.tokenRequests(t, cfg.vendor) - before[cfg.vendor]; n != 1 {
			t.Errorf("the write and %d reads of creds/%s across 3 nodes: the vendor saw %d token requests, want 1", readsPerConfig, cfg.name, n)
		}
	}

	pro := armProactive(t, active, standbys[0])

	// What the new leader must still know.
	cfgBefore := map[string]map[string]any{}
	grantsBefore := map[string]int64{}
	for _, cfg := range configs {
		s, err := active.client.Logical().Read(mountPath + "/config/" + cfg.name)
		if err != nil || s == nil {
			t.Fatalf("read config/%s: %v", cfg.name, err)
		}
		cfgBefore[cfg.name] = s.Data
		st, err := active.client.Logical().Read(mountPath + "/status/" + cfg.name)
		if err != nil || st == nil {
			t.Fatalf("read status/%s: %v", cfg.name, err)
		}
		grantsBefore[cfg.name] = jsonNumber(t, st.Data["grants"])
		if grantsBefore[cfg.name] != 1 {
			t.Errorf("status/%s grants = %d before the failover, want 1", cfg.name, grantsBefore[cfg.name])
		}
	}

	killed := time.Now()
	active.kill(t)
	leader := c.waitActive(t, standbys, 60*time.Second)
	elected := time.Since(killed)
	var other *vaultNode
	for _, n := range standbys {
		if n != leader {
			other = n
		}
	}

	// The new active node mounts the plugin; until then it may answer 5xx.
	var firstErr error
	attempts, err := eventually(60*time.Second, func() error {
		s, err := leader.client.Logical().Read(mountPath + "/creds/" + configs[0].name)
		if err == nil && s == nil {
			err = fmt.Errorf("no answer")
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return err
	})
	if err != nil {
		t.Fatalf("creds/%s through the new leader %s: %v (see %s)", configs[0].name, leader.id, err, leader.log)
	}
	served := time.Since(killed)

	for _, cfg := range configs {
		for _, n := range []*vaultNode{leader, other} {
			s, err := n.client.Logical().Read(mountPath + "/creds/" + cfg.name)
			if err != nil || s == nil {
				t.Fatalf("creds/%s through %s after the failover: %v", cfg.name, n.id, err)
			}
			if accessToken(t, s) != tokens[cfg.name] {
				t.Errorf("creds/%s through %s after the failover: another token than before", cfg.name, n.id)
			}
		}
		if n := env.sim.tokenRequests(t, cfg.vendor) - before[cfg.vendor]; n != 1 {
			t.Errorf("creds/%s: the vendor saw %d token requests since the write, want 1 (0 after the failover)", cfg.name, n)
		}
		s, err := leader.client.Logical().Read(mountPath + "/config/" + cfg.name)
		if err != nil || s == nil {
			t.Fatalf("read config/%s through the new leader: %v", cfg.name, err)
		}
		if !reflect.DeepEqual(s.Data, cfgBefore[cfg.name]) {
			t.Errorf("config/%s after the failover:\n%v\nbefore:\n%v", cfg.name, s.Data, cfgBefore[cfg.name])
		}
		if s.Data["client_secret_set"] != true {
			t.Errorf("config/%s after the failover: client_secret_set = %v, want true", cfg.name, s.Data["client_secret_set"])
		}
		st, err := leader.client.Logical().Read(mountPath + "/status/" + cfg.name)
		if err != nil || st == nil {
			t.Fatalf("read status/%s through the new leader: %v", cfg.name, err)
		}
		if g := jsonNumber(t, st.Data["grants"]); g != grantsBefore[cfg.name] {
			t.Errorf("status/%s grants = %d after the failover, want %d", cfg.name, g, grantsBefore[cfg.name])
		}
		if st.Data["token_cached"] != true {
			t.Errorf("status/%s token_cached = %v after the failover, want true", cfg.name, st.Data["token_cached"])
		}
	}

	// Two of three nodes are a quorum: the cluster still writes. A rotate
	// through the standby reaches the new leader, and every node serves
	// the new token.
	name, vendor := configs[0].name, configs[0].vendor
	mark := env.sim.tokenRequests(t, vendor)
	if _, err := other.client.Logical().Write(mountPath+"/rotate/"+name, nil); err != nil {
		t.Fatalf("rotate/%s through %s after the failover: %v", name, other.id, err)
	}
	var rotated string
	for _, n := range []*vaultNode{leader, other} {
		s, err := n.client.Logical().Read(mountPath + "/creds/" + name)
		if err != nil || s == nil {
			t.Fatalf("creds/%s through %s after the rotate: %v", name, n.id, err)
		}
		tok := accessToken(t, s)
		if tok == tokens[name] {
			t.Errorf("creds/%s through %s after the rotate: still the old token", name, n.id)
		}
		if rotated != "" && tok != rotated {
			t.Errorf("creds/%s: the nodes serve different tokens after the rotate", name)
		}
		rotated = tok
	}
	if !env.sim.valid(t, vendor, rotated) {
		t.Errorf("creds/%s after the rotate: the simulator does not know the token", name)
	}
	if n := env.sim.tokenRequests(t, vendor) - mark; n != 1 {
		t.Errorf("rotate and two reads after the failover: the vendor saw %d token requests, want 1", n)
	}

	pro.check(t, leader, active)

	logBytes := c.scanLogs(t)

	t.Logf("%d reads per config across 3 nodes: 1 vendor request each; %s killed: %s elected after %s, creds served after %s (%d attempt(s)), 0 vendor requests; rotate after the failover: 1 request; %d bytes of node logs hold no secret",
		readsPerConfig, active.id, leader.id, elected.Round(time.Millisecond), served.Round(time.Millisecond), attempts, logBytes)
	if firstErr != nil {
		t.Logf("the new leader's first answer while taking over: %v", firstErr)
	}
}

// proactiveArm is a config whose token was read once before the failover.
type proactiveArm struct {
	name, vendor, token string
	// requests: the vendor's count after the write and the read.
	requests  int
	refreshAt time.Time // the readers' refresh window opens
}

// armProactive: 5-minute tokens from a 500 ms vendor. The read window
// opens at age 3m, the periodic's window at 1m45s: the new leader's ticks
// (one a minute) start within about a minute of the failover, and at
// least one falls in between.
func armProactive(t *testing.T, active, standby *vaultNode) *proactiveArm {
	t.Helper()
	a := &proactiveArm{name: "ha-proactive", vendor: vendorsim.ModelPortfolio}
	env.sim.setKnobs(t, a.vendor, map[string]any{"lifetime": "5m", "latency": "500ms"})
	if _, err := active.client.Logical().Write(mountPath+"/config/"+a.name, operatorConfig(t, a.vendor)); err != nil {
		t.Fatalf("writing config/%s: %v", a.name, err)
	}
	// Through a standby: forwarded, served and marked read by the active node.
	s, err := standby.client.Logical().Read(mountPath + "/creds/" + a.name)
	if err != nil || s == nil {
		t.Fatalf("creds/%s through %s: %v", a.name, standby.id, err)
	}
	a.token = accessToken(t, s)
	a.requests = env.sim.tokenRequests(t, a.vendor)
	st, err := active.client.Logical().Read(mountPath + "/status/" + a.name)
	if err != nil || st == nil {
		t.Fatalf("status/%s: %v", a.name, err)
	}
	a.refreshAt = statusTime(t, st.Data, "refresh_at")
	return a
}

// check, after the failover: wait (status reads mark nothing) until the
// new leader's periodic refreshed the token, then prove it did so before
// the read window opened and that a reader then asks nobody.
func (a *proactiveArm) check(t *testing.T, leader, old *vaultNode) {
	t.Helper()
	var st map[string]any
	limit := time.Until(a.refreshAt) + 90*time.Second
	if _, err := eventually(limit, func() error {
		s, err := leader.client.Logical().Read(mountPath + "/status/" + a.name)
		if err != nil || s == nil {
			return fmt.Errorf("status/%s: %v", a.name, err)
		}
		if st = s.Data; jsonNumber(t, st["grants"]) < 2 {
			return fmt.Errorf("status/%s: %v grants", a.name, st["grants"])
		}
		return nil
	}); err != nil {
		t.Fatalf("the new leader never refreshed the read token of %s: %v\nstatus: %v\n%s's log:\n%s\n%s's log (the old leader):\n%s",
			a.name, err, st, leader.id, logLinesWith(t, leader.log, "proactive", "read mark", "rollback manager", "active operation", "standby", "config="+a.name),
			old.id, logLinesWith(t, old.log, "read mark", "active operation", "config="+a.name))
	}
	minted := statusTime(t, st, "minted_at")
	if !minted.Before(a.refreshAt) {
		t.Errorf("%s: the new token was minted at %s, not before the readers' window opened at %s: a reader waited on the vendor",
			a.name, minted.Format(time.RFC3339), a.refreshAt.Format(time.RFC3339))
	}
	if n := env.sim.tokenRequests(t, a.vendor) - a.requests; n != 1 {
		t.Errorf("%s: %d vendor requests since the read, want 1 (the new leader's proactive refresh)", a.name, n)
	}
	s, err := leader.client.Logical().Read(mountPath + "/creds/" + a.name)
	if err != nil || s == nil {
		t.Fatalf("creds/%s through the new leader: %v", a.name, err)
	}
	if tok := accessToken(t, s); tok == a.token || !env.sim.valid(t, a.vendor, tok) {
		t.Errorf("creds/%s after the proactive refresh: not the new token", a.name)
	}
	if n := env.sim.tokenRequests(t, a.vendor) - a.requests; n != 1 {
		t.Errorf("creds/%s: the reader caused a vendor request (%d since the read)", a.name, n)
	}
	t.Logf("%s: refreshed by the new leader's periodic pass at %s, before the readers' window (%s); the next read asked nobody",
		a.name, minted.Format(time.RFC3339), a.refreshAt.Format(time.RFC3339))
}

// logLinesWith: the lines of a node's log that hold any of subs (the last
// 60), for a failure message that says what the plugin did.
func logLinesWith(t *testing.T, path string, subs ...string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		for _, sub := range subs {
			if strings.Contains(line, sub) {
				out = append(out, line)
				break
			}
		}
	}
	return strings.Join(out[max(0, len(out)-60):], "\n")
}
