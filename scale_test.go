package oauthvendor

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/helper/locksutil"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/testkit"
)

// Tests for a mount with many configs (issue 12): no config waits on
// another's vendor, a periodic pass that is bounded, costs O(due) and
// survives a stall and Vault's cancellation, read marks that survive a
// leader change, transports shared by TLS setting.

// stripeMate is a name that shared a locksutil stripe with name (the 256
// stripes the name locks replaced), so a return to striped locks fails
// the test below.
func stripeMate(t *testing.T, name string) string {
	t.Helper()
	for i := range 100000 {
		if n := fmt.Sprintf("mate-%d", i); locksutil.LockIndexForKey(n) == locksutil.LockIndexForKey(name) {
			return n
		}
	}
	t.Fatal("no name shares the stripe")
	return ""
}

// TestStalledVendorHoldsNoOtherConfig: while one config's grant waits on
// a vendor that does not answer, a config that shared its lock stripe is
// read cold, written (verified), rotated and reported on.
func TestStalledVendorHoldsNoOtherConfig(t *testing.T) {
	env := newFakeEnv(t)
	mate := stripeMate(t, "stalled")
	env.configure("stalled", "s")
	env.configure(mate, "m")
	env.vendor.setMode("stalled", vendorMode{hold: true})

	held := make(chan error, 1)
	go func() { held <- env.readErr("stalled") }()
	if got := <-env.vendor.arrived; got != "stalled" {
		t.Fatalf("%s reached the vendor first", got)
	}

	first := env.read("creds/" + mate).Data["access_token"]
	if resp, err := env.verifiedWrite(mate, fakeVendorConfig(mate, "m2")); err != nil || resp.IsError() {
		t.Fatalf("verified write of %s: %v %v", mate, err, resp)
	}
	env.write("rotate/"+mate, nil)
	if got := env.read("creds/" + mate).Data["access_token"]; got == first {
		t.Fatal("the rotate did not replace the token")
	}
	env.read("status/stalled")
	select {
	case err := <-held:
		t.Fatalf("the stalled read ended before its vendor answered: %v", err)
	default:
	}
	if n := len(env.vendor.requests(mate)); n != 3 {
		t.Fatalf("%s: %d vendor requests, want 3 (read, verify, rotate)", mate, n)
	}
	env.vendor.release("stalled")
	if err := <-held; err != nil {
		t.Fatalf("the stalled read, once released: %v", err)
	}
}

// readAll configures and reads n configs named prefix-i, so that each
// holds a read token.
func readAll(env *fakeEnv, prefix string, n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%d", prefix, i)
		env.configure(names[i], "s")
		env.read("creds/" + names[i])
	}
	return names
}

// intoProactiveWindow: 1 h tokens are due for the periodic with 17 m
// left and for readers with 15 m left.
const intoProactiveWindow = 44 * time.Minute

func grantsOf(env *fakeEnv, name string) uint64 {
	env.t.Helper()
	g, _ := env.status(name)["grants"].(uint64)
	return g
}

// TestPeriodicPassBoundedAndStallTolerant: the pass runs at most
// refreshWorkers grants at once; a vendor that does not answer holds one
// worker while every other due token is refreshed; when Vault cancels the
// pass, the grant under way still finishes and records its status.
func TestPeriodicPassBoundedAndStallTolerant(t *testing.T) {
	env := newFakeEnv(t)
	names := readAll(env, "due", 3*refreshWorkers)
	slow := names[0]
	env.clock.Advance(intoProactiveWindow)

	var inflight, peak atomic.Int64
	env.vendor.onRequest = func(string, string, time.Time) {
		n := inflight.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
	}
	env.vendor.onAnswer = func(string, vendorMode, time.Time) { inflight.Add(-1) }
	for _, n := range names {
		env.vendor.setMode(n, vendorMode{hold: true})
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- env.b.periodic(ctx, &logical.Request{Storage: env.storage}) }()
	// The first refreshWorkers arrive and are held; the rest are released
	// as they arrive, the slow one never until the end.
	arrived := map[string]bool{}
	for len(arrived) < len(names) {
		n := <-env.vendor.arrived
		arrived[n] = true
		if len(arrived) == refreshWorkers {
			for m := range arrived {
				if m != slow {
					env.vendor.setMode(m, vendorMode{})
					env.vendor.release(m)
				}
			}
		} else if len(arrived) > refreshWorkers && n != slow {
			env.vendor.setMode(n, vendorMode{})
			env.vendor.release(n)
		}
	}
	// Every other token reached its vendor while the slow one was held.
	cancel() // Vault gives up on the pass
	select {
	case <-done:
		t.Fatal("the pass returned while a grant it started was under way")
	default:
	}
	env.vendor.release(slow)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if p := peak.Load(); p > refreshWorkers {
		t.Fatalf("%d grants at once, want at most %d", p, refreshWorkers)
	}
	for _, n := range names {
		if g := grantsOf(env, n); g != 2 {
			t.Errorf("%s: %d grants recorded, want 2 (its proactive refresh)", n, g)
		}
	}
}

