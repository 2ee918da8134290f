//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/testproc"
)

// vaultCluster is a Vault HA cluster on integrated storage (raft), each
// node its own `vault server` process on loopback, set up the way an
// operator does it: init one node, unseal every node with the key, the
// others join through retry_join, the plugin registered and mounted once.
// It shares the package's simulator and plugin copy, nothing else: its own
// Vault processes, storage, root token, and log files in the work dir
// (ha-node<N>.log).
type vaultCluster struct {
	nodes     []*vaultNode
	rootToken string
	unsealKey string
}

type vaultNode struct {
	id     string // raft node_id, also the log name
	addr   string // API address, http://127.0.0.1:P (cluster port P+1)
	log    string
	proc   *testproc.Process
	client *api.Client
	// plugins are the plugin processes this node ran when it was killed:
	// they outlive a SIGKILLed Vault (nobody tells them), so the test ends
	// them, by pid.
	plugins []int
}

// startCluster starts a size-node cluster, waits for every node to be an
// unsealed raft voter, and mounts the plugin. Every process is stopped when
// the test ends, whatever happened.
func startCluster(t *testing.T, size int) *vaultCluster {
	t.Helper()
	start := time.Now()
	c := &vaultCluster{}
	base := filepath.Join(env.dir, "ha-"+randomHex(4))
	ports := map[int]bool{}
	for i := range size {
		n := &vaultNode{id: fmt.Sprintf("node%d", i+1)}
		n.log = filepath.Join(env.dir, "ha-"+n.id+".log")
		dir := filepath.Join(base, n.id)
		if err := os.MkdirAll(filepath.Join(dir, "raft"), 0o700); err != nil {
			t.Fatal(err)
		}
		join := ""
		if i > 0 {
			join = fmt.Sprintf("  retry_join {\n    leader_api_addr = %q\n  }\n", c.nodes[0].addr)
		}
		t.Cleanup(n.stop)
		// Another process may take the port between the probe and Vault's
		// bind: then Vault exits, and the node gets new ports.
		var err error
		for range 3 {
			port := clusterPort(t, ports)
			n.addr = "http://127.0.0.1:" + strconv.Itoa(port)
			// performance_multiplier = 5 (Raft's default timings): on a
			// loaded 2-core CI machine the production setting 1 lets a
			// missed heartbeat move the leadership, and every new active
			// node restarts Vault's one-minute rollback ticker, which
			// drives the periodic refresh this cluster is tested for.
			// Failover still takes seconds (a killed leader's followers
			// elect within the 5x election timeout).
			hcl := fmt.Sprintf(`storage "raft" {
  path    = %q
  node_id = %q
  performance_multiplier = 5
%s}
listener "tcp" {
  address     = "127.0.0.1:%d"
  tls_disable = true
}
api_addr         = %q
cluster_addr     = "http://127.0.0.1:%d"
disable_mlock    = true
plugin_directory = %q
ui               = false
`, filepath.Join(dir, "raft"), n.id, join, port, n.addr, port+1, env.pluginDir)
			cfg := filepath.Join(dir, "vault.hcl")
			if err := os.WriteFile(cfg, []byte(hcl), 0o600); err != nil {
				t.Fatal(err)
			}
			p, startErr := testproc.Start(env.dir, filepath.Base(n.log), env.vaultBin, "server", "-config="+cfg, "-log-level=trace")
			if startErr != nil {
				t.Fatalf("starting %s: %v", n.id, startErr)
			}
			n.proc = p
			if err = n.waitListening(60 * time.Second); err == nil || !p.Exited() {
				break
			}
		}
		if err != nil {
			t.Fatalf("%s: %v (see %s)", n.id, err, n.log)
		}
		n.client = nodeClient(t, n.addr)
		c.nodes = append(c.nodes, n)
	}
	t.Logf("cluster: %d nodes listening after %s", size, time.Since(start).Round(100*time.Millisecond))
	first := c.nodes[0]
	init, err := first.client.Sys().Init(&api.InitRequest{SecretShares: 1, SecretThreshold: 1})
	if err != nil {
		t.Fatalf("sys/init on %s: %v", first.id, err)
	}
	c.rootToken, c.unsealKey = init.RootToken, init.Keys[0]
	for _, n := range c.nodes {
		n.client.SetToken(c.rootToken)
	}
	if _, err := first.client.Sys().Unseal(c.unsealKey); err != nil {
		t.Fatalf("unsealing %s: %v", first.id, err)
	}
	if err := first.proc.WaitHTTP(first.addr+"/v1/sys/health", 60*time.Second); err != nil {
		t.Fatalf("%s never became active: %v (see %s)", first.id, err, first.log)
	}
	// Autopilot promotes a joined node to voter once it has been healthy
	// for server_stabilization_time (10s by default): shorter here, so that
	// the cluster is ready sooner.
	if _, err := first.client.Logical().Write("sys/storage/raft/autopilot/configuration",
		map[string]any{"server_stabilization_time": "2s"}); err != nil {
		t.Fatalf("autopilot configuration: %v", err)
	}
	// A joining node needs the key to answer the leader's challenge; until
	// retry_join has reached the leader the key is refused, so offer it
	// again until the node is unsealed.
	for _, n := range c.nodes[1:] {
		if _, err := eventually(90*time.Second, func() error {
			if n.proc.Exited() {
				return fmt.Errorf("exited: %v", n.proc.Err())
			}
			st, err := n.client.Sys().SealStatus()
			if err == nil && !st.Sealed {
				return nil
			}
			if err == nil && st.Progress == 0 {
				_, _ = n.client.Sys().Unseal(c.unsealKey)
			}
			return fmt.Errorf("still sealed (seal-status error: %v)", err)
		}); err != nil {
			t.Fatalf("%s did not join and unseal: %v (see %s)", n.id, err, n.log)
		}
	}
	t.Logf("cluster: all nodes unsealed after %s", time.Since(start).Round(100*time.Millisecond))
	c.waitVoters(t, first, size, 90*time.Second)

	// The plugin, the production way: by sha256 and version, the mount
	// pinned to that version. Once, through the active node.
	ctx := context.Background()
	if err := testproc.RegisterAndMount(ctx, first.client, pluginName, env.sha256, env.version, mountPath); err != nil {
		t.Fatalf("in the cluster: %v", err)
	}
	return c
}

