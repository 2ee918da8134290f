package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The scale phase (issue 12): one mount grows to 1, 100, 1 000 and 10 000
// configs at one vendor host, each written (verify=false) and read once.
// At each size: cache-hit throughput over random names next to a single
// name's (interleaved rounds), the plugin's RSS and threads, its TCP
// connections to the simulator, and LIST config/ latency. 170 of the
// configs sit at a slow vendor (500 ms, 5-minute tokens) and are read once
// early on; at the end the phase waits for the periodic pass that
// refreshes them all with 10 000 configs mounted, and reports how long it
// took (the plugin's own log line and the simulator's view).
//
// It runs last: its 10 000 configs would change every other figure.

// scaleVendor serves the bulk configs; slowVendor the due ones. Neither
// is used by another phase at the same time.
const (
	scaleVendor = "alation"
	slowVendor  = "modelportfolio"
)

type scaleStep struct {
	Configs      int
	WriteTook    time.Duration // writing and reading once the configs added at this step
	Added        int
	Single, Rand cellResult
	RSSKiB       int64
	Threads      int
	VendorConns  int
	ListP50      time.Duration
	ListKeys     int
}

type scalePass struct {
	Due, Refreshed, Failed int
	Goroutines             int
	PluginTook             time.Duration // the plugin's own figure
	VendorSpan             time.Duration // first to last due token request at the simulator, plus one vendor delay
	Requests               int
	Waited                 time.Duration // from the configs' mint to the pass
	Found                  bool
}

type scaleResult struct {
	Steps                []scaleStep
	Due                  int
	Delay, Lifetime      time.Duration
	Concurrency, Writers int
	Pass                 scalePass
}

func (b *bench) scale(ctx context.Context) error {
	o, e := b.o, b.env
	if len(o.scaleSteps) == 0 {
		return nil
	}
	res := &scaleResult{Due: o.scaleDue, Delay: o.vendorDelay, Lifetime: o.refreshLifetime, Concurrency: 16, Writers: 16}
	b.res.scale = res
	pid := childPID(e.vault.Pid(), ourPlugin)
	simPort := portOf(e.simURL)
	have := 0
	var slowAt time.Time
	slowBase := 0
	for _, target := range o.scaleSteps {
		step("scale: growing the mount to %d configs", target)
		start := time.Now()
		added := 0
		// The due configs come in with the first step of 1 000 (or the
		// last step), so that they age while the mount grows.
		if slowAt.IsZero() && target >= min(1000, o.scaleSteps[len(o.scaleSteps)-1]) && o.scaleDue > 0 {
			if err := e.simKnobs(slowVendor, map[string]string{"latency": o.vendorDelay.String(), "lifetime": o.refreshLifetime.String()}); err != nil {
				return err
			}
			var err error
			if slowBase, err = e.simTokenRequests(slowVendor); err != nil {
				return err
			}
			slowAt = time.Now()
			if err := b.fill(ctx, slowVendor, "due", 0, o.scaleDue); err != nil {
				return err
			}
			have += o.scaleDue
			added += o.scaleDue
		}
		if err := b.fill(ctx, scaleVendor, "t", have, target); err != nil {
			return err
		}
		added += max(0, target-have)
		have = max(have, target)
		st := scaleStep{Configs: have, Added: added, WriteTook: time.Since(start)}
		if err := b.measureScale(ctx, &st, pid, simPort); err != nil {
			return err
		}
		res.Steps = append(res.Steps, st)
		step("scale: %d configs: random %.0f req/s, single %.0f req/s, RSS %.1f MiB, %d threads, %d connections to the vendor, LIST %s",
			st.Configs, st.Rand.RPS(), st.Single.RPS(), float64(st.RSSKiB)/1024, st.Threads, st.VendorConns, ms(st.ListP50))
	}
	if !slowAt.IsZero() {
		if err := b.waitPass(ctx, res, slowAt, slowBase); err != nil {
			return err
		}
	}
	return e.simKnobs(slowVendor, map[string]string{})
}

// fill writes configs prefix-<i> for i in [from, to) at vendor and reads
// each once, with b.res.scale.Writers at a time.
func (b *bench) fill(ctx context.Context, vendor, prefix string, from, to int) error {
	if to <= from {
		return nil
	}
	e := b.env
	body, err := e.vendorConfig(vendor, map[string]interface{}{"verify": false, "lease": false})
	if err != nil {
		return err
	}
	var next atomic.Int64
	next.Store(int64(from))
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range b.res.scale.Writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < to && ctx.Err() == nil && firstErr.Load() == nil; i = int(next.Add(1) - 1) {
				name := scaleName(prefix, i)
				if _, err := e.api.Logical().WriteWithContext(ctx, ourMount+"/config/"+name, body); err != nil {
					firstErr.CompareAndSwap(nil, fmt.Errorf("config/%s: %w", name, err))
					return
				}
				if err := e.reader(ourMount + "/creds/" + name).get(ctx); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return err
	}
	return ctx.Err()
}

func scaleName(prefix string, i int) string { return fmt.Sprintf("%s-%05d", prefix, i) }

// randomReader reads creds/<one of names> at random, a cache hit each.
type randomReader struct {
	readers []*reader
}

func (r *randomReader) get(ctx context.Context) error {
	return r.readers[rand.IntN(len(r.readers))].get(ctx)
}

