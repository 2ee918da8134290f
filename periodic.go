package oauthvendor

import (
	"context"

	"github.com/hashicorp/vault/sdk/logical"
)

// periodic refreshes, ahead of the read path's window, the tokens somebody
// read during their current lifetime, so that in steady state no reader
// waits on the vendor. Tokens nobody reads are left to expire. It runs on
// the node that can write storage; the per-name lock and the re-check in
// refresh keep it at one vendor request per cycle together with readers.
func (b *backend) periodic(ctx context.Context, req *logical.Request) error {
	if b.readOnly() {
		return nil
	}
	for _, e := range b.snapshot() {
		if !b.dueProactively(e) {
			continue
		}
		if _, err := b.refresh(ctx, req.Storage, e, proactively); err != nil && err != errStale {
			b.Logger().Warn("proactive refresh failed", "config", e.conn.name, "error", err.Error())
		}
	}
	return nil
}

func (b *backend) snapshot() []*entry {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]*entry, 0, len(b.entries))
	for _, e := range b.entries {
		out = append(out, e)
	}
	return out
}

func (b *backend) dueProactively(e *entry) bool {
	t := e.tok.Load()
	if t == nil || !e.read.Load() || t.Generation != e.conn.cfg.Generation {
		return false
	}
	if f := e.failure.Load(); f != nil && b.now().Before(f.until) {
		return false // the last attempt failed moments ago
	}
	return t.ExpiresAt.Sub(b.now()) < t.proactiveWindow(e.conn.cfg.RefreshBefore)
}
