//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// TestHAConsentSurvivesFailover: a user-delegated connection (authorization
// code + PKCE, refresh tokens the vendor rotates on every refresh and
// revokes the whole grant when one is used twice) on a 3-node raft cluster,
// and its active node SIGKILLed just before a refresh is due. The promises
// under test: a rotated refresh token is never lost, and the vendor sees
// one token request per refresh cycle, whatever the readers, nodes or
// leader changes.
//
//  1. Consent lands on a standby's callback (the redirect_uri registered
//     with the vendor): no Vault token, forwarded to the active node.
//  2. Readers through all three nodes, round robin, across refresh cycles
//     of 12 s tokens; after a rotation the active node dies 0.2-1.2 s
//     before the next refresh is due (status refresh_at has whole
//     seconds), so the refresh falls to the new leader, with the stored
//     refresh token only.
//  3. Failed reads are tolerated only from the kill until a node serves
//     its first read after it (counted, bounded), never one naming
//     consent; the new leader refreshes through 2 more rotations.
//  4. The vendor ran no grant twice (a reused refresh token would be
//     grant.error and grant.revoked), every access token it minted was
//     served (a duplicate refresh mints one nobody sees), the last is
//     live, and no node's log shows a refresh token.
func TestHAConsentSurvivesFailover(t *testing.T) {
	const (
		name            = "ha-consent"
		readers         = 3
		rotationsBefore = 1
		rotationsAfter  = 2
		// Raft's default timings (cluster.go): an election takes up to
		// ~20 s on a loaded machine.
		electionLimit = 60 * time.Second
		// Killed this long before status refresh_at, which is whole
		// seconds: the refresh is due 0.2-1.2 s after the kill.
		killLead = 200 * time.Millisecond
	)
	begin := time.Now()
	c := startCluster(t, 3)
	active := c.waitActive(t, c.nodes, 30*time.Second)
	standbys := otherNodes(c.nodes, active)
	callback := standbys[0].addr + "/v1/" + mountPath + "/callback"
	t.Logf("cluster up in %s: %s active; consent lands on %s", time.Since(begin).Round(100*time.Millisecond), active.id, standbys[0].id)

	// 1. Consent through the standby's callback.
	srv, clientID, secret := userVendor(t, name, oidcUserFlows{AccessTokenTTL: 12, RotateRefreshToken: true}, userClient, callback)
	cfg := userConfig(srv, clientID, secret)
	cfg["redirect_url"] = callback
	if _, err := active.client.Logical().Write(mountPath+"/config/"+name, withVerify(cfg, false)); err != nil {
		t.Fatalf("writing config/%s through %s: %v", name, active.id, err)
	}
	r := consentInBrowser(t, startConsentVia(t, active.client, srv, name, clientID, callback), callback, consentLogin)
	srv.issuedRefreshTokens(t)
	if r.Status != http.StatusOK {
		t.Fatalf("%s's callback answered the browser HTTP %d: %s", standbys[0].id, r.Status, r.Text)
	}
	noSecrets(t, "the standby's callback page", r.Text)
	for _, n := range c.nodes {
		if got := readConfigDataVia(t, n.client, name)["refresh_token_set"]; got != true {
			t.Fatalf("config/%s through %s after consent: refresh_token_set = %v, want true", name, n.id, got)
		}
	}

	// 2. Readers, round robin over the live nodes.
	var (
		mu   sync.Mutex
		live = c.nodes
		seq  atomic.Uint64
	)
	rd := startConsentReadersOn(t, name, readers, func() readTarget {
		mu.Lock()
		defer mu.Unlock()
		n := live[seq.Add(1)%uint64(len(live))]
		return readTarget{n.id, n.client}
	})
	if _, err := eventually(40*time.Second, func() error {
		if n := len(srv.issuedRefreshTokens(t)) - 1; n < rotationsBefore {
			return fmt.Errorf("%d refresh token rotations, want %d", n, rotationsBefore)
		}
		return nil
	}); err != nil {
		t.Fatalf("readers through 3 nodes before the failover: %v", err)
	}
	killAt := nextKillTime(t, active, name, killLead)
	time.Sleep(time.Until(killAt))
	mu.Lock()
	live = standbys
	mu.Unlock()
	issuedAtKill := len(srv.issuedRefreshTokens(t))
	killed := time.Now()
	active.kill(t)
	// The dead node ran no grant after the status read: a refresh it had
	// already sent would show here, and the kill would have missed its
	// point (the due refresh falls to the new leader).
	if n := srv.refreshesGranted(t, clientID); n != issuedAtKill-1 {
		t.Logf("the vendor ran %d refresh grants by the kill, %d rotations were counted just before it: the kill came after a refresh started", n, issuedAtKill-1)
	}
	leader := c.waitActive(t, standbys, electionLimit)
	elected := time.Since(killed)

	// 3. Every survivor serves again; then 2 rotations by the new leader.
	served := waitServed(t, rd, standbys, name, killed, electionLimit)
	if _, err := eventually(45*time.Second, func() error {
		if n := len(srv.issuedRefreshTokens(t)) - issuedAtKill; n < rotationsAfter {
			return fmt.Errorf("%d rotations since the failover, want %d", n, rotationsAfter)
		}
		return nil
	}); err != nil {
		st := readStatusVia(t, leader.client, name)
		t.Fatalf("the new leader %s: %v\nstatus: %v\n%s's log:\n%s", leader.id, err, st, leader.id,
			logLinesWith(t, leader.log, "config="+name, "refresh", "active operation"))
	}
	log, tokens := rd.outcomes()
	final := accessToken(t, mustRead(t, leader, name))
	tokens[final] = true

	// 4. The reads, the vendor's view, the nodes' logs.
	f := judgeReads(t, log, name, active.id, killed, served)
	for _, n := range standbys {
		if st := readStatusVia(t, n.client, name); st["state"] == "needs-consent" {
			t.Errorf("status/%s through %s after the failover: %v", name, n.id, st)
		}
		if got := readConfigDataVia(t, n.client, name)["refresh_token_set"]; got != true {
			t.Errorf("config/%s through %s after the failover: refresh_token_set = %v, want true", name, n.id, got)
		}
	}
	issued := srv.issuedRefreshTokens(t)
	refreshes := srv.refreshesGranted(t, clientID)
	vendorLog := srv.log(t)
	for _, bad := range []string{"grant.error", "grant.revoked"} {
		if n := strings.Count(vendorLog, bad); n > 0 {
			t.Errorf("the vendor logged %d %s (a refresh token used twice, or refused): %s", n, bad,
				logLinesWith(t, srv.logPath, "grant."))
		}
	}
	if distinct := len(setOf(issued)); distinct != len(issued) || len(issued) != refreshes+1 {
		t.Errorf("the vendor issued %d refresh tokens (%d distinct) for the code exchange and %d refresh grants: want one each",
			len(issued), distinct, refreshes)
	}
	// One access token per grant, each served: a second node or a second
	// refresh in one cycle would mint one no reader ever saw.
	if len(tokens) != refreshes+1 {
		t.Errorf("readers were served %d distinct access tokens; the vendor minted %d (the code exchange and %d refresh grants): a refresh nobody needed",
			len(tokens), refreshes+1, refreshes)
	}
	srv.mustBeActive(t, final, clientID)

	logBytes := c.scanLogs(t)
	t.Logf("%s killed %s before a refresh was due, after %d rotation(s); %s elected after %s; every survivor served again after %s; %d rotation(s) since",
		active.id, killLead, issuedAtKill-1, leader.id, elected.Round(time.Millisecond), f.window.Round(time.Millisecond), len(issued)-issuedAtKill)
	t.Logf("%d reads through 3 nodes (%d after the failover), %d failed in the election window, %d in flight on the killed node; %d refresh grants, %d access tokens served; %d bytes of node logs hold no refresh token; %s in all",
		len(log), f.after, f.windowErrs, f.killedErrs, refreshes, len(tokens), logBytes, time.Since(begin).Round(time.Second))
	if f.sample != "" {
		t.Logf("the last failed read the election excuses: %.300s", f.sample)
	}
}

