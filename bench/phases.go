package main

import (
	"context"
	"fmt"
	"os"
	"time"
)

type bench struct {
	env *env
	o   *options
	res *results
}

// unit is one self-contained piece of a phase; est says how long it will
// probably take, so that it is only started where it fits.
type unit struct {
	name string
	est  func() time.Duration
	run  func(ctx context.Context) error
}

// runQueue runs units in order. With a non-zero deadline it stops before
// the first unit whose estimate would overrun it and returns the rest.
func runQueue(ctx context.Context, units []unit, deadline time.Time) ([]unit, error) {
	for i, u := range units {
		if !deadline.IsZero() && time.Now().Add(u.est()).After(deadline) {
			return units[i:], nil
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := u.run(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", u.name, err)
		}
	}
	return nil, nil
}

func (b *bench) all(ctx context.Context) error {
	queue, err := b.throughputUnits(ctx)
	if err != nil {
		return err
	}
	queue = append([]unit{b.faninUnit(), b.leasesUnit()}, queue...)
	if b.o.refresh {
		// Arm the refresh configs, run what fits in their idle stretch,
		// measure; re-arm if the stretch was overrun.
		for attempt := 1; ; attempt++ {
			arm, err := b.armRefresh(ctx, attempt)
			if err != nil {
				return fmt.Errorf("refresh: %w", err)
			}
			step("refresh configs armed; other phases until %s", arm.fillUntil().Format("15:04:05"))
			if queue, err = runQueue(ctx, queue, arm.fillUntil()); err != nil {
				return err
			}
			ok, err := b.stillArmed(ctx, arm)
			if err != nil {
				return fmt.Errorf("refresh: %w", err)
			}
			if ok {
				if err := b.measureRefresh(ctx, arm); err != nil {
					return fmt.Errorf("refresh: %w", err)
				}
				break
			}
			if attempt == 3 {
				return fmt.Errorf("refresh: the other phases overran the refresh configs' idle stretch three times")
			}
			step("the other phases overran the refresh timeline; arming new refresh configs")
		}
	}
	_, err = runQueue(ctx, queue, time.Time{})
	return err
}

// target is one thing read in a throughput cell.
type target struct {
	key, label, path string
	// plugin is the executable serving path ("" for Vault's built-in KV).
	plugin string
	// revoke: the lease prefix to revoke after the cell (leased targets).
	revoke string
}

// longName is a config name of 40 characters: Vault itself pays per
// character of the path after the mount (see writeThroughput).
const longName = "a-config-name-forty-characters-long-xxxx"

// The configs under test are named p and l so that their paths after the
// mount (creds/p, creds/l) are as long as the minimal plugin's (plain,
// leased) give or take two characters.
var targets = []target{
	{key: "kv", label: "KV v2 `secret/data/small`", path: "secret/data/small"},
	{key: "min-plain", label: "minimal plugin `plain`", path: minimalMount + "/plain", plugin: minimalPlugin},
	{key: "ours-plain", label: "oauthvendor `creds/p`, lease=false", path: ourMount + "/creds/p", plugin: ourPlugin},
	{key: "min-leased", label: "minimal plugin `leased` (1h lease)", path: minimalMount + "/leased", plugin: minimalPlugin,
		revoke: minimalMount + "/leased"},
	{key: "ours-leased", label: "oauthvendor `creds/l`, leased", path: ourMount + "/creds/l", plugin: ourPlugin,
		revoke: ourMount + "/creds/l"},
	{key: "ours-long", label: "oauthvendor `creds/<40 characters>`, lease=false", path: ourMount + "/creds/" + longName, plugin: ourPlugin},
}

// throughputUnits configures the cache-hit configs, mints their tokens,
// and returns one unit per concurrency level.
func (b *bench) throughputUnits(ctx context.Context) ([]unit, error) {
	e := b.env
	for name, lease := range map[string]bool{"p": false, "l": true, longName: false} {
		if err := e.configure(ctx, name, "alation", map[string]interface{}{"lease": lease}); err != nil {
			return nil, err
		}
		if err := e.reader(ourMount + "/creds/" + name).get(ctx); err != nil {
			return nil, err
		}
	}
	if err := e.revokePrefix(ctx, ourMount+"/creds/l"); err != nil {
		return nil, err
	}
	var units []unit
	for _, conc := range b.o.concurrency {
		units = append(units, unit{
			name: fmt.Sprintf("throughput with %d readers", conc),
			est: func() time.Duration {
				return time.Duration(len(targets))*(b.o.warmup+b.o.duration+time.Second)*3/2 + 5*time.Second
			},
			run: func(ctx context.Context) error { return b.level(ctx, conc) },
		})
	}
	return units, nil
}

// level measures every target at one concurrency. The machine is small
// and shared by the load generator, Vault and two plugin processes, so
// its speed drifts by tens of percent over seconds; a target's measured
// time is therefore cut into rounds, and each round runs every target
// once, starting one target further along each time, so that drift hits
// every target alike. Each turn starts with a short unmeasured settle on
// its own target. The leases a leased target leaves are revoked right
// after its turn, outside the measured time, so that every turn starts
// with an empty lease table.
func (b *bench) level(ctx context.Context, conc int) error {
	e := b.env
	before, err := e.simTokenRequests("alation")
	if err != nil {
		return err
	}
	for _, t := range targets {
		closedLoop(ctx, e.reader(t.path), conc, b.o.warmup)
	}
	cells := make([]cellResult, len(targets))
	revokes := make([]cellRevoke, len(targets))
	revoke := func(k, leases int) error {
		t := targets[k]
		if t.revoke == "" {
			return nil
		}
		start := time.Now()
		if err := e.revokePrefix(ctx, t.revoke); err != nil {
			return fmt.Errorf("revoking %s: %w", t.revoke, err)
		}
		revokes[k].Leases += leases
		revokes[k].Took += time.Since(start)
		return nil
	}
	for k := range targets {
		if err := revoke(k, 0); err != nil {
			return err
		}
		revokes[k].Leases, revokes[k].Took = 0, 0
	}
	vaultPID := e.vault.Pid()
	pluginPID := map[string]int{ourPlugin: childPID(vaultPID, ourPlugin), minimalPlugin: childPID(vaultPID, minimalPlugin)}
	per := b.o.duration / time.Duration(b.o.rounds)
	settle := min(200*time.Millisecond, per/2)
	for round := range b.o.rounds {
		for i := range targets {
			k := (i + round) % len(targets)
			t := targets[k]
			// Unmeasured: the garbage and GC debt the previous turn (or
			// revoke) left behind are paid by this target's own traffic.
			warm := closedLoop(ctx, e.reader(t.path), conc, settle)
			v0, p0 := cpuTime(vaultPID), cpuTime(pluginPID[t.plugin])
			own0, busy0 := b.ownCPU(vaultPID, pluginPID), machineBusy()
			s := closedLoop(ctx, e.reader(t.path), conc, per)
			cells[k].VaultCPU += cpuTime(vaultPID) - v0
			cells[k].PluginCPU += cpuTime(pluginPID[t.plugin]) - p0
			b.res.foreignCPU += (machineBusy() - busy0) - (b.ownCPU(vaultPID, pluginPID) - own0)
			b.res.measured += per
			cells[k].add(s)
			if err := revoke(k, warm.total+s.total); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	after, err := e.simTokenRequests("alation")
	if err != nil {
		return err
	}
	b.res.hitVendorRequests += after - before
	step("CPU used by other processes so far during measured cells: %.1f%% of the machine", max(0, b.res.foreignShare()*100))
	for k, t := range targets {
		c := &cells[k]
		c.Target, c.Concurrency = t.key, conc
		step("%-11s c=%-3d %8.0f req/s  p50 %s  p99 %s  errors %d  CPU/read: Vault %s, plugin %s", t.key, conc, c.RPS(),
			ms(c.Lat.P50), ms(c.Lat.P99), c.Errors, us(c.perRead(c.VaultCPU)), us(c.perRead(c.PluginCPU)))
		if c.OK == 0 {
			return fmt.Errorf("no successful read of %s: %s", t.path, c.FirstErr)
		}
		c.samples = nil
		b.res.cells = append(b.res.cells, *c)
		if t.revoke != "" {
			revokes[k].Target, revokes[k].Concurrency = t.key, conc
			b.res.cellRevokes = append(b.res.cellRevokes, revokes[k])
		}
	}
	return nil
}

// ownCPU is the CPU time used so far by the processes of the bench: the
// driver, Vault and both plugins.
func (b *bench) ownCPU(vaultPID int, plugins map[string]int) time.Duration {
	d := cpuTime(os.Getpid()) + cpuTime(vaultPID)
	for _, pid := range plugins {
		d += cpuTime(pid)
	}
	return d
}

// faninUnit: fresh configs (no token anywhere), n readers released at
// once, the simulator's token request count; once with an instant vendor
// and once with a slow one (every reader arrives while the grant is in
// flight).
func (b *bench) faninUnit() unit {
	return unit{
		name: "fan-in",
		est:  func() time.Duration { return 10 * time.Second },
		run: func(ctx context.Context) error {
			e := b.env
			defer e.simKnobs("alertsite", map[string]string{})
			for i, delay := range []time.Duration{0, b.o.vendorDelay} {
				if err := e.simKnobs("alertsite", map[string]string{"latency": delay.String()}); err != nil {
					return err
				}
				name := fmt.Sprintf("fanin-%d", i)
				// verify=false: a verified write would mint the token, and the
				// readers would find it cached.
				if err := e.configure(ctx, name, "alertsite", map[string]interface{}{"verify": false}); err != nil {
					return err
				}
				if _, err := burst(ctx, e.reader("sys/health"), b.o.fanin); err != nil {
					return fmt.Errorf("warming connections: %w", err)
				}
				before, err := e.simTokenRequests("alertsite")
				if err != nil {
					return err
				}
				lats, err := burst(ctx, e.reader(ourMount+"/creds/"+name), b.o.fanin)
				if err != nil {
					return err
				}
				after, err := e.simTokenRequests("alertsite")
				if err != nil {
					return err
				}
				f := faninResult{Delay: delay, Readers: b.o.fanin, TokenRequests: after - before, Lat: summarise(lats)}
				step("fan-in: %d cold readers, vendor delay %s: %d token request(s), p50 %s, max %s",
					f.Readers, delay, f.TokenRequests, ms(f.Lat.P50), ms(f.Lat.Max))
				b.res.fanin = append(b.res.fanin, f)
				if err := e.revokePrefix(ctx, ourMount+"/creds/"+name); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// leasesUnit: n leased reads of one config, the leases Vault then holds,
// and the time revoke-prefix takes to clear them.
func (b *bench) leasesUnit() unit {
	return unit{
		name: "lease pile-up",
		est:  func() time.Duration { return 40 * time.Second },
		run: func(ctx context.Context) error {
			e := b.env
			const name = "piles"
			prefix := ourMount + "/creds/" + name
			if err := e.configure(ctx, name, "alation", nil); err != nil {
				return err
			}
			p := &pilesResult{Reads: b.o.leases, Concurrency: b.o.leaseConc}
			var err error
			if p.ReadTook, err = countedLoop(ctx, e.reader(prefix), b.o.leaseConc, b.o.leases); err != nil {
				return err
			}
			start := time.Now()
			if p.Leases, err = e.leaseCount(ctx, prefix); err != nil {
				return err
			}
			p.ListTook = time.Since(start)
			start = time.Now()
			if err := e.revokePrefix(ctx, prefix); err != nil {
				return err
			}
			p.RevokeCall = time.Since(start)
			for {
				n, err := e.leaseCount(ctx, prefix)
				if err != nil {
					return err
				}
				if n == 0 {
					break
				}
				if time.Since(start) > 10*time.Minute {
					return fmt.Errorf("%d leases still listed 10 minutes after revoke-prefix", n)
				}
				time.Sleep(100 * time.Millisecond)
			}
			p.RevokeTotal = time.Since(start)
			step("leases: %d leased reads in %s left %d leases; revoke-prefix %s (until the list is empty: %s)",
				p.Reads, p.ReadTook.Round(time.Millisecond), p.Leases, p.RevokeCall.Round(time.Millisecond), p.RevokeTotal.Round(time.Millisecond))
			b.res.leases = p
			return nil
		},
	}
}
