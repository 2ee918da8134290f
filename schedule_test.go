package oauthvendor

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// The randomized schedule test: one backend driven by seeded schedules of
// concurrent config writes, deletes, reads, rotates, periodic ticks,
// invalidations and clock jumps, against a vendor that flaps (5xx, 429
// with Retry-After, 401, stalls, slow answers) and a storage that fails
// some Gets and Puts. The invariants of API.md are checked after every
// step and, for the vendor's view, at every token request. A failure
// prints its seed and schedule; -schedule.seed reproduces it.
//
//	go test -race -run TestRandomizedSchedules -schedules 100000 .
//	go test -race -run TestRandomizedSchedules -schedule.seed 1234 -v .
var (
	scheduleCount = flag.Int("schedules", 2000, "randomized schedules TestRandomizedSchedules runs")
	scheduleSeed  = flag.Uint64("schedule.seed", 0, "run only the schedule of this seed")
	scheduleBase  = flag.Uint64("schedule.base", 1, "first seed of the run")
)

func TestRandomizedSchedules(t *testing.T) {
	seeds := make([]uint64, 0, *scheduleCount)
	if *scheduleSeed != 0 {
		seeds = append(seeds, *scheduleSeed)
	} else {
		for i := range *scheduleCount {
			seeds = append(seeds, *scheduleBase+uint64(i))
		}
	}
	steps := 0
	for _, seed := range seeds {
		w := newWorld(t, seed)
		w.run()
		steps += len(w.steps)
		if msg := w.violation(); msg != "" {
			t.Fatalf("seed %d: %s\nschedule:\n  %s\nreproduce: go test -race -run TestRandomizedSchedules -schedule.seed %d -v .",
				seed, msg, strings.Join(w.steps, "\n  "), seed)
		}
	}
	t.Logf("%d schedules, %d steps", len(seeds), steps)
}

// world is one schedule's backend, vendor, storage and bookkeeping.
type world struct {
	t      *testing.T
	seed   uint64
	rng    *rand.Rand
	env    *testEnv
	vendor *fakeVendor
	store  *scheduleStorage
	names  []string
	steps  []string

	// schedule-only state (the schedule's goroutine)
	version map[string]int
	holding map[string]bool
	async   sync.WaitGroup

	mu       sync.Mutex
	failures []string
	lastFail map[string]failedRequest
	// opEpoch moves when an operator action (write, rotate, delete) on a
	// name starts and when it ends: either may legitimately reset the
	// back-off, so a failure on either side of one owes no gap.
	opEpoch map[string]int
	// acting counts operator actions in flight per name: a rotate's own
	// request may follow a failure at once.
	acting map[string]int
	// created is the vendor log length when a config was last created:
	// status counts cover the requests after it.
	created map[string]int
	// returned is, per name, the storage order of the newest secret whose
	// write has returned: no read that starts later gets an older one.
	returned map[string]int
}

// failedRequest: the vendor answered a failure; the next request for the
// name must wait at least gap, unless an operator acted meanwhile.
type failedRequest struct {
	at    time.Time
	gap   time.Duration
	epoch int // operator actions on the name, started or ended, by then
}