// TestCancelledPassStartsNothingMore: once Vault cancels the pass, no
// further grant starts; the ones under way are recorded, and the next pass
// refreshes the rest.
func TestCancelledPassStartsNothingMore(t *testing.T) {
	env := newFakeEnv(t)
	names := readAll(env, "due", 2*refreshWorkers)
	env.clock.Advance(intoProactiveWindow)
	for _, n := range names {
		env.vendor.setMode(n, vendorMode{hold: true})
	}
	before := len(env.vendor.allRequests())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- env.b.periodic(ctx, &logical.Request{Storage: env.storage}) }()
	started := map[string]bool{}
	for range refreshWorkers {
		started[<-env.vendor.arrived] = true
	}
	cancel()
	for _, n := range names {
		env.vendor.setMode(n, vendorMode{})
	}
	env.vendor.releaseAll()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(env.vendor.allRequests()) - before; n != refreshWorkers {
		t.Fatalf("%d grants after the cancellation, want the %d under way", n, refreshWorkers)
	}
	for _, n := range names {
		if want := map[bool]uint64{true: 2, false: 1}[started[n]]; grantsOf(env, n) != want {
			t.Errorf("%s: %d grants, want %d", n, grantsOf(env, n), want)
		}
	}
	if err := env.b.periodic(context.Background(), &logical.Request{Storage: env.storage}); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if g := grantsOf(env, n); g != 2 {
			t.Errorf("%s after the next pass: %d grants, want 2", n, g)
		}
	}
}

// keyCountingStorage counts Gets and Puts per key.
type keyCountingStorage struct {
	logical.InmemStorage
	mu         sync.Mutex
	gets, puts map[string]int
	lists      int
}

func newKeyCountingStorage() *keyCountingStorage {
	return &keyCountingStorage{gets: map[string]int{}, puts: map[string]int{}}
}

func (s *keyCountingStorage) Get(ctx context.Context, k string) (*logical.StorageEntry, error) {
	s.mu.Lock()
	s.gets[k]++
	s.mu.Unlock()
	return s.InmemStorage.Get(ctx, k)
}

func (s *keyCountingStorage) Put(ctx context.Context, e *logical.StorageEntry) error {
	s.mu.Lock()
	s.puts[e.Key]++
	s.mu.Unlock()
	return s.InmemStorage.Put(ctx, e)
}

func (s *keyCountingStorage) List(ctx context.Context, prefix string) ([]string, error) {
	s.mu.Lock()
	s.lists++
	s.mu.Unlock()
	return s.InmemStorage.List(ctx, prefix)
}

func (s *keyCountingStorage) reset() (gets, puts map[string]int, lists int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gets, puts, lists = s.gets, s.puts, s.lists
	s.gets, s.puts, s.lists = map[string]int{}, map[string]int{}, 0
	return gets, puts, lists
}

