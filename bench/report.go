package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

type results struct {
	opts    *options
	started time.Time
	took    time.Duration

	vaultVersion, pluginVersion, minimalVersion string

	cells             []cellResult
	cellRevokes       []cellRevoke
	hitVendorRequests int
	// foreignCPU is the CPU time processes other than the bench's used
	// during measured time (measured, summed over every cell).
	foreignCPU, measured time.Duration
	fanin                []faninResult
	leases               *pilesResult
	refresh              *refreshResult
	rss                  []rssInfo
	scale                *scaleResult
}

type cellRevoke struct {
	Target      string
	Concurrency int
	Leases      int
	Took        time.Duration
}

type faninResult struct {
	Delay         time.Duration
	Readers       int
	TokenRequests int
	Lat           latencies
}

type pilesResult struct {
	Reads, Concurrency, Leases                  int
	ReadTook, ListTook, RevokeCall, RevokeTotal time.Duration
}

type refreshResult struct {
	Pro, Nopro                        string // config names
	Lifetime, Delay, Window           time.Duration
	Interval                          time.Duration
	Readers                           int
	ReadWindow, ProactiveAge, ReadAge time.Duration

	ProRefreshed        bool
	ProRefreshAge       time.Duration
	ProBeforeReadWindow bool

	InWindow, Baseline, Without pacedSummary
	ProGrants, NoproGrants      int
	Errors                      int
	FirstErr                    string
}

// foreignShare is foreignCPU as a share of the machine's capacity.
func (r *results) foreignShare() float64 {
	if r.measured == 0 {
		return 0
	}
	return r.foreignCPU.Seconds() / (r.measured.Seconds() * float64(runtime.NumCPU()))
}

func (r *results) cell(key string, conc int) (cellResult, bool) {
	for _, c := range r.cells {
		if c.Target == key && c.Concurrency == conc {
			return c, true
		}
	}
	return cellResult{}, false
}

// ratio of two targets' throughput at conc; ok false when either is missing.
func (r *results) ratio(num, den string, conc int) (float64, bool) {
	a, ok1 := r.cell(num, conc)
	b, ok2 := r.cell(den, conc)
	if !ok1 || !ok2 || b.RPS() == 0 {
		return 0, false
	}
	return a.RPS() / b.RPS(), true
}

// roundRange is the lowest and highest per-round throughput ratio.
func (r *results) roundRange(num, den string, conc int) (lo, hi float64, ok bool) {
	a, ok1 := r.cell(num, conc)
	b, ok2 := r.cell(den, conc)
	if !ok1 || !ok2 || len(a.RoundRPS) != len(b.RoundRPS) || len(a.RoundRPS) == 0 {
		return 0, 0, false
	}
	lo, hi = a.RoundRPS[0]/b.RoundRPS[0], a.RoundRPS[0]/b.RoundRPS[0]
	for i := range a.RoundRPS {
		x := a.RoundRPS[i] / b.RoundRPS[i]
		lo, hi = min(lo, x), max(hi, x)
	}
	return lo, hi, true
}

func ms(d time.Duration) string {
	switch {
	case d == 0:
		return "0 ms"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
}

// human is a Go duration without its zero tails: 5m, 1m15s, 500ms.
func human(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func us(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d)/1e3) }

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

func passMiss(ok bool) string {
	if ok {
		return "**pass**"
	}
	return "**miss**"
}