func otherNodes(nodes []*vaultNode, not *vaultNode) []*vaultNode {
	var out []*vaultNode
	for _, n := range nodes {
		if n != not {
			out = append(out, n)
		}
	}
	return out
}

func setOf(ss []string) map[string]bool {
	m := map[string]bool{}
	for _, s := range ss {
		m[s] = true
	}
	return m
}

func mustRead(t *testing.T, n *vaultNode, name string) *api.Secret {
	t.Helper()
	s, err := n.client.Logical().Read(mountPath + "/creds/" + name)
	if err != nil || s == nil {
		t.Fatalf("creds/%s through %s: %v", name, n.id, err)
	}
	return s
}

// nextKillTime is lead before the next time a read will refresh (status
// refresh_at on the active node), at least a second from now: a refresh
// just done moves refresh_at on, so the status is read again.
func nextKillTime(t *testing.T, active *vaultNode, name string, lead time.Duration) time.Time {
	t.Helper()
	var at time.Time
	if _, err := eventually(30*time.Second, func() error {
		at = statusTime(t, readStatusVia(t, active.client, name), "refresh_at").Add(-lead)
		if time.Until(at) < time.Second {
			return fmt.Errorf("refresh_at %s is too close", at.Format(time.RFC3339))
		}
		return nil
	}); err != nil {
		t.Fatalf("status/%s on %s: %v", name, active.id, err)
	}
	return at
}

