package oauthvendor

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
)

// TestSubjectChainSchedules: seeded schedules of concurrent reads,
// rotates, deletes, clock jumps and config writes that point subject_config of
// four configs at one another (cycles and self-references among them,
// verified or not), with the vendor's answers delayed by seeded yields so
// that grants, their subject reads and the writes interleave differently
// each seed. Under -race it holds that:
//   - every schedule ends (no grant waits on a write or grant that waits
//     on it): a watchdog dumps the goroutines and fails after 60 s;
//   - the stored subject_config graph, read under the writers' lock, is
//     acyclic with chains of at most maxSubjectChain at every snapshot;
//   - a refused write names subject_config (its chain, or a verify grant
//     whose subject chain met a deleted config);
//   - every exchange that reached the vendor carried a live token the
//     vendor issued to another config, and no read error or log shows one.
func TestSubjectChainSchedules(t *testing.T) {
	seeds := 40
	if os.Getenv("SCHEDULE_SOAK") != "" {
		seeds = 1000
	}
	var cov subjectCoverage
	for seed := range uint64(seeds) {
		runSubjectSchedule(t, seed+1, &cov)
		if t.Failed() {
			t.Fatalf("seed %d failed", seed+1)
		}
	}
	if cov.exchanges.Load() == 0 || cov.cycles.Load() == 0 || cov.accepted.Load() == 0 {
		t.Fatalf("the schedules never exchanged (%d), refused a cycle (%d) or stored an edge (%d)",
			cov.exchanges.Load(), cov.cycles.Load(), cov.accepted.Load())
	}
	t.Logf("%d exchanges, %d cycles refused, %d edges stored", cov.exchanges.Load(), cov.cycles.Load(), cov.accepted.Load())
}

type subjectCoverage struct{ exchanges, cycles, accepted atomic.Int64 }

var subjectNames = []string{"n0", "n1", "n2", "n3"}

func runSubjectSchedule(t *testing.T, seed uint64, cov *subjectCoverage) {
	env := newExchangeEnv(t)
	rng := mrand.New(mrand.NewPCG(seed, seed*7919))
	var rngMu sync.Mutex
	intn := func(n int) int {
		rngMu.Lock()
		defer rngMu.Unlock()
		return rng.IntN(n)
	}
	var issued []string // every token the vendor handed out, for the leak check
	env.v.beforeAnswer = func(vendorRequest) {
		for range intn(20) {
			runtime.Gosched()
		}
	}
	capture := env.v.capture
	env.v.capture = func(r *http.Request, body string) {
		capture(r, body)
		form, _ := url.ParseQuery(body)
		if form.Get("grant_type") != oauth.TokenExchangeGrantType {
			return
		}
		cov.exchanges.Add(1)
		name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/token")
		got, ok := env.v.token(form.Get("subject_token"))
		if !ok || got.name == name || !got.expiresAt.After(env.clock.Now()) {
			t.Errorf("seed %d: %s exchanged a token that is not another config's live token (%+v, known %v)", seed, name, got, ok)
		}
	}
	for _, n := range subjectNames {
		env.write("config/"+n, subjectConfig(n, "s3cret-"+n))
	}
	var wg sync.WaitGroup
	for range 60 {
		op, barrier := subjectStep(t, env, seed, intn, cov)
		if barrier {
			// Time moves between operations, never under one: a token
			// served as live must still be live when it is sent.
			waitOrDump(t, &wg, seed)
		}
		if barrier || intn(2) == 0 {
			op()
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); op() }()
	}
	waitOrDump(t, &wg, seed)
	checkSubjectGraph(t, env, seed)
	env.v.mu.Lock()
	for tok := range env.v.issued {
		issued = append(issued, tok)
	}
	env.v.mu.Unlock()
	for _, tok := range issued {
		if strings.Contains(env.logs.String(), tok) {
			t.Fatalf("seed %d: a token is in the logs", seed)
		}
	}
}

// waitOrDump waits for the operations in flight; after 60 s it dumps the
// goroutines and fails: something waits on what waits on it.
func waitOrDump(t *testing.T, wg *sync.WaitGroup, seed uint64) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = pprof.Lookup("goroutine").WriteTo(os.Stderr, 2)
		t.Fatalf("seed %d: the schedule did not end: a deadlock", seed)
	}
}