func writeReport(path string, r *results) error {
	var w strings.Builder
	o := r.opts
	m := machine()
	p := func(format string, args ...interface{}) { fmt.Fprintf(&w, format, args...) }

	p("# Benchmarks\n\n")
	p("Written by the bench (`bench/`: the driver and `bench/minimalplugin`, run by `scripts/bench.sh`).\n")
	p("Rerun it to refresh these figures; do not edit them by hand.\n\n")
	p("| | |\n|---|---|\n")
	p("| date | %s |\n", r.started.UTC().Format("2006-01-02 15:04 MST"))
	p("| command | `%s` |\n", o.command)
	p("| wall time | %s (Vault start to report; the builds before it not counted) |\n", r.took.Round(time.Second))
	p("| machine | %d CPUs (nproc), %s, %s RAM, %s |\n", m.CPUs, m.Model, m.Memory, m.Kernel)
	p("| Vault | %s: one `vault server -dev` for the whole run (in-memory storage, no audit device, root token) |\n", r.vaultVersion)
	p("| Go | %s |\n", runtime.Version())
	p("| plugin | `%s` %s, the version Vault reports running (registered with sha256 + version) |\n", ourPlugin, r.pluginVersion)
	p("| yardstick | `%s` %s (`bench/minimalplugin`, same SDK, registered the same way) |\n", minimalPlugin, r.minimalVersion)
	disturbed := ""
	if r.foreignShare() > 0.05 {
		disturbed = " **Other work disturbed this run: compare its figures with care, or rerun on a quiet machine.**"
	}
	p("| other load | processes other than the bench's used %.1f%% of the machine's CPU during the measured throughput time (`/proc/stat` busy time minus the bench's own processes, to 10 ms ticks).%s |\n",
		max(0, r.foreignShare()*100), disturbed)
	p("| settings | throughput: %s measured per target and concurrency (%d interleaved rounds) after %s warmup, readers %s; fan-in %d readers; %d leased reads |\n\n",
		human(o.duration), o.rounds, human(o.warmup), joinInts(o.concurrency), o.fanin, o.leases)

	r.writeTargets(p)
	r.writeThroughput(p)
	r.writeFanin(p)
	r.writeRefresh(p)
	r.writeMemory(p)
	r.writeLeases(p)
	if err := r.writeScale(p, path); err != nil {
		return err
	}
	r.writeNotes(p)

	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(w.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Clean(path))
}

type printer func(format string, args ...interface{})

// noise is the uncertainty of a throughput ratio, as a fraction: twice the
// standard error of the per-round ratios (on a log scale, rounds being
// independent paired samples). ok is false with fewer than two rounds.
func (r *results) noise(num, den string, conc int) (float64, bool) {
	a, ok1 := r.cell(num, conc)
	b, ok2 := r.cell(den, conc)
	n := len(a.RoundRPS)
	if !ok1 || !ok2 || n < 2 || len(b.RoundRPS) != n {
		return 0, false
	}
	logs := make([]float64, n)
	var mean float64
	for i := range logs {
		logs[i] = math.Log(a.RoundRPS[i] / b.RoundRPS[i])
		mean += logs[i] / float64(n)
	}
	var ss float64
	for _, l := range logs {
		ss += (l - mean) * (l - mean)
	}
	se := math.Sqrt(ss/float64(n-1)) / math.Sqrt(float64(n))
	return math.Exp(2*se) - 1, true
}

// ratios is the targets-table cell for num/den at every concurrency and
// the verdict against 0.9: a ratio below it whose noise band reaches it is
// a miss within noise, not a clear one.
func (r *results) ratios(num, den string) (string, string) {
	var parts, clear, noisy []string
	for _, c := range r.opts.concurrency {
		x, ok := r.ratio(num, den, c)
		if !ok {
			parts = append(parts, "n/a")
			clear = append(clear, fmt.Sprint(c))
			continue
		}
		part := fmt.Sprintf("%.2f×", x)
		f, hasNoise := r.noise(num, den, c)
		if hasNoise {
			part += fmt.Sprintf(" ±%.0f%%", f*100)
		}
		parts = append(parts, part)
		switch {
		case x >= 0.9:
		case hasNoise && x*(1+f) >= 0.9:
			noisy = append(noisy, fmt.Sprint(c))
		default:
			clear = append(clear, fmt.Sprint(c))
		}
	}
	verdict := passMiss(true)
	switch {
	case len(clear) > 0:
		verdict = passMiss(false) + " (readers " + strings.Join(clear, ", ") + ")"
	case len(noisy) > 0:
		verdict = passMiss(false) + " within the noise (readers " + strings.Join(noisy, ", ") + ")"
	}
	return strings.Join(parts, ", ") + " (readers " + joinInts(r.opts.concurrency) + ")", verdict
}

