package oauthvendor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// served is a token on its way to a reader, with a warning when it is the
// still-valid old token after a failed refresh.
type served struct {
	tok     *cachedToken
	warning string
	// at is when it was judged servable: the lease is cut from the same
	// instant, so a token judged to have minLease left gets that lease.
	at time.Time
	// minted: a grant made it for this read (metrics: source="grant").
	minted bool
}

// errStale: the entry was forgotten (its config written or deleted) while
// the caller held it, or a joined flight's token aged past serving; the
// caller loads the current entry and tries again.
var errStale = errors.New("config changed")

// maxStaleRetries bounds how often a reader follows a config that keeps
// changing under it.
const maxStaleRetries = 3

// serve returns a servable token for a config name, following the config
// when a write replaces it mid-read. served comes back by value: a cache
// hit allocates nothing for it.
func (b *backend) serve(ctx context.Context, s logical.Storage, name string) (*entry, served, error) {
	for range maxStaleRetries {
		e, err := b.mustEntryFor(ctx, s, name)
		if err != nil {
			return nil, served{}, err
		}
		got, err := b.token(ctx, s, e)
		if err != errStale {
			return e, got, err
		}
	}
	return nil, served{}, logical.CodedError(http.StatusServiceUnavailable,
		fmt.Sprintf("vendor config %q changed %d times during the read; try again", name, maxStaleRetries))
}

// token returns a servable token: the in-memory copy when it is outside
// its refresh window, the back-off's answer while a failure is recent,
// else the result of one coalesced refresh.
func (b *backend) token(ctx context.Context, s logical.Storage, e *entry) (served, error) {
	cfg := e.conn.cfg
	now := b.now()
	t := e.tok.Load()
	if t.fresh(now, cfg.RefreshBefore, cfg.Generation) {
		return served{tok: t, at: now}, nil
	}
	if f := e.failure.Load(); f != nil && now.Before(f.until) {
		return deref(f.serve(t, now, cfg.Generation))
	}
	key := e.conn.name + "@" + strconv.FormatUint(cfg.Generation, 10)
	// Detached from the first caller: its cancellation must not fail the
	// readers that joined the flight, and the token it brings is cached
	// for the next ones. A reader that gives up stops waiting at once.
	ch := b.flights.DoChan(key, func() (interface{}, error) {
		return b.refresh(context.WithoutCancel(ctx), s, e, onRead)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return served{}, r.Err
		}
		got, now := r.Val.(*served), b.now()
		if !got.tok.servable(now) {
			// The flight began before this reader and its token, good
			// when it arrived, has too little left now: ask again.
			return served{}, errStale
		}
		return served{tok: got.tok, warning: got.warning, at: now, minted: got.minted}, nil
	case <-ctx.Done():
		return served{}, fmt.Errorf("waiting for the token of %q: %w", e.conn.name, ctx.Err())
	}
}

func deref(got *served, err error) (served, error) {
	if err != nil {
		return served{}, err
	}
	return *got, nil
}

// refreshMode says why a refresh runs, which decides when the token
// already in storage is good enough.
type refreshMode int

const (
	onRead      refreshMode = iota // a reader found no fresh token
	onRotate                       // the operator asked for a new token
	proactively                    // the periodic refresh, ahead of readers
)

func (m refreshMode) satisfiedBy(t *cachedToken, now time.Time, cfg *vendorConfig) bool {
	switch m {
	case onRead:
		return t.fresh(now, cfg.RefreshBefore, cfg.Generation)
	case proactively:
		return t.usable(now, cfg.Generation) && t.ExpiresAt.Sub(now) >= t.proactiveWindow(cfg.RefreshBefore)
	default:
		return false
	}
}

// refresh runs under the config's lock, which config writes and deletes
// also hold: a grant never runs for a config replaced meanwhile, and
// nothing it stores outlives a delete.
func (b *backend) refresh(ctx context.Context, s logical.Storage, e *entry, mode refreshMode) (*served, error) {
	unlock := b.locks.lock(e.conn.name)
	defer unlock()
	if e.gone.Load() {
		return nil, errStale
	}
	return b.refreshLocked(ctx, s, e, mode)
}