func newWorld(t *testing.T, seed uint64) *world {
	clock := newFakeClock()
	w := &world{
		t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		names: []string{"a", "b"}, version: map[string]int{}, holding: map[string]bool{},
		lastFail: map[string]failedRequest{}, opEpoch: map[string]int{}, acting: map[string]int{}, created: map[string]int{}, returned: map[string]int{},
	}
	w.store = &scheduleStorage{w: w, putFaults: map[string]int{}, getFaults: map[string]int{}, order: map[string]int{}, lost: map[string]int{}}
	w.env = newTestEnvWith(t, w.store, clock)
	w.vendor = newFakeVendor(clock)
	w.vendor.install(w.env.b)
	w.vendor.onRequest = w.checkRequest
	w.vendor.onAnswer = w.noteAnswer
	return w
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

// run plays 10-40 random steps, then joins, then checks that a healthy
// vendor and storage bring every config back.
func (w *world) run() {
	n := 10 + w.rng.IntN(31)
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

func (w *world) name() string { return w.names[w.rng.IntN(len(w.names))] }

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
	switch p := w.rng.IntN(100); {
	case p < 28:
		w.plugin("read", w.name(), w.read)
	case p < 31:
		w.plugin("read-cancelled", w.name(), w.readCancelled)
	case p < 40:
		name := w.name()
		w.version[name]++
		secret := fmt.Sprintf("s-%s-%d", name, w.version[name])
		w.plugin("write-secret "+secret, name, func(n string) { w.writeSecret(n, secret) })
	case p < 44:
		ttl := 30 + w.rng.IntN(600)
		w.plugin(fmt.Sprintf("write-max_ttl %ds", ttl), w.name(), func(n string) { w.writeMaxTTL(n, ttl) })
	case p < 49:
		w.plugin("delete", w.name(), w.delete)
	case p < 54:
		w.plugin("rotate", w.name(), w.rotate)
	case p < 59:
		w.plugin("tick", "", func(string) { _ = w.env.b.periodic(context.Background(), &logical.Request{Storage: w.env.storage}) })
	case p < 64:
		key := []string{configPrefix, tokenPrefix}[w.rng.IntN(2)] + w.name()
		w.plugin("invalidate "+key, "", func(string) { w.env.b.invalidate(context.Background(), key) })
	case p < 77:
		w.advanceClock()
	case p < 88:
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
}

// plugin runs an operation on the schedule's goroutine, or concurrently
// (always while a request is held; else one time in four).
func (w *world) plugin(op, name string, fn func(string)) {
	async := w.mayBlock() || w.rng.IntN(4) == 0
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
	switch w.rng.IntN(8) {
	case 0, 1:
		m = vendorMode{lifetime: lifetimes[w.rng.IntN(len(lifetimes))]}
	case 2:
		m = vendorMode{status: 503}
	case 3:
		m = vendorMode{status: 429, oauthError: "rate_limit_exceeded", retryAfter: fmt.Sprint(1 + w.rng.IntN(120))}
	case 4:
		m = vendorMode{status: 401, oauthError: "invalid_client"}
	case 5:
		m = vendorMode{hold: true}
	case 6:
		m = vendorMode{lifetime: lifetimes[w.rng.IntN(len(lifetimes))], transit: time.Duration(1+w.rng.IntN(3000)) * time.Millisecond}
	default:
		m = vendorMode{status: 400, oauthError: "invalid_grant"}
	}
	w.step("vendor %s %+v", name, m)
	w.vendor.setMode(name, m)
	w.holding[name] = m.hold || w.holding[name]
}

func (w *world) armStorageFault(name string) {
	k := 1 + w.rng.IntN(2)
	switch w.rng.IntN(4) {
	case 0:
		w.step("storage: next %d Put of token/%s fail", k, name)
		w.store.arm(w.store.putFaults, tokenPrefix+name, k)
	case 1:
		w.step("storage: next %d Get of token/%s fail", k, name)
		w.store.arm(w.store.getFaults, tokenPrefix+name, k)
	case 2:
		w.step("storage: next %d Get of config/%s fail", k, name)
		w.store.arm(w.store.getFaults, configPrefix+name, k)
	default:
		w.step("storage: next %d Get of status/%s fail", k, name)
		w.store.arm(w.store.getFaults, statusPrefix+name, k)
	}
}

// operatorActs marks an operator's action on a name, returning the mark of
// its end: a write or rotate asks the vendor at once, whatever the
// back-off said.
func (w *world) operatorActs(name string) (done func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.opEpoch[name]++
	w.acting[name]++
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.opEpoch[name]++
		w.acting[name]--
	}
}

// writeSecret writes the whole config with a new secret: a create when
// there is none, else a credential change that drops the cached token.
func (w *world) writeSecret(name, secret string) {
	defer w.operatorActs(name)()
	cfg := fakeVendorConfig(name, secret)
	cfg["verify"] = true // the default, said because testEnv.do's is false
	resp, err := w.env.do(logical.UpdateOperation, "config/"+name, cfg)
	w.expectWrite("write secret", name, resp, err)
	if err == nil && (resp == nil || !resp.IsError()) {
		w.mu.Lock()
		w.returned[name] = max(w.returned[name], w.store.orderOf(secret))
		w.mu.Unlock()
	}
}

// writeMaxTTL changes a field that keeps the cached token (a 400 when the
// config does not exist: token_url is required).
func (w *world) writeMaxTTL(name string, ttl int) {
	defer w.operatorActs(name)()
	resp, err := w.env.do(logical.UpdateOperation, "config/"+name, map[string]interface{}{"max_ttl": ttl})
	w.expectWrite("write max_ttl", name, resp, err)
}

func (w *world) delete(name string) {
	defer w.operatorActs(name)()
	if _, err := w.env.do(logical.DeleteOperation, "config/"+name, nil); err != nil {
		w.failf("delete %s: %v", name, err)
		return
	}
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
	defer w.operatorActs(name)()
	resp, err := w.env.do(logical.UpdateOperation, "rotate/"+name, nil)
	if err != nil {
		w.expectError("rotate", name, err)
		return
	}
	if resp == nil || resp.Data["expires_at"] == nil {
		w.failf("rotate %s answered %v", name, resp)
	}
}

func (w *world) read(name string) {
	w.readWith(context.Background(), name)
}

func (w *world) readCancelled(name string) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w.readWith(ctx, name)
}

