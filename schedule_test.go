package oauthvendor

import (
	"context"
	"crypto/elliptic"
	"errors"
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/hashicorp/vault/sdk/helper/consts"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/testkit"
)

// The randomized schedule test: one backend (and a read-only standby over
// the same storage) driven by seeded schedules of config writes, partial
// writes of max_ttl and lease, deletes, reads, rotates, rotate-key steps,
// lists, periodic ticks, invalidations and clock jumps, for six configs
// that authenticate each their own way (body, basic, private_key_jwt
// verified against jwks/<name> fetched on an unknown kid,
// client_secret_jwt, basic after discovery, tls_client_auth through a
// TLS server that requires the client certificate). The vendor flaps
// (5xx, 429 with Retry-After, 401, 400 invalid_grant, stalls, slow
// answers); retries are on as in production, their waits passing on the
// fake clock; storage fails armed Puts, Gets, Deletes and Lists of every
// key. The invariants of API.md are checked after every read and at
// every token request (schedule_vendor_test.go).
//
// Two modes. Concurrent (TestRandomizedSchedules): a quarter of the
// operations, and every one while a request is held at the vendor, run on
// their own goroutines; a seed names the schedule but does not replay its
// interleaving. Serial (TestRandomizedSchedulesSerial): every step runs to
// its end before the next (no held requests), so a seed replays exactly:
// the test runs some seeds twice and compares their vendor request traces.
//
//	go test -race -run TestRandomizedSchedules .                          # the short default
//	SCHEDULE_SOAK=1 go test -race -run TestRandomizedSchedules -timeout 60m .
//	SCHEDULE_SEED=1234 SCHEDULE_SERIAL=1 go test -race -run TestRandomizedSchedulesSerial -v .
var (
	scheduleCount       = flag.Int("schedules", 0, "concurrent schedules TestRandomizedSchedules runs (default 100, 3000 with SCHEDULE_SOAK=1)")
	scheduleSerialCount = flag.Int("schedules.serial", 0, "serial schedules TestRandomizedSchedulesSerial runs (default 60, 3000 with SCHEDULE_SOAK=1)")
	scheduleSeed        = flag.Uint64("schedule.seed", 0, "run only the schedule of this seed (or SCHEDULE_SEED)")
	scheduleBase        = flag.Uint64("schedule.base", 1, "first seed of the run")
	scheduleNoRotateKey = flag.Bool("schedule.norotatekey", false, "leave out rotate-key steps")
)

// scheduleSeeds is the run's seeds: one given by -schedule.seed or
// SCHEDULE_SEED, else count from -schedule.base.
func scheduleSeeds(t *testing.T, count, def, soak int) []uint64 {
	seed := *scheduleSeed
	if env := os.Getenv("SCHEDULE_SEED"); env != "" {
		var err error
		if seed, err = strconv.ParseUint(env, 10, 64); err != nil {
			t.Fatalf("SCHEDULE_SEED=%q: %v", env, err)
		}
	}
	if seed != 0 {
		return []uint64{seed}
	}
	if count == 0 {
		count = def
		if os.Getenv("SCHEDULE_SOAK") != "" {
			count = soak
		}
	}
	seeds := make([]uint64, 0, count)
	for i := range count {
		seeds = append(seeds, *scheduleBase+uint64(i))
	}
	return seeds
}

func TestRandomizedSchedules(t *testing.T) {
	if os.Getenv("SCHEDULE_SERIAL") != "" {
		t.Skip("SCHEDULE_SERIAL: the serial test replays the seed")
	}
	seeds := scheduleSeeds(t, *scheduleCount, 100, 3000)
	tlsFront := newScheduleTLS(t)
	steps, cov := 0, coverage{}
	for _, seed := range seeds {
		w := newWorld(t, seed, false, tlsFront)
		w.run()
		steps += len(w.steps)
		cov.add(w)
		if msg := w.violation(); msg != "" {
			t.Fatalf("seed %d (concurrent): %s\nschedule:\n  %s\nrerun: SCHEDULE_SEED=%d go test -race -run 'TestRandomizedSchedules$' -v . (the interleaving may differ; SCHEDULE_SERIAL=1 replays the seed's serial schedule exactly)",
				seed, msg, strings.Join(w.steps, "\n  "), seed)
		}
	}
	t.Logf("%d concurrent schedules, %d steps; ran: %s", len(seeds), steps, cov)
}