func (r *results) writeTargets(p printer) {
	p("## Targets\n\n")
	p("| target | measured | |\n|---|---|---|\n")
	plain, plainVerdict := r.ratios("ours-plain", "min-plain")
	p("| cache-hit throughput ≥ 0.9× the minimal plugin's, lease=false | %s | %s |\n", plain, plainVerdict)
	leased, leasedVerdict := r.ratios("ours-leased", "min-leased")
	p("| cache-hit throughput ≥ 0.9× the minimal plugin's, leased | %s | %s |\n", leased, leasedVerdict)
	var fan []string
	okFan := len(r.fanin) > 0
	for _, f := range r.fanin {
		fan = append(fan, fmt.Sprintf("%d (vendor delay %s)", f.TokenRequests, human(f.Delay)))
		okFan = okFan && f.TokenRequests == 1
	}
	if len(fan) > 0 {
		p("| %d cold readers of a fresh config → exactly 1 vendor token request | %s | %s |\n", r.opts.fanin, strings.Join(fan, ", "), passMiss(okFan))
	}
	if rf := r.refresh; rf != nil {
		p("| p99 with proactive refresh unaffected by a %s vendor | p99 %s (the same readers away from the refresh: %s), max %s, %d reads waited on the vendor | %s |\n",
			human(rf.Delay), ms(rf.InWindow.Latency.P99), ms(rf.Baseline.Latency.P99), ms(rf.InWindow.Latency.Max), rf.InWindow.Waited, passMiss(rf.proactiveOK()))
	} else {
		p("| p99 with proactive refresh unaffected by a slow vendor | not run (`BENCH_REFRESH=0`) | |\n")
	}
	r.writeScaleTargets(p)
	p("\n± is twice the standard error of the ratio over the %d interleaved rounds (section 1): this small\n", r.opts.rounds)
	p("shared machine's noise. A ratio under 0.9 whose band reaches 0.9 is reported as a miss within the\n")
	p("noise; a longer `BENCH_DURATION` narrows the band.\n\n")
	p("The p99 target passes when the periodic refreshed the token before its read window and no read in\n")
	p("the window around that refresh waited on the vendor (every read under half the vendor delay).\n\n")
}

// proactiveOK: the periodic refreshed the token before its read window
// and no read in the window around it waited on the vendor.
func (rf *refreshResult) proactiveOK() bool {
	return rf.ProRefreshed && rf.ProBeforeReadWindow && rf.InWindow.Waited == 0 && rf.InWindow.Latency.Max < rf.Delay/2 && rf.Errors == 0
}

func (r *results) writeThroughput(p printer) {
	o := r.opts
	p("## 1. Cache-hit reads: oauthvendor next to a minimal plugin and KV v2\n\n")
	p("Closed loop: N readers, each sending its next `GET /v1/<path>` (root token, keep-alive, a pooled\n")
	p("`net/http` transport with an idle connection per reader) as soon as the last answer is read.\n")
	p("At each concurrency every target first gets %s of warmup; then %s of measured time per target is\n", human(o.warmup), human(o.duration))
	p("cut into %d rounds, each round running every target for %s (after %s unmeasured on the same\n", o.rounds, human(o.duration/time.Duration(o.rounds)), human(min(200*time.Millisecond, o.duration/time.Duration(o.rounds)/2)))
	p("target, so it pays for its own garbage), the starting target moving one along each round. This\n")
	p("machine's speed drifts by tens of percent over seconds (three busy processes on %d CPUs), and\n", machine().CPUs)
	p("interleaving makes the drift hit every target alike. req/s counts the successful reads started in\n")
	p("the measured time; p50/p99 are nearest-rank over every one of them (send to body read).\n\n")
	p("oauthvendor's configs point at the simulator's Alation endpoint and hold a cached 1 h token: every\n")
	p("measured read is a cache hit (the simulator saw %d token requests during the cells). They are\n", r.hitVendorRequests)
	p("named `p` and `l` because Vault's own cost depends on the path: for every request, its rate-limit\n")
	p("quota lookup queries its quota table once per character of the path after the mount (to match\n")
	p("glob quotas), whether or not any quota exists. `creds/p` and `creds/l` are within two characters\n")
	p("of the minimal plugin's `plain` and `leased`; the last target, a 40-character config name, shows\n")
	p("what a longer name costs. The leases a leased target leaves are revoked right after its turn,\n")
	p("outside the measured time, so that every turn starts with an empty lease table.\n\n")
	p("CPU per read is the CPU time (user + system, from `/proc/<pid>/stat`, 10 ms ticks) the Vault process\n")
	p("and the plugin process serving the target used during the target's measured time, divided by its\n")
	p("reads. With one reader it is inflated by the Go runtimes spinning and waking up between requests.\n\n")
	p("| target | readers | req/s | p50 | p99 | errors | Vault CPU/read | plugin CPU/read |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range o.concurrency {
		for _, t := range targets {
			cell, ok := r.cell(t.key, c)
			if !ok {
				continue
			}
			plugin := "–"
			if t.plugin != "" {
				plugin = us(cell.perRead(cell.PluginCPU))
			}
			p("| %s | %d | %.0f | %s | %s | %d | %s | %s |\n", t.label, c, cell.RPS(), ms(cell.Lat.P50), ms(cell.Lat.P99), cell.Errors,
				us(cell.perRead(cell.VaultCPU)), plugin)
		}
	}
	p("\nThroughput ratios over the whole measured time, ± twice their standard error over the rounds, and\n")
	p("in brackets the lowest and highest ratio of a single round (target: oauthvendor / minimal ≥ 0.90):\n\n")
	p("| readers | oauthvendor / minimal, lease=false | oauthvendor / minimal, leased | minimal / KV | minimal leased / KV |\n|---:|---:|---:|---:|---:|\n")
	for _, c := range o.concurrency {
		cellRatio := func(a, b string) string {
			x, ok := r.ratio(a, b, c)
			if !ok {
				return "n/a"
			}
			out := fmt.Sprintf("%.2f", x)
			if f, ok := r.noise(a, b, c); ok {
				out += fmt.Sprintf(" ±%.0f%%", f*100)
			}
			if lo, hi, ok := r.roundRange(a, b, c); ok && o.rounds > 1 {
				out += fmt.Sprintf(" (%.2f–%.2f)", lo, hi)
			}
			return out
		}
		p("| %d | %s | %s | %s | %s |\n", c, cellRatio("ours-plain", "min-plain"), cellRatio("ours-leased", "min-leased"),
			cellRatio("min-plain", "kv"), cellRatio("min-leased", "kv"))
	}
	p("\nminimal / KV is the price of being an external plugin at all: KV v2 is built into Vault and\n")
	p("answers in-process, while every external plugin's read crosses a gRPC connection to the plugin\n")
	p("process and back. oauthvendor / minimal is what our own code adds on a cache hit.\n\n")
	r.writeCPUSummary(p)
}

