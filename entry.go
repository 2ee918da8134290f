package oauthvendor

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// The entries: an entry is the in-memory view of one config, built
// from storage on first use (connect), shared by every reader, and
// forgotten when the config is written, deleted or invalidated. Entries
// are created and forgotten only under the config's name lock, which
// config writes, deletes and grants hold too: an entry in the map is the
// config in storage, and a grant holding a forgotten one sees `gone`.
// The states an entry goes through, and what changes its token and
// failure, are lifecycle.go's; this file keeps the map (vendor.go connects).

// entry is one config's connection (decoded once per config version) and
// its shared token.
type entry struct {
	conn *connection
	tok  atomic.Pointer[cachedToken]
	// failure: the last grant failed; readers get its answer until the
	// back-off passes.
	failure atomic.Pointer[failureState]
	// gone: forgotten; whoever holds it must load the current entry.
	gone atomic.Bool
}

// failureState is a config's last failed grant as readers meet it: until
// `until`, a reader gets the still-valid cached token with `warning`, or,
// with none, `err`, and the vendor is not asked again (API.md "Failures
// and back-off"). It mirrors the back-off stored in status/<name>, which
// survives restarts and leader changes; memory only saves the storage read.
type failureState struct {
	until   time.Time
	err     error
	warning string
}

// serve answers a reader during the back-off.
func (f *failureState) serve(t *cachedToken, now time.Time, generation uint64) (*served, error) {
	if t.usable(now, generation) {
		return &served{tok: t, warning: f.warning, at: now}, nil
	}
	return nil, f.err
}

func (b *backend) cached(name string) *entry {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.entries[name]
}

// snapshot lists the entries in memory (the metrics' expiry gauge).
func (b *backend) snapshot() []*entry {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]*entry, 0, len(b.entries))
	for _, e := range b.entries {
		out = append(out, e)
	}
	return out
}

// entryFor returns the in-memory entry for a config, loading and decoding
// the config from storage once per config version. nil when there is no
// such config.
func (b *backend) entryFor(ctx context.Context, s logical.Storage, name string) (*entry, error) {
	if e := b.cached(name); e != nil {
		return e, nil
	}
	unlock := b.locks.lock(name)
	defer unlock()
	return b.entryLocked(ctx, s, name)
}

// entryLocked is entryFor with the name lock held.
func (b *backend) entryLocked(ctx context.Context, s logical.Storage, name string) (*entry, error) {
	if e := b.cached(name); e != nil {
		return e, nil
	}
	cfg, err := loadConfig(ctx, s, name)
	if err != nil || cfg == nil {
		return nil, err
	}
	conn, err := b.connect(ctx, s, name, cfg)
	if err != nil {
		return nil, err
	}
	e := &entry{conn: conn}
	b.mu.Lock()
	b.entries[name] = e
	b.mu.Unlock()
	return e, nil
}

// mustEntryFor is entryFor for paths where a missing config is a 404.
func (b *backend) mustEntryFor(ctx context.Context, s logical.Storage, name string) (*entry, error) {
	return orNotFound(name)(b.entryFor(ctx, s, name))
}

// orNotFound turns "no such config" (a nil entry, no error) into the 404.
func orNotFound(name string) func(*entry, error) (*entry, error) {
	return func(e *entry, err error) (*entry, error) {
		if err == nil && e == nil {
			err = notFound(name)
		}
		return e, err
	}
}

// forgetLocked drops a config's in-memory state (the next read reloads
// storage); the name lock is held.
func (b *backend) forgetLocked(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dropLocked(name)
}

// dropLocked removes an entry and releases its share of a transport (the
// last config using one closes its idle vendor connections); b.mu is held.
func (b *backend) dropLocked(name string) {
	if e, ok := b.entries[name]; ok {
		e.gone.Store(true)
		e.conn.release()
		delete(b.entries, name)
	}
}