// TestPeriodicPassCostsODue: with 100 read tokens of which 10 are due,
// the pass reads storage only for those 10 (and lists nothing after the
// first pass), and asks the vendor 10 times.
func TestPeriodicPassCostsODue(t *testing.T) {
	s := newKeyCountingStorage()
	env := newFakeEnvWith(t, s, newFakeClock())
	for i := range 100 {
		name := fmt.Sprintf("c-%d", i)
		if i%10 != 0 {
			env.vendor.setMode(name, vendorMode{lifetime: 10 * time.Hour})
		}
		env.configure(name, "s")
		env.read("creds/" + name)
	}
	req := &logical.Request{Storage: env.storage}
	if err := env.b.periodic(context.Background(), req); err != nil { // the one-off load
		t.Fatal(err)
	}
	env.clock.Advance(intoProactiveWindow)
	before := len(env.vendor.allRequests())
	s.reset()
	if err := env.b.periodic(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	gets, _, lists := s.reset()
	if n := len(env.vendor.allRequests()) - before; n != 10 {
		t.Fatalf("%d vendor requests, want 10", n)
	}
	if lists != 0 {
		t.Fatalf("%d Lists in a later pass, want 0", lists)
	}
	total := 0
	for k, n := range gets {
		total += n
		name := k[strings.Index(k, "/")+1:]
		var i int
		if _, err := fmt.Sscanf(name, "c-%d", &i); err != nil || i%10 != 0 {
			t.Errorf("the pass read %s, a config that is not due", k)
		}
	}
	if total > 3*10 {
		t.Fatalf("%d storage reads for 10 due tokens", total)
	}
	t.Logf("100 configs, 10 due: %d storage reads, %d vendor requests", total, 10)
}

// TestReadMarkSurvivesLeaderChange: a new active node (a new backend over
// the same storage) refreshes ahead of readers the tokens that were read
// on the old one, and only those, without anybody reading on it first. The
// mark is written once per token lifetime, whatever the number of reads.
func TestReadMarkSurvivesLeaderChange(t *testing.T) {
	s := newKeyCountingStorage()
	clock := newFakeClock()
	old := newFakeEnvWith(t, s, clock)
	for _, n := range []string{"read-1", "read-2", "unread-1", "unread-2"} {
		old.configure(n, "s")
		old.write("rotate/"+n, nil) // a token, not read
	}
	s.reset()
	for range 50 {
		old.read("creds/read-1")
		old.read("creds/read-2")
	}
	_, puts, _ := s.reset()
	for _, n := range []string{"read-1", "read-2"} {
		if puts[readMarkPrefix+n] != 1 {
			t.Fatalf("50 reads of %s wrote its read mark %d times, want 1", n, puts[readMarkPrefix+n])
		}
	}
	if len(puts) != 2 {
		t.Fatalf("cache hits wrote %v", puts)
	}

	clock.Advance(intoProactiveWindow)
	leader := newFakeEnvWith(t, s, clock)
	leader.vendor = old.vendor
	old.vendor.install(leader.b)
	before := map[string]int{}
	for _, n := range []string{"read-1", "read-2", "unread-1", "unread-2"} {
		before[n] = len(old.vendor.requests(n))
	}
	if err := leader.b.periodic(context.Background(), &logical.Request{Storage: s}); err != nil {
		t.Fatal(err)
	}
	for n, want := range map[string]int{"read-1": 1, "read-2": 1, "unread-1": 0, "unread-2": 0} {
		if got := len(old.vendor.requests(n)) - before[n]; got != want {
			t.Errorf("%s: the new leader's pass made %d vendor requests, want %d", n, got, want)
		}
	}
	// Readers on the new leader get the refreshed token from memory.
	for _, n := range []string{"read-1", "read-2"} {
		reqs := len(old.vendor.requests(n))
		tok := leader.read("creds/" + n).Data["access_token"].(string)
		if issued, ok := old.vendor.token(tok); !ok || issued.expiresAt.Sub(clock.Now()) < time.Hour-time.Minute {
			t.Errorf("%s: the reader got %s, not the token the pass minted", n, tok)
		}
		if len(old.vendor.requests(n)) != reqs {
			t.Errorf("%s: the reader waited on the vendor", n)
		}
	}
}

// TestDeletedConfigsMarkIsDropped: a mark left by a reader racing a
// delete is removed by the next load, not loaded.
func TestDeletedConfigsMarkIsDropped(t *testing.T) {
	env := newFakeEnv(t)
	if err := putJSON(context.Background(), env.storage, readMarkPrefix+"gone", "mark", &readMark{Token: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := env.b.periodic(context.Background(), &logical.Request{Storage: env.storage}); err != nil {
		t.Fatal(err)
	}
	if e, _ := env.storage.Get(context.Background(), readMarkPrefix+"gone"); e != nil {
		t.Fatal("the mark of a deleted config is still in storage")
	}
	if env.b.cached("gone") != nil {
		t.Fatal("a deleted config was loaded")
	}
}

// TestTransportsSharedByTLSSettings: configs share one transport per
// distinct CA; a transport nobody uses any more is released; verifying a
// write releases its transport too.
func TestTransportsSharedByTLSSettings(t *testing.T) {
	env := newFakeEnv(t)
	ca1, ca2 := testkit.CAPEM(t), testkit.CAPEM(t)
	for i := range 60 {
		cfg := fakeVendorConfig(fmt.Sprintf("c-%d", i), "s")
		switch i % 3 {
		case 1:
			cfg["ca_cert"] = ca1
		case 2:
			cfg["ca_cert"] = ca2
		}
		env.write("config/"+fmt.Sprintf("c-%d", i), cfg)
		env.read(fmt.Sprintf("creds/c-%d", i))
	}
	if n := env.b.transports.Size(); n != 3 {
		t.Fatalf("60 configs with 3 TLS settings use %d transports", n)
	}
	for i := range 60 {
		if i%3 == 2 {
			if _, err := env.do(logical.DeleteOperation, fmt.Sprintf("config/c-%d", i), nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := env.b.transports.Size(); n != 2 {
		t.Fatalf("after deleting every config with the second CA: %d transports, want 2", n)
	}
	if resp, err := env.verifiedWrite("v", map[string]interface{}{
		"token_url": "http://127.0.0.1/v/token", "client_id": "id", "client_secret": "s", "ca_cert": ca2,
	}); err != nil || resp.IsError() {
		t.Fatalf("verified write: %v %v", err, resp)
	}
	if n := env.b.transports.Size(); n != 2 {
		t.Fatalf("after a verified write (no entry yet): %d transports, want 2", n)
	}
	env.b.clean(context.Background())
	if n := env.b.transports.Size(); n != 0 {
		t.Fatalf("after Clean: %d transports", n)
	}
}

// BenchmarkWarmConfigs: the heap one warm config costs (its entry,
// connection, client, logger, redactor, cached token), from N configs
// written and read once; storageB/config is the part of it InmemStorage
// holds (in Vault, that is Vault's memory, not the plugin's). A heap
// profile of the warm configs, taken while they are alive:
//
//	WARM_HEAP_PROFILE=/tmp/warm.pprof go test -run '^$' -bench BenchmarkWarmConfigs .
//	go tool pprof -sample_index=inuse_space -top /tmp/warm.pprof
func BenchmarkWarmConfigs(b *testing.B) {
	const n = 2000
	for b.Loop() {
		b.StopTimer()
		env := newTestEnvWith(b, &logical.InmemStorage{}, newFakeClock())
		env.b.Backend.Logger().SetLevel(hclog.Info) // the test's log buffer is not the plugin's
		v := newFakeVendor(env.clock)
		v.install(env.b)
		b.StartTimer()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range n {
			name := fmt.Sprintf("tenant-%05d", i)
			if _, err := env.do(logical.UpdateOperation, "config/"+name, fakeVendorConfig(name, "secret-"+name)); err != nil {
				b.Fatal(err)
			}
			if _, err := env.do(logical.ReadOperation, "creds/"+name, nil); err != nil {
				b.Fatal(err)
			}
		}
		// What stays is the entries and the storage (InmemStorage holds
		// config, token, status and read mark of each config).
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heapB/config")
		b.ReportMetric(float64(storedBytes(b, env.storage))/n, "storageB/config")
		if path := os.Getenv("WARM_HEAP_PROFILE"); path != "" {
			writeHeapProfile(b, path)
		}
		b.ReportMetric(float64(env.b.transports.Size()), "transports")
		runtime.KeepAlive(env)
	}
}

func storedBytes(tb testing.TB, s logical.Storage) int {
	keys, err := logical.CollectKeys(context.Background(), s)
	if err != nil {
		tb.Fatal(err)
	}
	total := 0
	for _, k := range keys {
		e, err := s.Get(context.Background(), k)
		if err != nil || e == nil {
			tb.Fatalf("%s: %v", k, err)
		}
		// The key twice (the map and the entry), the value, the entry.
		total += 2*len(k) + len(e.Value) + 64
	}
	return total
}

func writeHeapProfile(tb testing.TB, path string) {
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		tb.Fatal(err)
	}
}