// writeCPUSummary says where a cache hit's CPU goes, at the highest
// concurrency (the least idle overhead).
func (r *results) writeCPUSummary(p printer) {
	c := 0
	for _, x := range r.opts.concurrency {
		c = max(c, x)
	}
	kv, ok1 := r.cell("kv", c)
	minP, ok2 := r.cell("min-plain", c)
	ours, ok3 := r.cell("ours-plain", c)
	minL, ok4 := r.cell("min-leased", c)
	oursL, ok5 := r.cell("ours-leased", c)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
		return
	}
	p("Where a cache hit's CPU goes, with %d readers: Vault spends %s per read forwarding it to a plugin\n", c, us(ours.perRead(ours.VaultCPU)))
	p("(its whole KV v2 read costs it %s), and the plugin process %s for oauthvendor against %s for\n", us(kv.perRead(kv.VaultCPU)),
		us(ours.perRead(ours.PluginCPU)), us(minP.perRead(minP.PluginCPU)))
	p("the minimal plugin (leased: %s against %s). A plugin read is Vault's HTTP, token, quota and\n",
		us(oursL.perRead(oursL.PluginCPU)), us(minL.perRead(minL.PluginCPU)))
	p("routing work, the gRPC round trip and the SDK's request handling in the plugin process; the\n")
	p("difference between the two plugin processes (%s per read, to the resolution of 10 ms ticks) is\n",
		us(ours.perRead(ours.PluginCPU)-minP.perRead(minP.PluginCPU)))
	p("what our own code adds.\n\n")
	if long, ok := r.cell("ours-long", c); ok {
		extra := len(longName) - 1
		band := ""
		if f, ok := r.noise("ours-long", "ours-plain", c); ok {
			band = fmt.Sprintf(" ±%.0f%%", f*100)
		}
		p("The 40-character config name (%d more characters of path than `p`, so %d more quota queries per\n", extra, extra)
		p("read) ran at %.2f×%s the rate of `creds/p`; Vault's CPU per read differed by %s, the plugin\n",
			long.RPS()/ours.RPS(), band, us(long.perRead(long.VaultCPU)-ours.perRead(ours.VaultCPU)))
		p("process's by %s.\n\n", us(long.perRead(long.PluginCPU)-ours.perRead(ours.PluginCPU)))
	}
}

func (r *results) writeFanin(p printer) {
	if len(r.fanin) == 0 {
		return
	}
	p("## 2. Fan-in: concurrent cold readers of a fresh config\n\n")
	p("A config written just before (`fanin-*`, the simulator's AlertSite endpoint): no token in memory or\n")
	p("storage. %d goroutines, each on an already-open keep-alive connection, wait on one gate and are\n", r.opts.fanin)
	p("released together to read `creds/<name>`; the simulator counts the token requests that reached it.\n\n")
	p("| vendor delay | readers | token requests (expect 1) | p50 | p99 | max | |\n|---:|---:|---:|---:|---:|---:|---|\n")
	for _, f := range r.fanin {
		p("| %s | %d | %d | %s | %s | %s | %s |\n", human(f.Delay), f.Readers, f.TokenRequests, ms(f.Lat.P50), ms(f.Lat.P99), ms(f.Lat.Max), passMiss(f.TokenRequests == 1))
	}
	p("\n")
}