// measureScale: throughput (random names and one name, interleaved
// rounds), then the idle figures and LIST.
func (b *bench) measureScale(ctx context.Context, st *scaleStep, pid, simPort int) error {
	e, o := b.env, b.o
	var names []string
	if st.Configs >= min(1000, o.scaleSteps[len(o.scaleSteps)-1]) && o.scaleDue > 0 {
		for i := range o.scaleDue {
			names = append(names, scaleName("due", i))
		}
	}
	for i := 0; len(names) < st.Configs; i++ {
		names = append(names, scaleName("t", i))
	}
	rr := &randomReader{}
	for _, n := range names {
		rr.readers = append(rr.readers, e.reader(ourMount+"/creds/"+n))
	}
	single := e.reader(ourMount + "/creds/" + names[0])
	conc := b.res.scale.Concurrency
	closedLoop(ctx, rr, conc, o.warmup)
	rounds := 3
	per := o.scaleCell / time.Duration(rounds)
	for round := range rounds {
		order := []getter{single, rr}
		cells := []*cellResult{&st.Single, &st.Rand}
		if round%2 == 1 {
			order[0], order[1], cells[0], cells[1] = order[1], order[0], cells[1], cells[0]
		}
		for i, g := range order {
			closedLoop(ctx, g, conc, 200*time.Millisecond)
			cells[i].add(closedLoop(ctx, g, conc, per))
		}
	}
	for _, c := range []*cellResult{&st.Single, &st.Rand} {
		if c.OK == 0 {
			return fmt.Errorf("scale: no successful read at %d configs: %s", st.Configs, c.FirstErr)
		}
		c.samples = nil
	}
	if r, ok := readRSS(pid); ok {
		st.RSSKiB = r.RSS
	}
	st.Threads = threads(pid)
	st.VendorConns = tcpConnsTo(pid, simPort)
	var lists []time.Duration
	for range 3 {
		t0 := time.Now()
		s, err := e.api.Logical().ListWithContext(ctx, ourMount+"/config")
		if err != nil {
			return err
		}
		lists = append(lists, time.Since(t0))
		if s != nil {
			keys, _ := s.Data["keys"].([]interface{})
			st.ListKeys = len(keys)
		}
	}
	slices.Sort(lists)
	st.ListP50 = lists[1]
	return nil
}

// passField finds one key=value of the plugin's log line for a periodic
// pass (periodic.go); go-plugin relays the pairs in no fixed order.
func passField(line, key string) string {
	m := regexp.MustCompile(`\b` + key + `=(\S+)`).FindStringSubmatch(line)
	if m == nil {
		return ""
	}
	return m[1]
}

// waitPass waits for the periodic pass that refreshes the due configs,
// watching the simulator's count of their token requests, then reads the
// plugin's own line for that pass from Vault's log.
func (b *bench) waitPass(ctx context.Context, res *scaleResult, slowAt time.Time, base int) error {
	e := b.env
	want := base + 2*res.Due // the read once, then the proactive refresh
	limit := slowAt.Add(res.Lifetime)
	step("scale: waiting for the periodic pass that refreshes the %d due configs (by %s at the latest)", res.Due, limit.Format("15:04:05"))
	var first, last time.Time
	prev := -1
	for time.Now().Before(limit) {
		n, err := e.simTokenRequests(slowVendor)
		if err != nil {
			return err
		}
		if n > base+res.Due && first.IsZero() {
			first = time.Now()
		}
		if n != prev {
			last, prev = time.Now(), n
		}
		if n >= want {
			break
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	p := &res.Pass
	p.Requests = prev - base - res.Due
	if !first.IsZero() {
		p.VendorSpan = last.Sub(first) + res.Delay
		p.Waited = first.Sub(slowAt)
	}
	// The plugin logs the pass when it ends; give the line a moment.
	for range 50 {
		if b.readPassLine(p, res.Due) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	step("scale: pass refreshed %d of %d due (plugin: %s, %d goroutines; simulator: %s)", p.Requests, res.Due, ms(p.PluginTook), p.Goroutines, ms(p.VendorSpan))
	return nil
}

// readPassLine finds the last pass line in vault.log with at least due
// tokens due.
func (b *bench) readPassLine(p *scalePass, due int) bool {
	data, err := os.ReadFile(b.env.dir + "/vault.log")
	if err != nil {
		return false
	}
	found := false
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.Contains(line, "proactive refresh pass") {
			continue
		}
		d, _ := strconv.Atoi(passField(line, "due"))
		if d < due {
			continue
		}
		p.Due = d
		p.Refreshed, _ = strconv.Atoi(passField(line, "refreshed"))
		p.Failed, _ = strconv.Atoi(passField(line, "failed"))
		p.PluginTook, _ = time.ParseDuration(passField(line, "took"))
		p.Goroutines, _ = strconv.Atoi(passField(line, "goroutines"))
		found = true
	}
	p.Found = found
	return found
}

// threads is the OS thread count of a process.
func threads(pid int) int {
	n, _ := strconv.Atoi(procField(fmt.Sprintf("/proc/%d/status", pid), "Threads"))
	return n
}

// tcpConnsTo counts the process's TCP sockets connected to port on
// loopback: its socket inodes (/proc/<pid>/fd) matched against the
// established connections in /proc/<pid>/net/tcp and tcp6.
func tcpConnsTo(pid, port int) int {
	inodes := map[string]bool{}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	hexPort := fmt.Sprintf(":%04X", port)
	n := 0
	for _, f := range []string{"tcp", "tcp6"} {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, f))
		for _, line := range strings.Split(string(data), "\n")[1:] {
			fs := strings.Fields(line)
			// sl local rem st tx:rx tr:when retrnsmt uid timeout inode
			if len(fs) > 9 && strings.HasSuffix(fs[2], hexPort) && fs[3] == "01" && inodes[fs[9]] {
				n++
			}
		}
	}
	return n
}

func portOf(rawURL string) int {
	i := strings.LastIndexByte(rawURL, ':')
	p, _ := strconv.Atoi(strings.TrimRight(rawURL[i+1:], "/"))
	return p
}