// TestRandomizedSchedulesSerial runs serial schedules, and the first ten
// seeds (or the given one) twice: the vendor must see the same
// request sequence, or a seed would not reproduce its failure.
func TestRandomizedSchedulesSerial(t *testing.T) {
	seeds := scheduleSeeds(t, *scheduleSerialCount, 60, 3000)
	tlsFront := newScheduleTLS(t)
	steps, cov := 0, coverage{}
	for i, seed := range seeds {
		w := newWorld(t, seed, true, tlsFront)
		w.run()
		steps += len(w.steps)
		cov.add(w)
		if msg := w.violation(); msg != "" {
			t.Fatalf("seed %d (serial): %s\nschedule:\n  %s\nvendor trace:\n  %s\nreplay: SCHEDULE_SEED=%d SCHEDULE_SERIAL=1 go test -race -run TestRandomizedSchedulesSerial -v .",
				seed, msg, strings.Join(w.steps, "\n  "), strings.Join(w.trace, "\n  "), seed)
		}
		if len(seeds) == 1 {
			t.Logf("seed %d:\nschedule:\n  %s\nvendor trace:\n  %s", seed, strings.Join(w.steps, "\n  "), strings.Join(w.trace, "\n  "))
		}
		if i < 10 {
			again := newWorld(t, seed, true, tlsFront)
			again.run()
			if diff := firstDifference(w.trace, again.trace); diff != "" {
				t.Fatalf("seed %d (serial) did not replay: %s\nschedule:\n  %s", seed, diff, strings.Join(w.steps, "\n  "))
			}
			if len(w.trace) < 10 {
				t.Fatalf("seed %d: a trace of %d lines compares nothing", seed, len(w.trace))
			}
		}
	}
	t.Logf("%d serial schedules, %d steps; ran: %s", len(seeds), steps, cov)
}

func firstDifference(a, b []string) string {
	for i := range max(len(a), len(b)) {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return fmt.Sprintf("trace line %d: first run %q, second run %q", i, x, y)
		}
	}
	return ""
}

// world is one schedule's backends, vendor, storage and bookkeeping.
type world struct {
	t       *testing.T
	seed    uint64
	serial  bool
	rng     *mrand.Rand
	env     *testEnv
	standby *testEnv
	vendor  *fakeVendor
	store   *scheduleStorage
	tls     *scheduleTLS
	names   []string
	steps   []string
	trace   []string
	epoch   time.Time

	// schedule-only state (the schedule's goroutine)
	focus   string
	version map[string]int
	holding map[string]bool
	async   sync.WaitGroup

	mu        sync.Mutex
	failures  []string
	stepTrace []traced
	idOrd     map[string]int // name|identity -> its ordinal in the trace
	idSeq     map[string]int
	secrets   map[string][]string           // every client_secret the schedule wrote, by name
	jwks      map[string]jose.JSONWebKeySet // the vendor's copy of jwks/<name>
	jtis      map[string]bool
	lastFail  map[string]failedRequest
	// lastAttempt: per grant (its context), the failed attempt's time and
	// the Retry-After it asked.
	lastAttempt map[context.Context]failedRequest
	// opEpoch moves when an operator action (write, rotate, delete) on a
	// name starts and when it ends: either may legitimately reset the
	// back-off, so a failure on either side of one owes no gap.
	opEpoch map[string]int
	// acting counts operator actions in flight per name: a rotate's own
	// request may follow a failure at once. writing counts those that
	// verify (config writes, rotate-key): their grant stores no status.
	acting  map[string]int
	writing map[string]int
	// created is the vendor log length when a config was last created:
	// status counts cover the requests after it.
	created map[string]int
	// returned is, per name, the storage order of the newest credential
	// whose write has returned: no read that starts later gets an older one.
	returned map[string]int
	// rotated is, per name, the vendor log length when the last rotate
	// that returned began: no read that starts later gets a token minted
	// before it (rotate drops the cached token first).
	rotated map[string]int
	// deleteFailed: a delete returned a storage error; what it left is
	// cleaned by the next delete.
	deleteFailed map[string]bool
	statusLost   map[string]int // status Puts that failed since the config was created
	counts       map[string]int // how often each path ran (the run's log shows them)
}

// count notes that a path of interest ran.
func (w *world) count(what string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.counts[what]++
}

// coverage sums the worlds' counts for the log.
type coverage map[string]int

func (c coverage) add(w *world) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, v := range w.counts {
		c[k] += v
	}
}

func (c coverage) String() string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, c[k]))
	}
	return strings.Join(parts, ", ")
}

// failedRequest: the vendor answered a failure; the next request for the
// name must wait at least gap, unless an operator acted meanwhile.
type failedRequest struct {
	at    time.Time
	gap   time.Duration
	epoch int // operator actions on the name, started or ended, by then
}