// waitServed waits until every node has served a read sent after the kill
// and returns when each did. A read told to consent again ends the wait
// at once: the refresh token was lost, no election excuses that.
func waitServed(t *testing.T, rd *consentReaders, nodes []*vaultNode, name string, killed time.Time, limit time.Duration) map[string]time.Time {
	t.Helper()
	served := map[string]time.Time{}
	deadline := killed.Add(limit)
	for {
		rd.mu.Lock()
		var waiting, last []string
		for _, o := range rd.log {
			if !o.sent.After(killed) {
				continue
			}
			if lostConsent(o.err, name) {
				rd.mu.Unlock()
				t.Fatalf("the refresh token was lost across the failover: a read through %s, %s after the kill: %s", o.node, o.sent.Sub(killed).Round(time.Millisecond), oneLine(o.err))
			}
			if o.err == "" && served[o.node].IsZero() {
				served[o.node] = o.answer
			}
			if o.err != "" {
				last = append(last, o.node+": "+oneLine(o.err))
			}
		}
		rd.mu.Unlock()
		for _, n := range nodes {
			if served[n.id].IsZero() {
				waiting = append(waiting, n.id)
			}
		}
		if len(waiting) == 0 {
			return served
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v served no read in the %s after the kill; the last failed reads:\n%s",
				waiting, limit, strings.Join(last[max(0, len(last)-5):], "\n"))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// lostConsent: a read was told the connection needs consent again.
func lostConsent(err, name string) bool {
	return strings.Contains(err, "consent/"+name) || strings.Contains(err, "needs consent")
}

// oneLine is a Vault client error on one line (it spans several).
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// readFigures: reads answered after the failover, and failed reads the
// failover excuses.
type readFigures struct {
	after, windowErrs, killedErrs int
	window                        time.Duration // kill to the last survivor serving again
	sample                        string        // the last failed read excused
}

// judgeReads fails the test on a failed read outside the election window:
// answered before the kill, or sent through a survivor after it served
// again; and on any read told to consent again, in the window or not.
func judgeReads(t *testing.T, log []readOutcome, name, killedNode string, killed time.Time, served map[string]time.Time) readFigures {
	t.Helper()
	var f readFigures
	var bad []string
	for _, at := range served {
		f.window = max(f.window, at.Sub(killed))
	}
	for _, o := range log {
		back, survivor := served[o.node]
		if survivor && o.sent.After(back) {
			f.after++
		}
		switch {
		case o.err == "":
		case lostConsent(o.err, name):
			bad = append(bad, "told to consent again: "+o.node+": "+oneLine(o.err))
		case o.answer.Before(killed):
			bad = append(bad, "before the kill: "+o.node+": "+oneLine(o.err))
		case o.node == killedNode:
			f.killedErrs++ // in flight when its node died
		case survivor && o.sent.After(back):
			bad = append(bad, fmt.Sprintf("%s after it served again (%s after the kill): %s", o.node, o.sent.Sub(killed).Round(time.Millisecond), oneLine(o.err)))
		default:
			f.windowErrs++
			f.sample = o.node + ": " + oneLine(o.err)
		}
	}
	if len(bad) > 0 {
		t.Errorf("%d failed reads outside the election window:\n%s", len(bad), strings.Join(bad[:min(len(bad), 10)], "\n"))
	}
	if f.after == 0 {
		t.Error("no read after the failover: the readers did not run")
	}
	return f
}
