package oauthvendor

import (
	"sync"
	"time"
)

const tokenPrefix = "token/"

// Lease arithmetic (API.md "creds/<name> response").
const (
	// minLease: a token with less lease than this left is not served.
	minLease = 2 * time.Second
	// minLifetime: a vendor lifetime shorter than this could never give a
	// lease of minLease after its margin, so it is refused as garbage.
	minLifetime = 3 * time.Second
	// maxLifetime: anything longer is a vendor bug (or an overflow attempt).
	maxLifetime = 10 * 365 * 24 * time.Hour
)

// cachedToken is the vendor token shared by every reader of a config. It
// lives in Vault storage (barrier-encrypted) so that a plugin restart or a
// leader change serves it instead of minting a new one.
type cachedToken struct {
	AccessToken string    `json:"access_token"`
	TokenType   string    `json:"token_type"`
	MintedAt    time.Time `json:"minted_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	Generation  uint64    `json:"generation"`

	// boxed holds the reader-facing values, formatted and boxed once per
	// token rather than on every cache hit (the hot path's allocations).
	boxOnce sync.Once
	boxed   struct{ accessToken, tokenType, expiresAt interface{} }
}

func (t *cachedToken) box() {
	t.boxOnce.Do(func() {
		t.boxed.accessToken = t.AccessToken
		t.boxed.tokenType = t.TokenType
		t.boxed.expiresAt = t.ExpiresAt.UTC().Format(time.RFC3339)
	})
}

func (t *cachedToken) lifetime() time.Duration { return t.ExpiresAt.Sub(t.MintedAt) }

// margin keeps a lease ending before its token: a minute, or a tenth of
// the lifetime for tokens under ten minutes.
func (t *cachedToken) margin() time.Duration {
	if l := t.lifetime(); l < 10*time.Minute {
		return l / 10
	}
	return time.Minute
}

// rawLease is the time a reader may hold the token, before max_ttl.
func (t *cachedToken) rawLease(now time.Time) time.Duration {
	return t.ExpiresAt.Sub(now) - t.margin()
}

// leaseTTL is the TTL handed to a reader, in whole seconds; never 0 for a
// servable token (Vault would turn 0 into the mount default, 32 days).
func (t *cachedToken) leaseTTL(now time.Time, maxTTL time.Duration) time.Duration {
	ttl := t.rawLease(now).Truncate(time.Second)
	if maxTTL > 0 && ttl > maxTTL {
		ttl = maxTTL
	}
	return max(ttl, time.Second)
}

func (t *cachedToken) servable(now time.Time) bool { return t.rawLease(now) >= minLease }

// refreshWindow is how long before expiry a read mints a new token. The
// default min(max(L/4, 2m), L/2) makes Vault Agent's re-read of a
// non-renewable lease (at 85-95% of its TTL) land inside the window for
// every lifetime, so an Agent gets a new token rather than the same one
// with an ever-shorter lease (checked in lease_test.go).
func (t *cachedToken) refreshWindow(refreshBefore time.Duration) time.Duration {
	l := t.lifetime()
	if refreshBefore > 0 {
		// Never more than half the lifetime: a refresh_before longer than
		// the vendor's tokens would otherwise mint on every read and run
		// into the token endpoint's rate limit (AlphaSense, AgentSync: 429).
		return min(refreshBefore, l/2)
	}
	return min(max(l/4, 2*time.Minute), l/2)
}

// fresh: served from cache without asking the vendor.
func (t *cachedToken) fresh(now time.Time, refreshBefore time.Duration, generation uint64) bool {
	return t != nil && t.Generation == generation && t.servable(now) &&
		t.ExpiresAt.Sub(now) >= t.refreshWindow(refreshBefore)
}

// usable: still valid for a reader even though a refresh is due; served
// with a warning when the refresh fails.
func (t *cachedToken) usable(now time.Time, generation uint64) bool {
	return t != nil && t.Generation == generation && t.servable(now)
}