func newWorld(t *testing.T, seed uint64, serial bool, tlsFront *scheduleTLS) *world {
	clock := newFakeClock()
	w := &world{
		t: t, seed: seed, serial: serial, rng: mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), tls: tlsFront,
		version: map[string]int{}, holding: map[string]bool{}, epoch: clock.Now(),
		idOrd: map[string]int{}, idSeq: map[string]int{}, secrets: map[string][]string{}, jwks: map[string]jose.JSONWebKeySet{}, jtis: map[string]bool{},
		lastFail: map[string]failedRequest{}, lastAttempt: map[context.Context]failedRequest{}, opEpoch: map[string]int{}, acting: map[string]int{}, writing: map[string]int{},
		created: map[string]int{}, returned: map[string]int{}, rotated: map[string]int{}, deleteFailed: map[string]bool{}, statusLost: map[string]int{}, counts: map[string]int{},
	}
	for _, k := range scheduleNames {
		w.names = append(w.names, k.name)
	}
	w.store = newScheduleStorage(w)
	w.env = newTestEnvWith(t, w.store, clock)
	w.vendor = newFakeVendor(clock)
	w.vendor.route = w.route
	w.vendor.authenticate = w.authenticate
	w.vendor.beforeAnswer = w.beforeAnswer
	w.vendor.afterAnswer = w.afterAnswer
	w.installVendor(w.env, false)
	// The standby: same storage, read-only; half the worlds also say so
	// in the replication state, the others learn it from storage.
	standby := newTestEnvWith(t, readOnlyView{w.store}, clock)
	if w.rng.IntN(2) == 0 {
		standby.sys.ReplicationStateVal = consts.ReplicationPerformanceStandby
	}
	w.installVendor(standby, true)
	w.mu.Lock()
	w.standby = standby
	w.mu.Unlock()
	return w
}

// standbyInvalidate tells the standby of a storage write, as Vault does.
func (w *world) standbyInvalidate(key string) {
	w.mu.Lock()
	sb := w.standby
	w.mu.Unlock()
	if sb != nil {
		sb.b.invalidate(context.Background(), key)
	}
}

func (w *world) failf(format string, args ...interface{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failures = append(w.failures, fmt.Sprintf(format, args...))
}

func (w *world) violation() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.failures) == 0 {
		return ""
	}
	return strings.Join(w.failures, "\n")
}

func (w *world) step(format string, args ...interface{}) {
	w.steps = append(w.steps, fmt.Sprintf("%3d "+format, append([]interface{}{len(w.steps)}, args...)...))
}

// run creates every config, plays 15-50 random steps, then joins, then
// checks that a healthy vendor and storage bring every config back.
func (w *world) run() {
	for _, name := range w.names {
		w.step("write-credential %s (setup)", name)
		w.writeCredential(name, w.credentialConfig(name))
	}
	if w.serial {
		w.flushTrace(false)
	}
	n := 15 + w.rng.IntN(36)
	for range n {
		w.randomStep()
		if w.violation() != "" {
			w.join()
			return
		}
	}
	w.join()
	w.recover()
}

// name picks a config, one time in three the one whose vendor mode was
// set last: its failures then meet reads, ticks and rotates soon enough
// to check the back-off.
func (w *world) name() string {
	if w.focus != "" && w.rng.IntN(3) == 0 {
		return w.focus
	}
	return w.names[w.rng.IntN(len(w.names))]
}

// mayBlock: a request is held at the vendor, so an operation that needs a
// config's lock must not run on the schedule's own goroutine.
func (w *world) mayBlock() bool {
	for _, h := range w.holding {
		if h {
			return true
		}
	}
	return false
}

func (w *world) randomStep() {
	unordered := false
	switch p := w.rng.IntN(100); {
	case p < 22:
		w.plugin("read", w.name(), w.read)
	case p < 24:
		w.plugin("read-cancelled", w.name(), w.readCancelled)
	case p < 33:
		name := w.name()
		cfg := w.credentialConfig(name)
		w.plugin("write-credential", name, func(n string) { w.writeCredential(n, cfg) })
	case p < 36:
		ttl := 30 + w.rng.IntN(600)
		w.plugin(fmt.Sprintf("write max_ttl=%ds", ttl), w.name(), func(n string) { w.writePartial(n, map[string]interface{}{"max_ttl": ttl}) })
	case p < 39:
		lease := w.rng.IntN(2) == 0
		w.plugin(fmt.Sprintf("write lease=%t", lease), w.name(), func(n string) { w.writePartial(n, map[string]interface{}{"lease": lease}) })
	case p < 43:
		w.plugin("delete", w.name(), w.delete)
	case p < 48:
		w.plugin("rotate", w.name(), w.rotate)
	case p < 52:
		w.rotateKeyStep()
	case p < 55:
		unordered = true
		w.plugin("tick", "", func(string) { _ = w.env.b.periodic(context.Background(), &logical.Request{Storage: w.env.storage}) })
	case p < 58:
		key := []string{configPrefix, tokenPrefix}[w.rng.IntN(2)] + w.name()
		w.plugin("invalidate "+key, "", func(string) { w.env.b.invalidate(context.Background(), key) })
	case p < 60:
		prefix := []string{"config/", "status/"}[w.rng.IntN(2)]
		w.plugin("list "+prefix, "", func(string) { w.list(prefix) })
	case p < 65:
		w.standbyStep()
	case p < 76:
		w.advanceClock()
	case p < 86:
		w.setVendor(w.name())
	case p < 93:
		w.armStorageFault(w.name())
	case p < 96:
		name := w.name()
		w.step("release %s", name)
		w.vendor.release(name)
	default:
		w.join()
	}
	if w.serial {
		// A reader that gave up left its grant running: it belongs to
		// this step.
		w.joinFlights()
		w.flushTrace(unordered)
	}
}