// clusterPort finds a free port pair not handed to another node.
func clusterPort(t *testing.T, taken map[int]bool) int {
	t.Helper()
	for range 20 {
		p, err := testproc.FreePortPair()
		if err != nil {
			t.Fatal(err)
		}
		if !taken[p] && !taken[p+1] && !taken[p-1] {
			taken[p], taken[p+1] = true, true
			return p
		}
	}
	t.Fatal("no free loopback port pair for a cluster node")
	return 0
}

func nodeClient(t *testing.T, addr string) *api.Client {
	t.Helper()
	c, err := testproc.VaultClient(addr, "")
	if err != nil {
		t.Fatal(err)
	}
	c.SetClientTimeout(30 * time.Second)
	return c
}

// waitListening waits for the node's API to answer at all (sealed and
// uninitialised nodes answer sys/health with 501/503).
func (n *vaultNode) waitListening(limit time.Duration) error {
	client := httpClient(2 * time.Second)
	_, err := n.proc.Poll(limit, func() (string, bool) {
		resp, err := client.Get(n.addr + "/v1/sys/health")
		if err != nil {
			return "", false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return "", true
	})
	return err
}

// waitVoters polls the raft configuration until want servers are voters
// (autopilot promotes a joined node once it is stable).
func (c *vaultCluster) waitVoters(t *testing.T, via *vaultNode, want int, limit time.Duration) {
	t.Helper()
	start := time.Now()
	var last string
	if _, err := eventually(limit, func() error {
		servers, err := raftServers(via.client)
		if err != nil {
			return err
		}
		voters := 0
		var desc []string
		for _, s := range servers {
			if s.Voter {
				voters++
			}
			desc = append(desc, fmt.Sprintf("%s voter=%v leader=%v", s.NodeID, s.Voter, s.Leader))
		}
		last = strings.Join(desc, ", ")
		if voters != want || len(servers) != want {
			return fmt.Errorf("raft configuration: %s", last)
		}
		return nil
	}); err != nil {
		t.Fatalf("waiting for %d raft voters: %v", want, err)
	}
	t.Logf("raft: %s (after %s)", last, time.Since(start).Round(100*time.Millisecond))
}

type raftServer struct {
	NodeID  string `json:"node_id"`
	Address string `json:"address"`
	Leader  bool   `json:"leader"`
	Voter   bool   `json:"voter"`
}

func raftServers(c *api.Client) ([]raftServer, error) {
	s, err := c.Logical().Read("sys/storage/raft/configuration")
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, errors.New("sys/storage/raft/configuration: no answer")
	}
	cfg, _ := s.Data["config"].(map[string]any)
	raw, _ := cfg["servers"].([]any)
	var out []raftServer
	for _, r := range raw {
		m, _ := r.(map[string]any)
		id, _ := m["node_id"].(string)
		addr, _ := m["address"].(string)
		leader, _ := m["leader"].(bool)
		voter, _ := m["voter"].(bool)
		out = append(out, raftServer{NodeID: id, Address: addr, Leader: leader, Voter: voter})
	}
	return out, nil
}

