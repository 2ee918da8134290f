package oauthvendor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// The read mark: proactive refresh is for tokens somebody read during
// their lifetime (an unread token is left to expire). Memory knows that on
// the node that served the reads; readmark/<name> tells a new active node
// or a restarted plugin, which would otherwise leave the token to the
// first reader inside its refresh window (a Vault Agent re-reading at
// 85-95% of its lease always lands there) and make that reader wait on the
// vendor. The first read of a token's lifetime writes the mark once; every
// later hit costs one atomic load.
//
// The mark names the token it was written for, so it needs no delete when
// the token changes: a mark for another token is no mark. It names it by
// a digest (next to the token itself, inside the barrier), never the token.
const readMarkPrefix = "readmark/"

type readMark struct {
	Token     string    `json:"token_sha256"`
	ExpiresAt time.Time `json:"expires_at"`
}

func markFor(t *cachedToken) *readMark {
	return &readMark{Token: tokenDigest(t), ExpiresAt: t.ExpiresAt}
}

// marks: the mark was written for t. Times cannot tell two tokens apart
// (two grants in one clock tick); the token can.
func (m *readMark) marks(t *cachedToken) bool {
	return m != nil && t != nil && m.Token == tokenDigest(t)
}

func tokenDigest(t *cachedToken) string {
	sum := sha256.Sum256([]byte(t.AccessToken))
	return hex.EncodeToString(sum[:16])
}

// markRead records that a reader got t. Only the first reader of a token
// (per node and lifetime) writes; a node that cannot write storage (a
// performance standby) keeps the mark in memory only, and a failed write
// costs one missed proactive refresh after a failover, never the read.
//
// The write holds the name lock, so that it cannot land after a delete of
// the config; it only tries the lock: a reader never waits behind a grant
// for a mark, and the next reader tries again.
func (b *backend) markRead(ctx context.Context, s logical.Storage, e *entry, t *cachedToken) {
	if t.read.Load() || !t.read.CompareAndSwap(false, true) {
		return
	}
	unlock, ok := b.locks.tryLock(e.conn.name)
	if !ok {
		t.read.Store(false)
		return
	}
	defer unlock()
	if e.gone.Load() {
		return
	}
	if err := putJSON(ctx, s, readMarkPrefix+e.conn.name, fmt.Sprintf("read mark of %q", e.conn.name), markFor(t)); err != nil {
		if readOnlyOr(err) != logical.ErrReadOnly {
			b.Logger().Warn("could not record that the token was read; a new active node will not refresh it ahead of readers", "config", e.conn.name, "error", err)
		}
	}
}

// loadReadMark brings one marked config into memory with its token marked
// read, when the mark is for the token in storage. Under the name lock,
// like every change of an entry's token.
func (b *backend) loadReadMark(ctx context.Context, s logical.Storage, name string) error {
	unlock := b.locks.lock(name)
	defer unlock()
	e, err := b.entryLocked(ctx, s, name)
	if err != nil {
		return err
	}
	if e == nil {
		// The config was deleted after a reader wrote the mark.
		return s.Delete(ctx, readMarkPrefix+name)
	}
	t := e.tok.Load()
	if t != nil && t.read.Load() {
		return nil // read on this node already
	}
	m, err := getJSON[readMark](ctx, s, readMarkPrefix+name, fmt.Sprintf("read mark of %q", name))
	if err != nil || m == nil {
		return err
	}
	if t == nil {
		if t, err = loadToken(ctx, s, name); err != nil {
			return err
		}
	}
	if !m.marks(t) || !t.usable(b.now(), e.conn.cfg.Generation) {
		return nil
	}
	t.read.Store(true)
	e.tok.Store(t)
	return nil
}