// plugin runs an operation on the schedule's goroutine, or (concurrent
// mode) on its own: always while a request is held, else one time in four.
func (w *world) plugin(op, name string, fn func(string)) {
	async := !w.serial && (w.mayBlock() || w.rng.IntN(4) == 0)
	mode := "sync"
	if async {
		mode = "async"
	}
	w.step("%s %s (%s)", op, name, mode)
	if !async {
		fn(name)
		return
	}
	w.async.Add(1)
	go func() {
		defer w.async.Done()
		fn(name)
	}()
}

// join lets every held request answer and waits for every operation.
func (w *world) join() {
	w.step("join")
	for name, h := range w.holding {
		if h {
			w.vendor.setMode(name, vendorMode{})
			w.holding[name] = false
		}
	}
	w.vendor.releaseAll()
	done := make(chan struct{})
	go func() { w.async.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		w.failf("operations still running 30 s after join: a deadlock")
		return
	}
	w.joinFlights()
	w.checkQuiescent()
}

// joinFlights waits for the grants that outlive their readers: a reader
// that gave up leaves its flight running, detached, for the others. A
// flight is registered before DoChan returns, so joining every key a
// config has had finds each one still running.
func (w *world) joinFlights() {
	for _, key := range w.store.flightKeys() {
		<-w.env.b.flights.DoChan(key, func() (interface{}, error) { return nil, nil })
	}
}

func (w *world) advanceClock() {
	var d time.Duration
	switch w.rng.IntN(3) {
	case 0:
		d = time.Duration(100+w.rng.IntN(5000)) * time.Millisecond
	case 1:
		d = time.Duration(10+w.rng.IntN(300)) * time.Second
	default:
		d = time.Duration(10+w.rng.IntN(50)) * time.Minute
	}
	w.step("clock +%s", d)
	w.env.clock.Advance(d)
}

func (w *world) setVendor(name string) {
	lifetimes := []time.Duration{5 * time.Second, 12 * time.Second, 90 * time.Second, 10 * time.Minute, time.Hour}
	var m vendorMode
	switch w.rng.IntN(9) {
	case 0, 1:
		m = vendorMode{lifetime: lifetimes[w.rng.IntN(len(lifetimes))]}
	case 2:
		m = vendorMode{status: 503}
	case 3:
		// Inside the request timeout: the grant's own retries wait it.
		m = vendorMode{status: 429, oauthError: "rate_limit_exceeded", retryAfter: fmt.Sprint(2 + w.rng.IntN(8))}
	case 4:
		m = vendorMode{status: 429, oauthError: "rate_limit_exceeded", retryAfter: fmt.Sprint(1 + w.rng.IntN(120))}
	case 5:
		m = vendorMode{status: 401, oauthError: "invalid_client"}
	case 6:
		m = vendorMode{hold: true}
		if w.serial {
			m = vendorMode{status: 503, retryAfter: fmt.Sprint(1 + w.rng.IntN(5))}
		}
	case 7:
		m = vendorMode{lifetime: lifetimes[w.rng.IntN(len(lifetimes))], transit: time.Duration(1+w.rng.IntN(3000)) * time.Millisecond}
	default:
		m = vendorMode{status: 400, oauthError: "invalid_grant"}
	}
	w.focus = name
	w.step("vendor %s %+v", name, m)
	w.vendor.setMode(name, m)
	w.holding[name] = m.hold || w.holding[name]
}

// armStorageFault fails the next one or two of one storage operation on
// one key: any of Put, Get, Delete of config/, token/, status/, a Put of
// the read mark, or a List of config/ or status/.
func (w *world) armStorageFault(name string) {
	k := 1 + w.rng.IntN(2)
	ops := []storageOp{opPut, opGet, opDelete}
	prefixes := []string{configPrefix, tokenPrefix, statusPrefix}
	var op storageOp
	var key string
	switch p := w.rng.IntN(12); {
	case p < 9:
		op, key = ops[p%3], prefixes[p/3]+name
	case p == 9:
		op, key = opPut, readMarkPrefix+name
	default:
		op, key = opList, []string{configPrefix, statusPrefix}[p-10]
	}
	w.step("storage: next %d %s of %s fail", k, op, key)
	w.store.arm(op, key, k)
}