func (r *results) writeRefresh(p printer) {
	p("## 3. Reads across a token refresh with a slow vendor\n\n")
	rf := r.refresh
	if rf == nil {
		p("Not run (`BENCH_REFRESH=0` or `-refresh=false`). It takes about 3.5 minutes of wall time, most of it\n")
		p("overlapped with the other phases.\n\n")
		return
	}
	p("The simulator's AgentSync endpoint issues %s tokens and answers after %s. With the default\n", human(rf.Lifetime), human(rf.Delay))
	p("`refresh_before`, a read refreshes such a token once less than %s is left (token age %s); the\n", human(rf.ReadWindow), human(rf.ReadAge))
	p("backend's PeriodicFunc, which Vault calls about once a minute, refreshes a token somebody has read\n")
	p("once its proactive window opens, %s earlier (token age %s): at least one tick always falls\n", human(rf.ReadAge-rf.ProactiveAge), human(rf.ProactiveAge))
	p("in between.\n\n")
	p("Two configs on that endpoint, `lease=false`, both minted by `rotate/` at the same moment (a rotate is\n")
	p("not a read):\n\n")
	p("- **with proactive refresh** (`%s`): read once right away, so the periodic takes it on. %d paced\n", rf.Pro, rf.Readers)
	p("  readers start 15 s before its proactive window and run until half a report window after the new\n")
	p("  token first appears. The report window is the %s centred on that moment; it contains the periodic\n", human(rf.Window))
	p("  refresh's whole wait on the vendor.\n")
	p("- **without** (`%s`): nobody reads it before its read window opens, so the periodic, which\n", rf.Nopro)
	p("  only refreshes tokens read during their lifetime, leaves it alone: this is the plugin without\n")
	p("  proactive refresh, deterministically (waiting for readers to beat a tick instead would be a race\n")
	p("  with a once-a-minute timer). The same %d paced readers start one second after its read window\n", rf.Readers)
	p("  opened and run for %s: the first read starts the grant and the others queue behind it.\n\n", human(rf.Window))
	p("Each reader reads every %s (%d reads/s per config). Latency is counted from the time a read was\n", human(rf.Interval), int(float64(rf.Readers)*float64(time.Second)/float64(rf.Interval)))
	p("*due*, not sent: a reader stuck behind a slow read sends its next reads late, and timing those from\n")
	p("their late send would hide the stall (coordinated omission); counted from the due time they are what\n")
	p("a steady stream of independent callers would see. Service time (send to answer) is shown too.\n")
	p("\"Waited on the vendor\" counts reads whose service time was at least half the vendor delay.\n\n")
	p("| | reads | p50 | p99 | max | service p99 | service max | waited on the vendor | vendor grants |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	row := func(name string, s pacedSummary, grants string) {
		p("| %s | %d | %s | %s | %s | %s | %s | %d | %s |\n", name, s.Latency.N, ms(s.Latency.P50), ms(s.Latency.P99), ms(s.Latency.Max),
			ms(s.Service.P99), ms(s.Service.Max), s.Waited, grants)
	}
	row("with proactive refresh, window around the refresh", rf.InWindow, fmt.Sprintf("%d (rotate + periodic)", rf.ProGrants))
	row("with proactive refresh, same readers outside that window", rf.Baseline, "")
	row("without proactive refresh, window from the read window opening", rf.Without, fmt.Sprintf("%d (rotate + read)", rf.NoproGrants))
	p("\n")
	if rf.ProRefreshed {
		where := "before"
		if !rf.ProBeforeReadWindow {
			where = "**after** (so not proactively)"
		}
		p("`%s`'s new token was first served at token age %s, %s its read window opened (age %s).\n",
			rf.Pro, human(rf.ProRefreshAge.Round(100*time.Millisecond)), where, human(rf.ReadAge))
	} else {
		p("`%s`'s token was **not** refreshed while its readers ran.\n", rf.Pro)
	}
	if rf.Errors > 0 {
		p("%d reads failed; the first: `%s`.\n", rf.Errors, rf.FirstErr)
	}
	p("\n")
}

