//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"reflect"
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

	var logBytes int
	for _, n := range c.nodes {
		b, err := os.ReadFile(n.log)
		if err != nil {
			t.Fatal(err)
		}
		logBytes += len(b)
		noSecrets(t, n.log, string(b))
	}

	t.Logf("%d reads per config across 3 nodes: 1 vendor request each; %s killed: %s elected after %s, creds served after %s (%d attempt(s)), 0 vendor requests; rotate after the failover: 1 request; %d bytes of node logs hold no secret",
		readsPerConfig, active.id, leader.id, elected.Round(time.Millisecond), served.Round(time.Millisecond), attempts, logBytes)
	if firstErr != nil {
		t.Logf("the new leader's first answer while taking over: %v", firstErr)
	}
}