// operatorActs marks an operator's action on a name, returning the mark of
// its end: a write or rotate asks the vendor at once, whatever the
// back-off said.
func (w *world) operatorActs(name string, verifies bool) (done func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.opEpoch[name]++
	w.acting[name]++
	if verifies {
		w.writing[name]++
	}
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.opEpoch[name]++
		w.acting[name]--
		if verifies {
			w.writing[name]--
		}
	}
}

// credentialConfig is the whole config of a name with a new credential:
// a new secret, a new private key, or a new client certificate.
func (w *world) credentialConfig(name string) map[string]interface{} {
	k := w.kind(name)
	w.version[name]++
	cfg := map[string]interface{}{"client_id": "id-" + name, "client_auth": k.auth, "verify": true}
	if k.issuer {
		cfg["issuer"] = "http://127.0.0.1/" + name
	} else {
		cfg["token_url"] = w.tokenURL(name)
	}
	switch k.auth {
	case authPrivateKeyJWT:
		// A key the vendor cannot know before it is stored: verify=false
		// (API.md), and the first grant makes the vendor fetch the JWKS.
		cfg["verify"] = false
		if w.version[name] > 1 {
			_, cfg["private_key"] = testkit.ECKeyPEM(w.t, elliptic.P256(), false)
		} else {
			cfg["key_type"] = "ec"
		}
	case authTLSClient:
		cert, key := w.tls.ca.issue(w.t, "id-"+name)
		cfg["tls_client_cert"], cfg["tls_client_key"], cfg["ca_cert"] = cert, key, w.tls.caPEM()
	default:
		// 32 bytes and more: HS256's key (RFC 7518 3.2).
		secret := fmt.Sprintf("s-%s-%d-%s", name, w.version[name], strings.Repeat("x", 32))
		cfg["client_secret"] = secret
		w.mu.Lock()
		w.secrets[name] = append(w.secrets[name], secret)
		w.mu.Unlock()
	}
	return cfg
}

// writeCredential writes the whole config with a new credential: a create
// when there is none, else a credential change that drops the cached token.
func (w *world) writeCredential(name string, cfg map[string]interface{}) {
	defer w.operatorActs(name, true)()
	resp, err := w.env.do(logical.UpdateOperation, "config/"+name, cfg)
	w.expectWrite("write credential", name, resp, err, false)
	if err == nil && (resp == nil || !resp.IsError()) {
		if stored := w.store.rawConfig(name); stored != nil {
			// The store's lock before the world's, never inside it: the
			// store counts its faults into the world (w.count).
			order := w.store.orderOf(identityOf(stored))
			w.mu.Lock()
			w.returned[name] = max(w.returned[name], order)
			delete(w.deleteFailed, name)
			w.mu.Unlock()
		}
	}
}

// writePartial changes fields that keep the cached token (a 400 when the
// config does not exist: token_url is required).
func (w *world) writePartial(name string, data map[string]interface{}) {
	defer w.operatorActs(name, false)()
	resp, err := w.env.do(logical.UpdateOperation, "config/"+name, data)
	w.expectWrite("partial write", name, resp, err, true)
}

func (w *world) delete(name string) {
	defer w.operatorActs(name, false)()
	if _, err := w.env.do(logical.DeleteOperation, "config/"+name, nil); err != nil {
		w.expectError("delete", name, err)
		w.mu.Lock()
		w.deleteFailed[name] = true
		w.mu.Unlock()
		return
	}
	w.mu.Lock()
	delete(w.deleteFailed, name)
	w.mu.Unlock()
	// Nothing of the config stays once the delete returns: it waited for
	// any grant in flight. (A concurrent create may have re-created it.)
	if w.store.raw(configPrefix+name) == nil {
		for _, p := range []string{tokenPrefix, statusPrefix} {
			if w.store.raw(p+name) != nil && w.store.raw(configPrefix+name) == nil {
				w.failf("after delete %s returned, %s%s is still in storage", name, p, name)
			}
		}
	}
}

func (w *world) rotate(name string) {
	defer w.operatorActs(name, false)()
	mark := len(w.vendor.allRequests())
	resp, err := w.env.do(logical.UpdateOperation, "rotate/"+name, nil)
	if err != nil {
		w.expectError("rotate", name, err)
		if strings.Contains(err.Error(), errInjected.Error()) || codedStatus(err) == 404 {
			return // storage failed before or while dropping: nothing promised
		}
	} else if resp == nil || resp.Data["expires_at"] == nil {
		w.failf("rotate %s answered %v", name, resp)
	}
	// Succeeded or the vendor failed: either way the old token is gone.
	if err != nil {
		w.count("rotate failed at the vendor")
	}
	w.mu.Lock()
	w.rotated[name] = max(w.rotated[name], mark)
	w.mu.Unlock()
}