// leader asks a node who leads: its own view of sys/leader.
func (n *vaultNode) leader() (*api.LeaderResponse, error) {
	return n.client.Sys().Leader()
}

// waitActive returns the node, among nodes, that says it is the active
// node and that every other live node among them names as leader.
func (c *vaultCluster) waitActive(t *testing.T, nodes []*vaultNode, limit time.Duration) *vaultNode {
	t.Helper()
	var active *vaultNode
	if _, err := eventually(limit, func() error {
		active = nil
		views := map[string]string{}
		for _, n := range nodes {
			l, err := n.leader()
			if err != nil {
				return fmt.Errorf("%s sys/leader: %v", n.id, err)
			}
			views[n.id] = l.LeaderAddress
			if l.IsSelf {
				active = n
			}
		}
		if active == nil {
			return fmt.Errorf("no node is active yet (leaders seen: %v)", views)
		}
		for id, addr := range views {
			if addr != active.addr {
				return fmt.Errorf("%s names leader %q, %s says it is active", id, addr, active.id)
			}
		}
		return nil
	}); err != nil {
		t.Fatalf("waiting for an active node: %v", err)
	}
	return active
}

// kill ends the node's Vault with SIGKILL (no step-down, no cleanup, as a
// host dying), then its plugin processes, which would otherwise linger.
func (n *vaultNode) kill(t *testing.T) {
	t.Helper()
	n.plugins = childPlugins(n.proc.Pid())
	if err := n.proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("killing %s: %v", n.id, err)
	}
	select {
	case <-n.proc.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("%s (pid %d) still running 10s after SIGKILL", n.id, n.proc.Pid())
	}
	n.killPlugins()
}

func (n *vaultNode) stop() {
	if n.proc != nil && !n.proc.Exited() {
		n.plugins = append(n.plugins, childPlugins(n.proc.Pid())...)
		n.proc.Stop()
	}
	n.killPlugins()
}

// killPlugins ends the recorded plugin processes still running from our
// plugin copy (checked again: a pid may have been reused).
func (n *vaultNode) killPlugins() {
	for _, pid := range n.plugins {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && strings.Contains(string(cmdline), filepath.Join(env.pluginDir, pluginName)) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	n.plugins = nil
}

// childPlugins lists the plugin processes a Vault process runs.
func childPlugins(vaultPID int) []int {
	out, _ := exec.Command("pgrep", "-P", strconv.Itoa(vaultPID), "-f", filepath.Join(env.pluginDir, pluginName)).Output()
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// scanLogs holds every node's log to the leak scan (noSecrets) and
// returns how many bytes it read.
func (c *vaultCluster) scanLogs(t *testing.T) int {
	t.Helper()
	var n int
	for _, node := range c.nodes {
		b, err := os.ReadFile(node.log)
		if err != nil {
			t.Fatal(err)
		}
		n += len(b)
		noSecrets(t, node.log, string(b))
	}
	return n
}
