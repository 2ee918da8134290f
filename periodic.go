package oauthvendor

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// refreshWorkers bounds the grants one periodic pass runs at once. At
// 500 ms a grant, 16 workers refresh about 1 900 tokens a minute (Vault
// calls PeriodicFunc about once a minute), while a vendor that stalls for
// its whole timeout holds one worker, not the pass.
const refreshWorkers = 16

// periodic refreshes, ahead of the read path's window, the tokens somebody
// read during their current lifetime, so that in steady state no reader
// waits on the vendor. Tokens nobody reads are left to expire. It runs on
// the node that can write storage; the per-name lock and the re-check in
// refresh keep it at one vendor request per cycle together with readers.
//
// Its cost is O(due) in vendor requests and storage reads: which tokens
// are due is known from memory (after a one-off load of the read marks on
// a new active node, readmark.go).
func (b *backend) periodic(ctx context.Context, req *logical.Request) error {
	if b.readOnly() {
		return nil
	}
	s := req.Storage
	b.storeAllPending(ctx, s) // rotated refresh tokens storage refused before
	// Device consents pending before a restart or a new leader: the
	// poller steps them at their own pace (device_poller.go).
	b.resumeDevices(ctx, s)
	if err := b.loadReadMarksOnce(ctx, s); err != nil {
		b.Logger().Warn("could not load which tokens were read; the periodic refresh covers those read on this node until the next pass", "error", err)
	}
	b.warnConsentMarks(b.loadConsentMarksOnce(ctx, s))
	b.retryConsentMarks(ctx, s)
	start := time.Now()
	due := b.dueProactively()
	var refreshed, failed atomic.Int64
	// Vault cancels a pass that runs too long: then no further grant
	// starts, but those under way finish within their own timeout and
	// record their outcome (a cancelled context would fail their status
	// writes). What is left is still due at the next tick.
	work := context.WithoutCancel(ctx)
	forEachBounded(ctx, refreshWorkers, due, func(e *entry) {
		if _, err := b.refresh(work, s, e, proactively); err != nil && err != errStale {
			failed.Add(1)
			b.Logger().Warn("proactive refresh failed", "config", e.conn.name, "error", err.Error())
			return
		}
		refreshed.Add(1)
	})
	b.logPass(len(due), int(refreshed.Load()), int(failed.Load()), time.Since(start), ctx.Err())
	return nil
}

// loadReadMarksOnce runs the one-off load of the read marks on the first
// periodic pass of a node that can write: afterwards this node's memory
// knows every token to refresh.
func (b *backend) loadReadMarksOnce(ctx context.Context, s logical.Storage) error {
	return loadMarksOnce(ctx, s, &b.marksLoaded, readMarkPrefix, "read marks", b.loadReadMark)
}

// loadMarksOnce lists the marks under prefix and loads each, at most
// refreshWorkers at once, until one pass loaded them all (loaded): what a
// new active node or a restarted plugin must know before anyone reads.
// A failed load is tried again at the next pass.
func loadMarksOnce(ctx context.Context, s logical.Storage, loaded *atomic.Bool, prefix, what string,
	load func(context.Context, logical.Storage, string) error) error {
	if loaded.Load() {
		return nil
	}
	names, err := s.List(ctx, prefix)
	if err != nil {
		return fmt.Errorf("listing %s: %w", what, err)
	}
	var failures atomic.Int64
	var first atomic.Value
	forEachBounded(ctx, refreshWorkers, names, func(name string) {
		if err := load(ctx, s, name); err != nil {
			failures.Add(1)
			first.CompareAndSwap(nil, err)
		}
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	if err, _ := first.Load().(error); err != nil {
		return fmt.Errorf("%d of %d %s not loaded (retried at the next pass): %w", failures.Load(), len(names), what, err)
	}
	loaded.Store(true)
	return nil
}

// logPass: one line per pass that asked a vendor (Info: how long the
// refresh of a large mount takes is an operator's question), else Debug.
func (b *backend) logPass(due, refreshed, failed int, took time.Duration, cancelled error) {
	log := b.Logger().Debug
	if due > 0 {
		log = b.Logger().Info
	}
	args := []interface{}{"due", due, "refreshed", refreshed, "failed", failed,
		"took", took.Round(time.Millisecond).String(), "goroutines", runtime.NumGoroutine()}
	if cancelled != nil {
		args = append(args, "cancelled", cancelled.Error())
	}
	log("proactive refresh pass", args...)
}

// forEachBounded runs fn on items with at most workers at once, and stops
// handing out items once ctx is done; it returns when every fn started
// has returned.
func forEachBounded[T any](ctx context.Context, workers int, items []T, fn func(T)) {
	next := make(chan T)
	var wg sync.WaitGroup
	for range min(workers, len(items)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range next {
				fn(it)
			}
		}()
	}
	for _, it := range items {
		if ctx.Err() != nil {
			break
		}
		select {
		case next <- it:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
}

// dueProactively lists the entries whose read token entered its proactive
// window: a scan of memory, no storage read.
func (b *backend) dueProactively() []*entry {
	now := b.now()
	b.mu.RLock()
	defer b.mu.RUnlock()
	var out []*entry
	for _, e := range b.entries {
		if b.isDue(e, now) {
			out = append(out, e)
		}
	}
	return out
}

func (b *backend) isDue(e *entry, now time.Time) bool {
	t := e.tok.Load()
	if t == nil || !t.read.Load() || t.Generation != e.conn.cfg.Generation {
		return false
	}
	if f := e.failure.Load(); f != nil && now.Before(f.until) {
		return false // the last attempt failed moments ago
	}
	return t.inProactiveWindow(now, e.conn.cfg.RefreshBefore)
}