// rotateKeyStep runs one rotate-key step on the private_key_jwt config.
func (w *world) rotateKeyStep() {
	if *scheduleNoRotateKey {
		w.advanceClock()
		return
	}
	// Mostly the step that can succeed now; sometimes one refused.
	steps := []string{"auto", "auto", "publish", "switch", "cancel"}
	if cfg := w.store.rawConfig("c"); cfg != nil && cfg.NextPrivateKey != "" {
		steps = []string{"switch", "switch", "switch", "cancel", "publish"}
	}
	step := steps[w.rng.IntN(len(steps))]
	w.plugin("rotate-key step="+step, "c", func(name string) { w.rotateKey(name, step) })
}

func (w *world) rotateKey(name, step string) {
	defer w.operatorActs(name, true)()
	data := map[string]interface{}{"step": step}
	if step == "auto" || step == "publish" {
		data["key_type"] = "ec"
	}
	resp, err := w.env.do(logical.UpdateOperation, "rotate-key/"+name, data)
	if err != nil {
		w.expectError("rotate-key "+step, name, err)
		return
	}
	if resp != nil && resp.IsError() {
		msg := resp.Error().Error()
		for _, ok := range []string{"already published", "no next key is published", "current key keeps signing"} {
			if strings.Contains(msg, ok) {
				return
			}
		}
		w.failf("rotate-key %s step=%s: %s", name, step, msg)
		return
	}
	w.count("rotate-key " + step + " ok")
	if kid, _ := resp.Data["current_kid"].(string); kid != "" && (step == "auto" || step == "switch") {
		order := w.store.orderOf("kid:" + kid) // the store's lock outside the world's
		w.mu.Lock()
		w.returned[name] = max(w.returned[name], order)
		w.mu.Unlock()
	}
}

func (w *world) list(prefix string) {
	resp, err := w.env.do(logical.ListOperation, prefix, nil)
	if err != nil {
		w.expectError("list", prefix, err)
		return
	}
	if resp == nil || resp.IsError() {
		w.failf("list %s answered %v", prefix, resp)
	}
}

// standbyStep reads or ticks on the read-only standby: it serves what
// storage holds or answers logical.ErrReadOnly, and never asks the vendor
// (its transport fails the test).
func (w *world) standbyStep() {
	switch w.rng.IntN(4) {
	case 0:
		w.plugin("standby tick", "", func(string) {
			_ = w.standby.b.periodic(context.Background(), &logical.Request{Storage: w.standby.storage})
		})
	case 1:
		w.plugin("standby read jwks", "c", func(name string) {
			_, err := w.standby.do(logical.ReadOperation, jwksPrefix+name, nil)
			if err != nil {
				w.expectError("standby jwks", name, err)
			}
		})
	default:
		w.plugin("standby read", w.name(), func(name string) { w.readWith(w.standby, context.Background(), name, "standby read") })
	}
}

func (w *world) read(name string) {
	w.readWith(w.env, context.Background(), name, "read")
}

func (w *world) readCancelled(name string) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w.readWith(w.env, ctx, name, "cancelled read")
}

// readWith checks what a reader got against the vendor's own records and
// the config before and after the read: the token, its expiry, the lease
// or (lease=false) the ttl, max_ttl, and that no replaced credential and
// no token a rotate dropped comes back.
func (w *world) readWith(env *testEnv, ctx context.Context, name, op string) {
	start := w.env.clock.Now()
	before := w.store.rawConfig(name)
	w.mu.Lock()
	minOrder, rotated := w.returned[name], w.rotated[name]
	epoch, quiet := w.opEpoch[name], w.acting[name] == 0
	w.mu.Unlock()
	resp, err := env.b.HandleRequest(ctx, &logical.Request{Operation: logical.ReadOperation, Path: "creds/" + name, Storage: env.storage})
	after := w.store.rawConfig(name)
	w.mu.Lock()
	quiet = quiet && epoch == w.opEpoch[name]
	w.mu.Unlock()
	if !quiet {
		// A write overlapped the read: the read may use the config
		// before or after it, whatever storage held at either end.
		before, after = nil, nil
	}
	if err != nil {
		w.expectError(op, name, err)
		return
	}
	if resp == nil || resp.IsError() {
		w.failf("%s %s: error response %v", op, name, resp)
		return
	}
	access, _ := resp.Data["access_token"].(string)
	issued, ok := w.vendor.token(access)
	if !ok || issued.name != name {
		w.failf("%s %s got a token the vendor never issued for it (%q)", op, name, access)
		return
	}
	if resp.Data["expires_at"].(string) > rfc3339(issued.expiresAt) {
		w.failf("%s %s: expires_at %v is after the vendor's expiry %s", op, name, resp.Data["expires_at"], rfc3339(issued.expiresAt))
	}
	if order := w.store.orderOf(issued.secret); order < minOrder {
		w.failf("%s %s got a token minted with credential #%d, replaced (by #%d) before the read began", op, name, order, minOrder)
	}
	if issued.idx < rotated {
		w.failf("%s %s got a token minted (vendor request %d) before a rotate/%s that returned before the read began (request %d): rotate drops the cached token first",
			op, name, issued.idx, name, rotated)
	}
	w.count(op + " served")
	w.checkTTL(op, name, resp, start, issued, before, after)
}