// subjectStep draws one operation of a schedule; barrier: it must run
// alone (a clock jump).
func subjectStep(t *testing.T, env *exchangeEnv, seed uint64, intn func(int) int, cov *subjectCoverage) (op func(), barrier bool) {
	name := subjectNames[intn(len(subjectNames))]
	switch k := intn(12); {
	case k < 4:
		return func() {
			_, err := env.do(logical.ReadOperation, "creds/"+name, nil)
			// Allowed: a subject's failure, a config changing under the
			// read, a config deleted.
			if err != nil && !strings.Contains(err.Error(), "subject_config") && !strings.Contains(err.Error(), "changed") &&
				codedStatus(err) != 404 {
				t.Errorf("seed %d: read %s: %v", seed, name, err)
			}
		}, false
	case k < 7:
		subject, verify := subjectNames[intn(len(subjectNames))], intn(2) == 0
		return func() {
			resp, err := env.do(logical.UpdateOperation, "config/"+name, exchangeConfig(name, subject, map[string]interface{}{"verify": verify}))
			switch {
			case err != nil:
				t.Errorf("seed %d: write %s -> %s: %v", seed, name, subject, err)
			case resp.IsError() && !strings.HasPrefix(resp.Error().Error(), "subject_config:") &&
				!strings.Contains(resp.Error().Error(), "no subject token: subject_config"): // a verify that met a deleted subject
				t.Errorf("seed %d: write %s -> %s: %v", seed, name, subject, resp.Error())
			case resp.IsError() && strings.Contains(resp.Error().Error(), "cycle"):
				cov.cycles.Add(1)
			case !resp.IsError():
				cov.accepted.Add(1)
			}
		}, false
	case k < 8:
		return func() {
			cfg := subjectConfig(name, "s3cret-"+name)
			cfg["subject_config"], cfg["grant_type"] = "", "client_credentials"
			env.write("config/"+name, cfg)
		}, false
	case k == 8:
		return func() { _, _ = env.do(logical.UpdateOperation, "rotate/"+name, nil) }, false
	case k == 9:
		return func() { checkSubjectGraph(t, env, seed) }, false
	case k == 10:
		return func() { env.mustOK(logical.DeleteOperation, "config/"+name, nil) }, false
	default:
		return func() {
			env.clock.Advance(time.Duration(intn(50)) * time.Minute)
		}, true
	}
}

// checkSubjectGraph reads every config's subject_config under the lock
// the writers of subject_config hold, so it sees the graph between
// writes: no cycle, no chain longer than maxSubjectChain.
func checkSubjectGraph(t *testing.T, env *exchangeEnv, seed uint64) {
	env.b.subjects.Lock()
	defer env.b.subjects.Unlock()
	edges := map[string]string{}
	for _, n := range subjectNames {
		cfg, err := loadConfig(context.Background(), env.storage, n)
		if err != nil {
			t.Errorf("seed %d: config %s: %v", seed, n, err)
			return
		}
		if cfg != nil { // deleted: no edge
			edges[n] = cfg.SubjectConfig
		}
	}
	for _, n := range subjectNames {
		chain := []string{n}
		for next := edges[n]; next != ""; next = edges[next] {
			chain = append(chain, next)
			if next == n || len(chain)-1 > maxSubjectChain {
				t.Errorf("seed %d: stored chain %s", seed, fmt.Sprint(chain))
				return
			}
		}
	}
}

// TestStoredSubjectCycleFailsFast: a cycle that reached storage without a
// write (restored by hand) fails the read naming subject_config, at once,
// rather than leaving two grants waiting on each other.
func TestStoredSubjectCycleFailsFast(t *testing.T) {
	env := newExchangeEnv(t)
	env.write("config/A", subjectConfig("A", "s"))
	env.write("config/B", exchangeConfig("B", "A", nil))
	a, _ := loadConfig(context.Background(), env.storage, "A")
	a.GrantType, a.SubjectConfig, a.ClientSecret = grantTokenExchange, "B", ""
	if err := storeConfig(context.Background(), env.storage, "A", a); err != nil {
		t.Fatal(err)
	}
	env.b.forgetLocked("A")
	done := make(chan error, 1)
	go func() { _, err := env.do(logical.ReadOperation, "creds/A", nil); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "A -> B -> A") {
			t.Fatalf("read of a stored cycle: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a stored cycle deadlocked the read")
	}
}