// refreshLocked re-checks storage (another node, an earlier flight or the
// periodic refresh may have cached a token, or a back-off be running),
// then grants. A rotate drops the cached token first (API.md).
func (b *backend) refreshLocked(ctx context.Context, s logical.Storage, e *entry, mode refreshMode) (*served, error) {
	name, cfg := e.conn.name, e.conn.cfg
	var stored *cachedToken
	if mode == onRotate {
		if b.readOnly() {
			return nil, logical.ErrReadOnly
		}
		if err := b.dropToken(ctx, s, e); err != nil {
			return nil, err
		}
	} else {
		var err error
		if stored, err = loadToken(ctx, s, name); err != nil {
			return b.storageFallback(e, err) // a failing Get must not mint
		}
		if mode.satisfiedBy(stored, b.now(), cfg) {
			e.tok.Store(stored)
			return &served{tok: stored, at: b.now()}, nil
		}
		if b.readOnly() {
			return nil, logical.ErrReadOnly
		}
	}
	st, err := loadStatus(ctx, s, name)
	if err != nil {
		return b.storageFallback(e, err)
	}
	if mode != onRotate && st.backingOff(b.now()) {
		if !stored.usable(b.now(), cfg.Generation) {
			stored = nil
		}
		f := failureFrom(name, st, stored, nil)
		e.failure.Store(f)
		if stored != nil {
			e.tok.Store(stored) // the next readers get it too, not only this one
		}
		return f.serve(stored, b.now(), cfg.Generation)
	}
	return b.mint(ctx, s, e, stored, st, mode)
}

func (b *backend) dropToken(ctx context.Context, s logical.Storage, e *entry) error {
	if err := s.Delete(ctx, tokenPrefix+e.conn.name); err != nil {
		return readOnlyOr(fmt.Errorf("dropping the cached token of %q: %w", e.conn.name, err))
	}
	e.tok.Store(nil)
	return nil
}

// mint records the grant's start, asks the vendor, and caches the answer
// in storage then memory. A token the plugin cannot store is a failure
// like any other: handing it out would make the next reader mint again.
func (b *backend) mint(ctx context.Context, s logical.Storage, e *entry, stored *cachedToken, st *grantStatus, mode refreshMode) (*served, error) {
	name := e.conn.name
	st.started(b.now(), e.conn.cfg.Timeout)
	if err := storeStatus(ctx, s, name, st); err != nil {
		// The replication state does not tell every read-only node
		// (OpenBao standbys serve reads themselves); storage does.
		if err = readOnlyOr(err); err == logical.ErrReadOnly || mode == onRotate {
			return nil, err
		}
		return b.storageFallback(e, err)
	}
	tok, fail := e.conn.grant(ctx, b.now)
	if fail == nil {
		if err := storeToken(ctx, s, name, tok); err != nil {
			fail = transient(fmt.Errorf("vendor config %q: the new token could not be cached, so it is not handed out: %w", name, err))
		}
	}
	if fail != nil {
		return b.failed(ctx, s, e, stored, st, fail, mode)
	}
	st.succeeded(b.now(), tok)
	b.saveStatus(ctx, s, name, st)
	e.failure.Store(nil)
	e.tok.Store(tok)
	b.Logger().Debug("token minted", "config", name, "expires_at", rfc3339(tok.ExpiresAt))
	return &served{tok: tok, at: b.now(), minted: true}, nil
}

// readOnlyOr hands Vault logical.ErrReadOnly itself when storage refused a
// write for that reason, so that it forwards the request to the node that
// can write (matched by message: errors.Is does not survive gRPC).
func readOnlyOr(err error) error {
	if strings.Contains(err.Error(), logical.ErrReadOnly.Error()) {
		return logical.ErrReadOnly
	}
	return err
}

// storageFallback: a storage fault on the way to a grant never takes a
// still-valid token from readers; without one, the fault is the answer
// (an error, not an error response: Vault logs it as internal).
func (b *backend) storageFallback(e *entry, err error) (*served, error) {
	now := b.now()
	if t := e.tok.Load(); t.usable(now, e.conn.cfg.Generation) {
		b.Logger().Warn("storage failed during a refresh; serving the cached token", "config", e.conn.name, "error", err)
		return &served{tok: t, at: now, warning: staleWarning(t, "storage: "+err.Error())}, nil
	}
	return nil, err
}