// readWith checks what a reader got against the vendor's own records.
func (w *world) readWith(ctx context.Context, name string) {
	start := w.env.clock.Now()
	w.mu.Lock()
	minOrder := w.returned[name]
	w.mu.Unlock()
	resp, err := w.env.b.HandleRequest(ctx, &logical.Request{Operation: logical.ReadOperation, Path: "creds/" + name, Storage: w.env.storage})
	if err != nil {
		w.expectError("read", name, err)
		return
	}
	if resp == nil || resp.IsError() {
		w.failf("read %s: error response %v", name, resp)
		return
	}
	access, _ := resp.Data["access_token"].(string)
	issued, ok := w.vendor.token(access)
	switch {
	case !ok || issued.name != name:
		w.failf("read %s got a token the vendor never issued for it (%q)", name, access)
		return
	case resp.Data["expires_at"].(string) > rfc3339(issued.expiresAt):
		w.failf("read %s: expires_at %v is after the vendor's expiry %s", name, resp.Data["expires_at"], rfc3339(issued.expiresAt))
	case resp.Secret == nil || resp.Secret.TTL < minLease:
		w.failf("read %s: lease %+v, less than %s (a TTL of 0 becomes the mount's 32 days)", name, resp.Secret, minLease)
	case !start.Add(resp.Secret.TTL).Before(issued.expiresAt):
		w.failf("read %s at %s: lease of %s outlives the token (vendor expiry %s)", name, start, resp.Secret.TTL, issued.expiresAt)
	case w.store.orderOf(issued.secret) < minOrder:
		w.failf("read %s got a token minted with secret %q, replaced before the read began", name, issued.secret)
	}
}

// expectError: every failure a reader or operator meets is a vendor error
// (502/504), a 404 (deleted), a storage fault, or its own cancellation.
func (w *world) expectError(op, name string, err error) {
	switch {
	case codedStatus(err) == 502 || codedStatus(err) == 504 || codedStatus(err) == 404 || codedStatus(err) == 503:
	case errors.Is(err, errInjected), strings.Contains(err.Error(), errInjected.Error()):
	case errors.Is(err, context.Canceled):
	default:
		w.failf("%s %s: unexpected error %T %v", op, name, err, err)
	}
}