// checkTTL: the lease (or lease=false's ttl) is at least 2 s, ends before
// the token, and is capped by max_ttl; the answer has a lease exactly when
// the config says lease=true.
func (w *world) checkTTL(op, name string, resp *logical.Response, start time.Time, issued issuedToken, before, after *vendorConfig) {
	leaseOn := func(c *vendorConfig) bool { return c.Lease == nil || *c.Lease }
	var ttl time.Duration
	switch {
	case resp.Secret != nil:
		if before != nil && after != nil && !leaseOn(before) && !leaseOn(after) {
			w.failf("%s %s: a lease with lease=false", op, name)
		}
		ttl = resp.Secret.TTL
	default:
		if before != nil && after != nil && leaseOn(before) && leaseOn(after) {
			w.failf("%s %s: no lease with lease=true", op, name)
		}
		secs, ok := resp.Data["ttl"].(int64)
		if !ok {
			w.failf("%s %s (lease=false): ttl %v (%T), want whole seconds", op, name, resp.Data["ttl"], resp.Data["ttl"])
			return
		}
		// lease=false answers the lease's TTL less a second, since Vault
		// Agent re-reads a rotation_period answer at ttl+1s (timing.go):
		// what must hold of a lease holds of ttl+1s.
		ttl = time.Duration(secs)*time.Second + time.Second
	}
	what := "lease"
	if resp.Secret == nil {
		what = "lease=false ttl+1s"
	}
	if before != nil && after != nil && before.MaxTTL > 0 && after.MaxTTL > 0 && ttl == max(before.MaxTTL, after.MaxTTL) {
		w.count("max_ttl cap checked")
	}
	w.count("ttl checked: " + what)
	switch {
	case ttl < minLease:
		w.failf("%s %s: %s %s, less than %s (a TTL of 0 becomes the mount's 32 days)", op, name, what, ttl, minLease)
	case !start.Add(ttl).Before(issued.expiresAt):
		w.failf("%s %s at %s: %s of %s outlives the token (vendor expiry %s)", op, name, start, what, ttl, issued.expiresAt)
	}
	if before != nil && after != nil && before.MaxTTL > 0 && after.MaxTTL > 0 {
		if cap := max(before.MaxTTL, after.MaxTTL); ttl > cap {
			w.failf("%s %s: %s %s exceeds max_ttl %s", op, name, what, ttl, cap)
		}
	}
}

// expectError: every failure a reader or operator meets is a vendor error
// (502/504), a 404 (deleted), a 503 (the config kept changing), a storage
// fault, its own cancellation, or on the standby logical.ErrReadOnly.
func (w *world) expectError(op, name string, err error) {
	switch {
	case codedStatus(err) == 502 || codedStatus(err) == 504 || codedStatus(err) == 404 || codedStatus(err) == 503:
	case errors.Is(err, errInjected), strings.Contains(err.Error(), errInjected.Error()):
	case errors.Is(err, context.Canceled):
	case strings.HasPrefix(op, "standby") && err.Error() == logical.ErrReadOnly.Error():
		w.count("standby ErrReadOnly")
	default:
		w.failf("%s %s: unexpected error %T %v", op, name, err, err)
	}
}

func (w *world) expectWrite(op, name string, resp *logical.Response, err error, partial bool) {
	if err != nil {
		w.expectError(op, name, err)
		return
	}
	// A 400 is a partial write with no config (token_url is required) or a
	// write the vendor refused at verification.
	if resp == nil || !resp.IsError() {
		return
	}
	msg := resp.Error().Error()
	if strings.Contains(msg, "nothing was stored") || (partial && strings.Contains(msg, "token_url")) {
		return
	}
	w.failf("%s %s: %v", op, name, msg)
}

