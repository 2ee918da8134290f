package oauthvendor

import (
	"context"
	"fmt"

	"github.com/hashicorp/vault/sdk/logical"
)

func (b *backend) cached(name string) *entry {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.entries[name]
}

// forget drops a config's in-memory state; the next read reloads storage.
func (b *backend) forget(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.epoch.Add(1)
	b.dropLocked(name)
}

// dropLocked removes an entry and closes its idle vendor connections;
// b.mu is held.
func (b *backend) dropLocked(name string) {
	if e, ok := b.entries[name]; ok {
		e.conn.client.HTTPClient.CloseIdleConnections()
		delete(b.entries, name)
	}
}

// entryFor returns the in-memory entry for a config, loading and decoding
// the config from storage once per config version. nil when there is no
// such config.
func (b *backend) entryFor(ctx context.Context, s logical.Storage, name string) (*entry, error) {
	if e := b.cached(name); e != nil {
		return e, nil
	}
	epoch := b.epoch.Load()
	cfg, err := loadConfig(ctx, s, name)
	if err != nil || cfg == nil {
		return nil, err
	}
	conn, err := b.connect(ctx, name, cfg)
	if err != nil {
		return nil, err
	}
	e := &entry{conn: conn}
	b.mu.Lock()
	defer b.mu.Unlock()
	if existing, ok := b.entries[name]; ok {
		return existing, nil
	}
	if b.epoch.Load() == epoch {
		b.entries[name] = e
	}
	return e, nil
}

// mustEntryFor is entryFor for paths where a missing config is a 404.
func (b *backend) mustEntryFor(ctx context.Context, s logical.Storage, name string) (*entry, error) {
	e, err := b.entryFor(ctx, s, name)
	if err == nil && e == nil {
		err = notFound(name)
	}
	return e, err
}

// connect prepares a stored config to run.
func (b *backend) connect(ctx context.Context, name string, raw *vendorConfig) (*connection, error) {
	cfg := raw.effective()
	client, err := newHTTPClient(cfg, b.Logger().Named("http").With("config", name))
	if err != nil {
		return nil, fmt.Errorf("config %q: %w", name, err)
	}
	return &connection{name: name, cfg: cfg, client: client, red: newRedactor(cfg), userAgent: b.pluginUserAgent(ctx)}, nil
}

func notFound(name string) error {
	return logical.CodedError(404, fmt.Sprintf("no vendor config named %q", name))
}
