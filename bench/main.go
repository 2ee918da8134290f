// Command bench measures vault-plugin-secrets-oauthvendor in one real Vault
// dev server, next to a KV v2 read and a minimal external plugin of its own
// (bench/minimalplugin), and writes BENCHMARKS.md. scripts/bench.sh builds
// it and runs it (`make bench`); it starts the vendor simulator and Vault
// itself and stops them (and the plugins Vault started) on every exit path.
//
// Phases, all against the same Vault in the same run:
//   - cache-hit throughput and p50/p99 per target and concurrency;
//   - fan-in: concurrent cold readers of a fresh config, vendor requests;
//   - leases: N leased reads, the lease count, the revoke-prefix time;
//   - refresh: paced readers across a token refresh with a slow vendor,
//     with and without the periodic (proactive) refresh;
//   - the plugin processes' RSS;
//   - scale, last: one mount grown to 10 000 configs (bench/scale.go).
//
// The refresh phase has to wait for Vault's once-a-minute periodic tick
// and a 5-minute vendor token to age, so the other phases run in its idle
// stretch (see runQueue).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	vaultBin, pluginDir, simBin, workDir string
	out, command, pluginVersion          string

	duration, warmup time.Duration
	rounds           int
	concurrency      []int

	fanin       int
	leases      int
	leaseConc   int
	refresh     bool
	vendorDelay time.Duration

	refreshLifetime time.Duration
	refreshReaders  int
	refreshInterval time.Duration
	refreshWindow   time.Duration

	scaleSteps []int
	scaleDue   int
	scaleCell  time.Duration
}

func (o *options) maxConcurrency() int {
	m := 0
	for _, c := range o.concurrency {
		m = max(m, c)
	}
	return max(m, o.leaseConc)
}

func parseOptions() (*options, error) {
	o := &options{}
	var conc string
	flag.StringVar(&o.vaultBin, "vault-bin", "", "Vault binary (required)")
	flag.StringVar(&o.pluginDir, "plugin-dir", "", "plugin_directory holding both plugins (required, absolute)")
	flag.StringVar(&o.simBin, "sim-bin", "", "vendorsim binary (required)")
	flag.StringVar(&o.workDir, "work", "", "work dir for logs and Vault's config (required)")
	flag.StringVar(&o.out, "out", "BENCHMARKS.md", "report to write")
	flag.StringVar(&o.command, "command", "make bench", "the command to quote in the report")
	flag.StringVar(&o.pluginVersion, "plugin-version", "", "version to register oauthvendor with (required)")
	flag.DurationVar(&o.duration, "duration", envDuration("BENCH_DURATION", 5*time.Second), "measured time per throughput cell (env BENCH_DURATION)")
	flag.DurationVar(&o.warmup, "warmup", envDuration("BENCH_WARMUP", time.Second), "unmeasured warmup per cell (env BENCH_WARMUP)")
	flag.IntVar(&o.rounds, "rounds", envInt("BENCH_ROUNDS", 5), "rounds each cell's measured time is cut into, targets interleaved (env BENCH_ROUNDS)")
	flag.StringVar(&conc, "concurrency", envString("BENCH_CONCURRENCY", "1,16,64"), "reader counts per cell (env BENCH_CONCURRENCY)")
	flag.IntVar(&o.fanin, "fanin", 200, "cold readers released at once on a fresh config")
	flag.IntVar(&o.leases, "leases", 10000, "leased reads that pile up leases")
	flag.IntVar(&o.leaseConc, "lease-concurrency", 16, "readers doing the leased reads")
	flag.BoolVar(&o.refresh, "refresh", envString("BENCH_REFRESH", "1") != "0", "run the refresh phase, about 3.5 minutes of wall time (env BENCH_REFRESH=0 skips it)")
	flag.DurationVar(&o.vendorDelay, "vendor-delay", 500*time.Millisecond, "simulator token endpoint latency in the refresh and fan-in phases")
	flag.DurationVar(&o.refreshLifetime, "refresh-lifetime", 5*time.Minute, "vendor token lifetime in the refresh phase")
	flag.IntVar(&o.refreshReaders, "refresh-readers", 4, "paced readers per config in the refresh phase")
	flag.DurationVar(&o.refreshInterval, "refresh-interval", 20*time.Millisecond, "time between one paced reader's reads")
	flag.DurationVar(&o.refreshWindow, "refresh-window", 20*time.Second, "samples around each refresh that are reported")
	var scale string
	flag.StringVar(&scale, "scale", envString("BENCH_SCALE", "1,100,1000,10000"), "config counts of the scale phase, or 0 to skip it (env BENCH_SCALE)")
	flag.IntVar(&o.scaleDue, "scale-due", 170, "configs of the scale phase due for the periodic refresh in one pass (slow vendor)")
	flag.DurationVar(&o.scaleCell, "scale-cell", 3*time.Second, "measured time per throughput cell of the scale phase")
	flag.Parse()

	for _, f := range []struct{ name, val string }{
		{"vault-bin", o.vaultBin}, {"plugin-dir", o.pluginDir}, {"sim-bin", o.simBin},
		{"work", o.workDir}, {"plugin-version", o.pluginVersion},
	} {
		if f.val == "" {
			return nil, fmt.Errorf("-%s is required", f.name)
		}
	}
	for _, s := range strings.Split(conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-concurrency: %q is not a positive integer", s)
		}
		o.concurrency = append(o.concurrency, n)
	}
	if scale != "0" {
		for _, f := range strings.Split(scale, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				return nil, fmt.Errorf("-scale: %q is not a positive integer", f)
			}
			o.scaleSteps = append(o.scaleSteps, n)
		}
	}
	if o.duration <= 0 || o.warmup < 0 || o.rounds < 1 {
		return nil, fmt.Errorf("-duration must be positive, -warmup not negative, -rounds at least 1")
	}
	return o, nil
}

func envDuration(name string, def time.Duration) time.Duration {
	if v := os.Getenv(name); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
		fmt.Fprintf(os.Stderr, "bench: ignoring %s=%q (not a duration like 5s)\n", name, v)
	}
	return def
}

func envInt(name string, def int) int {
	if v := os.Getenv(name); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
		fmt.Fprintf(os.Stderr, "bench: ignoring %s=%q (not an integer)\n", name, v)
	}
	return def
}

func envString(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func main() {
	o, err := parseOptions()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func step(format string, args ...interface{}) {
	fmt.Printf("==> %s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func run(ctx context.Context, o *options) error {
	res := &results{opts: o, started: time.Now()}
	step("starting the vendor simulator and vault server -dev")
	e, err := startEnv(ctx, o)
	defer func() {
		step("stopping Vault (and its plugins) and the simulator")
		e.stop()
	}()
	if err != nil {
		return err
	}
	step("Vault at %s, work dir %s", e.vaultAddr, e.dir)
	b := &bench{env: e, o: o, res: res}
	if err := b.all(ctx); err != nil {
		return err
	}
	res.rss = processRSS(e.vault.Pid())
	if err := b.scale(ctx); err != nil {
		return fmt.Errorf("scale: %w", err)
	}
	res.vaultVersion = e.vaultVersion(ctx)
	res.pluginVersion = e.runningVersion(ctx, ourMount)
	res.minimalVersion = e.runningVersion(ctx, minimalMount)
	res.took = time.Since(res.started)
	step("writing %s (the run took %s)", o.out, res.took.Round(time.Second))
	return writeReport(o.out, res)
}