func (r *results) writeMemory(p printer) {
	p("## 4. Memory at the end of the run\n\n")
	p("VmRSS (now) and VmHWM (peak) from `/proc/<pid>/status` of Vault and the plugin processes it started,\n")
	p("read once every phase is done.\n\n")
	p("| process | pid | VmRSS | VmHWM (peak) |\n|---|---:|---:|---:|\n")
	for _, x := range r.rss {
		p("| `%s` | %d | %.1f MiB | %.1f MiB |\n", x.Name, x.PID, float64(x.RSS)/1024, float64(x.HWM)/1024)
	}
	p("\n")
}

func (r *results) writeLeases(p printer) {
	l := r.leases
	if l == nil {
		return
	}
	p("## 5. Leased reads pile up leases\n\n")
	p("One leased config (`piles`, 1 h token, so each lease lives about 59 minutes); %d reads by %d readers;\n", l.Reads, l.Concurrency)
	p("then `LIST sys/leases/lookup/oauthvendor/creds/piles/`, then `sys/leases/revoke-prefix/oauthvendor/creds/piles`\n")
	p("(sync), timed until the list is empty.\n\n")
	p("| leased reads | took | leases listed | LIST took | revoke-prefix call | until the list is empty | revoked/s |\n")
	p("|---:|---:|---:|---:|---:|---:|---:|\n")
	p("| %d | %s | %d | %s | %s | %s | %.0f |\n\n", l.Reads, secs(l.ReadTook), l.Leases, ms(l.ListTook), secs(l.RevokeCall), secs(l.RevokeTotal),
		float64(l.Leases)/l.RevokeTotal.Seconds())
	if len(r.cellRevokes) > 0 {
		p("The leases section 1's leased turns left, revoked after each turn (sums per target and level):\n\n")
		p("| target | readers | leases | revoke-prefix took | revoked/s |\n|---|---:|---:|---:|---:|\n")
		for _, c := range r.cellRevokes {
			p("| %s | %d | %d | %s | %.0f |\n", c.Target, c.Concurrency, c.Leases, secs(c.Took), float64(c.Leases)/c.Took.Seconds())
		}
		p("\n")
	}
	p("**When to choose `lease=false`.** A lease on `creds/` buys little: the token is shared, the lease is\n")
	p("not renewable, and revoking it does not revoke the vendor token (API.md). What it costs is Vault's:\n")
	p("every leased read writes a lease that Vault keeps in storage and in its expiration manager for up to\n")
	p("the token's lifetime, then revokes one by one. Here %d leased reads left %d leases;\n", l.Reads, l.Leases)
	p("revoking them took %s (%.0f a second).", secs(l.RevokeTotal), float64(l.Leases)/l.RevokeTotal.Seconds())
	if x, ok := r.ratio("ours-leased", "ours-plain", 16); ok {
		p(" With 16 readers a leased read ran at %.2f× the rate of a plain\none, on in-memory storage without an audit device.", x)
	}
	p("\n")
	p("Choose `lease=false` for fleets that read per request or per job (serverless functions, CI jobs,\n")
	p("short-lived workers, sidecars without Vault Agent) and for any caller whose read rate times the token\n")
	p("lifetime reaches the thousands: it answers the same token with its remaining `ttl` in the data, writes\n")
	p("no storage and leaves nothing to revoke. Keep the default lease for long-lived readers that re-read\n")
	p("when the lease ends, above all Vault Agent templates, which schedule their re-read from the lease\n")
	p("TTL, and where operators want `sys/leases` to show who holds the token.\n\n")
}

func (r *results) writeNotes(p printer) {
	p("## Notes on the method\n\n")
	p("- Everything runs on one machine: the load generator, Vault and both plugin processes share the same\n")
	p("  CPUs. Absolute figures are this machine's; the ratios are what to compare across machines.\n")
	p("- The dev server keeps storage in memory and has no audit device. A production Vault (Raft storage,\n")
	p("  an audit device) is slower on every read and slower still on leased reads, which write storage.\n")
	p("- Percentiles are nearest-rank over every sample of a cell, nothing interpolated or dropped.\n")
	p("- Only cache hits are timed in section 1; a miss costs one vendor round trip (sections 2 and 3).\n")
	p("- The refresh phase waits on real time (a 5-minute token aged past its proactive window); the driver\n")
	p("  runs the other phases in that idle stretch and starts the paced readers only once they are done.\n")
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}