func (w *world) expectWrite(op, name string, resp *logical.Response, err error) {
	if err != nil {
		w.expectError(op, name, err)
		return
	}
	// A 400 is a max_ttl write with no config (token_url is required) or a
	// write the vendor refused at verification.
	if resp != nil && resp.IsError() && !strings.Contains(resp.Error().Error(), "token_url") && !strings.Contains(resp.Error().Error(), "nothing was stored") {
		w.failf("%s %s: %v", op, name, resp.Error())
	}
}

// checkRequest runs as each token request reaches the vendor.
func (w *world) checkRequest(name, secret string, at time.Time) {
	cfg, tok := w.store.rawConfig(name), w.store.rawToken(name)
	w.mu.Lock()
	verifying := w.acting[name] > 0 // a config write's verify grant
	w.mu.Unlock()
	// At most one token request per config per refresh cycle: none while
	// storage holds a token of the current config outside every window.
	if !verifying && cfg != nil && tok != nil && tok.usable(at, cfg.Generation) && tok.ExpiresAt.Sub(at) >= tok.proactiveWindow(cfg.RefreshBefore) {
		w.failf("vendor asked for a token of %s at %s while storage holds one valid until %s, outside its refresh windows", name, at, tok.ExpiresAt)
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
// while a still-valid token is served), or 30 s for rejected credentials.
func (w *world) noteAnswer(name string, m vendorMode, at time.Time) {
	if m.status == 0 {
		return
	}
	gap := time.Second
	if m.status == 401 || m.oauthError == "invalid_grant" {
		gap = backoffRejected // with or without a still-valid token
	}
	if m.retryAfter != "" {
		var secs int
		fmt.Sscan(m.retryAfter, &secs)
		gap = max(gap, time.Duration(secs)*time.Second)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lastFail[name] = failedRequest{at: at, gap: gap, epoch: w.opEpoch[name]}
}

// checkQuiescent: with nothing in flight, storage holds nothing of a
// deleted config, and status counts equal what the vendor saw.
func (w *world) checkQuiescent() {
	for _, name := range w.names {
		cfg := w.store.rawConfig(name)
		if cfg == nil {
			for _, p := range []string{tokenPrefix, statusPrefix} {
				if w.store.raw(p+name) != nil {
					w.failf("config %s is deleted but %s%s is in storage", name, p, name)
				}
			}
			continue
		}
		st := w.store.rawStatus(name)
		w.mu.Lock()
		since := w.created[name]
		w.mu.Unlock()
		var seen, ok int
		for i, r := range w.vendor.allRequests() {
			if i >= since && r.name == name {
				seen++
				if r.status == 200 {
					ok++
				}
			}
		}
		if got := int(st.Grants + st.Failures); got != seen {
			w.failf("status of %s counts %d grants and %d failures; the vendor saw %d requests", name, st.Grants, st.Failures, seen)
		}
		// A token the plugin could not store is a failure, not a grant.
		if lost := w.store.lostTokens(name); int(st.Grants) > ok-lost {
			w.failf("status of %s counts %d grants; the vendor issued %d tokens, %d of which could not be stored", name, st.Grants, ok, lost)
		}
	}
}

// recover: a healthy vendor and storage bring every config back once the
// longest back-off has passed; each read is then a valid token.
func (w *world) recover() {
	w.step("recover: vendor healthy, storage healthy, clock +1h")
	for _, name := range w.names {
		w.vendor.setMode(name, vendorMode{})
	}
	w.store.disarm()
	w.env.clock.Advance(time.Hour)
	for _, name := range w.names {
		if w.store.rawConfig(name) == nil {
			continue
		}
		w.readWith(context.Background(), name)
		if _, err := w.env.do(logical.ReadOperation, "creds/"+name, nil); err != nil {
			w.failf("after recovery, read %s: %v", name, err)
		}
	}
	w.checkQuiescent()
}

// scheduleStorage is InmemStorage with faults armed by the schedule, and
// the order in which each config secret was first stored.
type scheduleStorage struct {
	logical.InmemStorage
	w *world

	mu        sync.Mutex
	putFaults map[string]int
	getFaults map[string]int
	order     map[string]int // config secret -> when first stored
	seq       int
	keys      []string       // every name@generation stored: the flight keys
	lost      map[string]int // token Puts failed since the config was created
}

func (s *scheduleStorage) lostTokens(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lost[name]
}

func (s *scheduleStorage) flightKeys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.keys...)
}

func (s *scheduleStorage) arm(faults map[string]int, key string, k int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	faults[key] += k
}

func (s *scheduleStorage) disarm() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.putFaults)
	clear(s.getFaults)
}

