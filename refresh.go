package oauthvendor

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/hashicorp/vault/sdk/helper/locksutil"
	"github.com/hashicorp/vault/sdk/logical"
)

// served is a token on its way to a reader, with a warning when it is the
// still-valid old token after a failed refresh.
type served struct {
	tok     *cachedToken
	warning string
}

// refreshFailure remembers a failed refresh that fell back to the cached
// token, so that readers in the window do not each ask a failing vendor
// again (AlphaSense and AgentSync rate-limit their token endpoints).
type refreshFailure struct {
	until   time.Time
	warning string
}

// retryCooldown spaces refresh attempts while a valid token is served: a
// tenth of the refresh window, between 1 s and 30 s.
func retryCooldown(t *cachedToken, refreshBefore time.Duration) time.Duration {
	return min(max(t.refreshWindow(refreshBefore)/10, time.Second), 30*time.Second)
}

// token returns a servable token for a config: the in-memory copy when it
// is outside its refresh window (or a refresh failed moments ago and it
// is still valid), else the result of one coalesced refresh.
func (b *backend) token(ctx context.Context, s logical.Storage, e *entry) (*served, error) {
	cfg := e.conn.cfg
	now := b.now()
	t := e.tok.Load()
	if t.fresh(now, cfg.RefreshBefore, cfg.Generation) {
		return &served{tok: t}, nil
	}
	if f := e.failure.Load(); f != nil && now.Before(f.until) && t.usable(now, cfg.Generation) {
		return &served{tok: t, warning: f.warning}, nil
	}
	key := e.conn.name + "@" + strconv.FormatUint(cfg.Generation, 10)
	v, err, _ := b.flights.Do(key, func() (interface{}, error) {
		// Detached from the first caller: its cancellation must not fail
		// the readers that joined the flight.
		return b.refresh(context.WithoutCancel(ctx), s, e, onRead)
	})
	if err != nil {
		return nil, err
	}
	return v.(*served), nil
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

// refresh runs under the per-name lock: re-check storage (another node,
// an earlier flight or the periodic refresh may have cached a token), then
// grant.
func (b *backend) refresh(ctx context.Context, s logical.Storage, e *entry, mode refreshMode) (*served, error) {
	lock := locksutil.LockForKey(b.locks, e.conn.name)
	lock.Lock()
	defer lock.Unlock()

	cfg := e.conn.cfg
	stored, err := loadToken(ctx, s, e.conn.name)
	if err != nil {
		return nil, err // a failing Get must not mint
	}
	if mode.satisfiedBy(stored, b.now(), cfg) {
		e.tok.Store(stored)
		return &served{tok: stored}, nil
	}
	if b.readOnly() {
		return nil, logical.ErrReadOnly
	}
	return b.mint(ctx, s, e, stored, mode)
}

// mint asks the vendor, caches the answer in storage then memory, and
// falls back to a still-valid token when the vendor fails a read's refresh.
func (b *backend) mint(ctx context.Context, s logical.Storage, e *entry, stored *cachedToken, mode refreshMode) (*served, error) {
	name := e.conn.name
	tok, grantErr := e.conn.grant(ctx, b.now)
	b.recordGrant(ctx, s, name, grantErr)
	if grantErr != nil {
		b.Logger().Warn("token grant failed", "config", name, "error", grantErr.Error())
		if mode != onRotate && stored.usable(b.now(), e.conn.cfg.Generation) {
			return b.fallBack(e, stored, grantErr), nil
		}
		return nil, grantErr
	}
	// Never hand out a token the plugin cannot remember: the next reader
	// would mint another and the vendor would see two requests per cycle.
	if err := storeToken(ctx, s, name, tok); err != nil {
		return nil, err
	}
	e.read.Store(false)
	e.failure.Store(nil)
	e.tok.Store(tok)
	b.Logger().Debug("token minted", "config", name, "expires_at", tok.ExpiresAt.UTC().Format(time.RFC3339))
	return &served{tok: tok}, nil
}

// fallBack serves the still-valid cached token after a failed refresh,
// with a warning, and holds further attempts off for a cooldown.
func (b *backend) fallBack(e *entry, stored *cachedToken, grantErr error) *served {
	warning := fmt.Sprintf("refreshing the token failed; serving the cached token valid until %s: %v",
		stored.ExpiresAt.UTC().Format(time.RFC3339), grantErr)
	e.tok.Store(stored)
	e.failure.Store(&refreshFailure{until: b.now().Add(retryCooldown(stored, e.conn.cfg.RefreshBefore)), warning: warning})
	return &served{tok: stored, warning: warning}
}