// checkRequest runs as each grant's first token request reaches the vendor.
func (w *world) checkRequest(r vendorRequest) {
	name, at := r.name, r.at
	cfg, tok := w.store.rawConfig(name), w.store.rawToken(name)
	w.mu.Lock()
	verifying := w.acting[name] > 0 // a config write's verify grant
	writing := w.writing[name] > 0
	w.mu.Unlock()
	// At most one token request per config per refresh cycle: none while
	// storage holds a token of the current config outside every window.
	if !verifying && cfg != nil && tok != nil && tok.usable(at, cfg.Generation) && tok.ExpiresAt.Sub(at) >= tok.proactiveWindow(cfg.RefreshBefore) {
		w.failf("vendor asked for a token of %s at %s while storage holds one valid until %s, outside its refresh windows", name, at, tok.ExpiresAt)
	}
	// A grant that is not a write's verification is recorded in status
	// before the vendor is asked: a node that cannot write storage learns
	// it there, and another node sees the grant in flight.
	if !writing && w.store.rawStatus(name).GrantStartedAt.IsZero() {
		w.failf("vendor asked for a token of %s while status/%s records no grant started", name, name)
	}
	// A failing vendor is not hammered.
	w.mu.Lock()
	lf, ok := w.lastFail[name]
	acted := w.opEpoch[name] != lf.epoch || w.acting[name] > 0
	w.mu.Unlock()
	if ok && !acted && at.Sub(lf.at) < lf.gap {
		w.failf("vendor asked for a token of %s %s after a failure that asked for %s", name, at.Sub(lf.at), lf.gap)
	}
}

// noteAnswer remembers a failed answer and the least gap the back-off owes
// it: the vendor's Retry-After, else a second (the back-off's floor, also
// while a still-valid token is served), or 30 s for rejected credentials;
// and, for the grant's own retries, the Retry-After alone.
func (w *world) noteAnswer(r vendorRequest, m vendorMode) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if r.status == 200 {
		delete(w.lastFail, r.name)
		return
	}
	if r.status == 0 {
		return
	}
	gap := time.Second
	if r.status == 401 || m.oauthError == "invalid_grant" {
		gap = backoffRejected // with or without a still-valid token
	}
	var ra time.Duration
	if m.retryAfter != "" {
		var secs int
		fmt.Sscan(m.retryAfter, &secs)
		ra = time.Duration(secs) * time.Second
		gap = max(gap, ra)
	}
	w.lastFail[r.name] = failedRequest{at: r.at, gap: gap, epoch: w.opEpoch[r.name]}
	w.lastAttempt[r.ctx] = failedRequest{at: r.at, gap: ra}
}

// noteCreated: status counts of a new config cover the requests from its
// creating write's verify grant on.
func (w *world) noteCreated(name, identity string) {
	all := w.vendor.allRequests()
	since := len(all)
	for i, r := range all {
		if r.name == name && r.secret == identity && !r.retry {
			since = i
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.created[name] = since
	w.statusLost[name] = 0
}

// checkQuiescent: with nothing in flight, storage holds nothing of a
// deleted config (unless a delete failed and was not retried), and
// status counts equal the grants the vendor saw, less the counts whose
// status Put failed.
func (w *world) checkQuiescent() {
	for _, name := range w.names {
		cfg := w.store.rawConfig(name)
		w.mu.Lock()
		since, lostStatus, deleteFailed := w.created[name], w.statusLost[name], w.deleteFailed[name]
		w.mu.Unlock()
		if cfg == nil {
			for _, p := range []string{tokenPrefix, statusPrefix} {
				if w.store.raw(p+name) != nil && !deleteFailed {
					w.failf("config %s is deleted but %s%s is in storage", name, p, name)
				}
			}
			continue
		}
		st := w.store.rawStatus(name)
		var seen, ok int
		for i, r := range w.vendor.allRequests() {
			if i >= since && r.name == name {
				if !r.retry {
					seen++
				}
				if r.status == 200 {
					ok++
				}
			}
		}
		if got := int(st.Grants + st.Failures); got > seen || got < seen-lostStatus {
			w.failf("status of %s counts %d grants and %d failures; the vendor saw %d grants (%d status Puts failed)", name, st.Grants, st.Failures, seen, lostStatus)
		}
		// A token the plugin could not store is a failure, not a grant.
		if lost := w.store.lostTokens(name); int(st.Grants) > ok-lost {
			w.failf("status of %s counts %d grants; the vendor issued %d tokens, %d of which could not be stored", name, st.Grants, ok, lost)
		}
	}
}

// recover: a healthy vendor and storage bring every config back once the
// longest back-off has passed; each read is then a valid token; a delete
// that failed is finished by another.
func (w *world) recover() {
	w.step("recover: vendor healthy, storage healthy, clock +1h")
	for _, name := range w.names {
		w.vendor.setMode(name, vendorMode{})
	}
	w.store.disarm()
	w.env.clock.Advance(time.Hour)
	for _, name := range w.names {
		w.mu.Lock()
		deleteFailed := w.deleteFailed[name]
		w.mu.Unlock()
		if w.store.rawConfig(name) == nil {
			if deleteFailed {
				w.delete(name)
			}
			continue
		}
		w.readWith(w.env, context.Background(), name, "read after recovery")
		if _, err := w.env.do(logical.ReadOperation, "creds/"+name, nil); err != nil {
			w.failf("after recovery, read %s: %v", name, err)
		}
	}
	w.checkQuiescent()
	if w.serial {
		w.flushTrace(false)
	}
}