func (s *scheduleStorage) fire(faults map[string]int, key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if faults[key] > 0 {
		faults[key]--
		return true
	}
	return false
}

func (s *scheduleStorage) Put(ctx context.Context, e *logical.StorageEntry) error {
	if s.fire(s.putFaults, e.Key) {
		s.mu.Lock()
		s.lost[strings.TrimPrefix(e.Key, tokenPrefix)]++
		s.mu.Unlock()
		return errInjected
	}
	if !strings.HasPrefix(e.Key, configPrefix) {
		return s.InmemStorage.Put(ctx, e)
	}
	// Config writes run under the name lock: nothing else stores this
	// key meanwhile, so the creation check and the order are exact.
	name := strings.TrimPrefix(e.Key, configPrefix)
	creating := s.raw(e.Key) == nil
	if err := s.InmemStorage.Put(ctx, e); err != nil {
		return err
	}
	var cfg vendorConfig
	_ = json.Unmarshal(e.Value, &cfg)
	s.mu.Lock()
	s.keys = append(s.keys, name+"@"+strconv.FormatUint(cfg.Generation, 10))
	if _, ok := s.order[cfg.ClientSecret]; !ok {
		s.seq++
		s.order[cfg.ClientSecret] = s.seq
	}
	s.mu.Unlock()
	if creating {
		s.mu.Lock()
		delete(s.lost, name)
		s.mu.Unlock()
		// The creating write's verify grant, made with its new secret,
		// belongs to the new config.
		all := s.w.vendor.allRequests()
		since := len(all)
		for i, r := range all {
			if r.name == name && r.secret == cfg.ClientSecret {
				since = i
			}
		}
		s.w.mu.Lock()
		s.w.created[name] = since
		s.w.mu.Unlock()
	}
	return nil
}

func (s *scheduleStorage) Get(ctx context.Context, key string) (*logical.StorageEntry, error) {
	if s.fire(s.getFaults, key) {
		return nil, errInjected
	}
	return s.InmemStorage.Get(ctx, key)
}

// raw reads past the faults.
func (s *scheduleStorage) raw(key string) *logical.StorageEntry {
	e, _ := s.InmemStorage.Get(context.Background(), key)
	return e
}

func rawJSON[T any](s *scheduleStorage, key string) *T {
	e := s.raw(key)
	if e == nil {
		return nil
	}
	var v T
	if json.Unmarshal(e.Value, &v) != nil {
		return nil
	}
	return &v
}

func (s *scheduleStorage) rawConfig(name string) *vendorConfig {
	return rawJSON[vendorConfig](s, configPrefix+name)
}

func (s *scheduleStorage) rawToken(name string) *cachedToken {
	return rawJSON[cachedToken](s, tokenPrefix+name)
}

func (s *scheduleStorage) rawStatus(name string) *grantStatus {
	if st := rawJSON[grantStatus](s, statusPrefix+name); st != nil {
		return st
	}
	return &grantStatus{}
}

func (s *scheduleStorage) orderOf(secret string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.order[secret]
}
