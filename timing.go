package oauthvendor

import (
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// The timing policy, top to bottom: how long a token is served, when a
// read or the periodic pass replaces it, and how long a failing vendor is
// left alone. API.md ("creds/<name> response", "Failures and back-off")
// is the contract; lease_test.go checks the arithmetic.

// Lease arithmetic.
const (
	// minLease: a token with less lease than this left is not served.
	minLease = 2 * time.Second
	// minLifetime: a vendor lifetime shorter than this could never give a
	// lease of minLease after its margin, so it is refused as garbage.
	minLifetime = 3 * time.Second
	// maxLifetime: anything longer is a vendor bug (or an overflow attempt).
	maxLifetime = 10 * 365 * 24 * time.Hour
)

// Back-off after failed grants.
const (
	// backoffTransient starts the back-off after a 5xx, a timeout, garbage
	// or a storage fault: the vendor may be back in a moment.
	backoffTransient = time.Second
	// backoffRejected starts it after the vendor refused the credentials:
	// asking again with the same ones cannot succeed, and password grants
	// lock accounts after a few failures (AlphaSense, page 000).
	backoffRejected = 30 * time.Second
	// backoffMax caps the growth: an operator who fixes the vendor side
	// without touching Vault waits at most this long.
	backoffMax = 5 * time.Minute
	// retryAfterMax caps how long a vendor's Retry-After can silence a config.
	retryAfterMax = time.Hour
	// needsConsentRecheck: how long a node answers a connection that needs
	// consent from memory before reading its status again. Not a back-off:
	// no refresh grant runs until a consent finishes, however long it takes
	// (a refused refresh token stays refused; strict vendors count the
	// attempts).
	needsConsentRecheck = time.Minute
	// consentTTL: how long a consent's state and PKCE verifier wait for the
	// user (RFC 6749 10.5: authorization codes live minutes; a state
	// nobody used must not stay valid for long either).
	consentTTL = 10 * time.Minute
)

func (t *cachedToken) lifetime() time.Duration { return t.ExpiresAt.Sub(t.MintedAt) }

// margin keeps a lease ending before its token: a minute, or a tenth of
// the lifetime for tokens under ten minutes.
func (t *cachedToken) margin() time.Duration { return marginFor(t.lifetime()) }

func marginFor(l time.Duration) time.Duration {
	if l < 10*time.Minute {
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
	return refreshWindowFor(t.lifetime(), refreshBefore)
}

func refreshWindowFor(l, refreshBefore time.Duration) time.Duration {
	if refreshBefore > 0 {
		// Never more than half the lifetime: a refresh_before longer than
		// the vendor's tokens would otherwise mint on every read and run
		// into the token endpoint's rate limit (AlphaSense, AgentSync: 429).
		return min(refreshBefore, l/2)
	}
	return min(max(l/4, 2*time.Minute), l/2)
}

// Vault Agent renders templates with consul-template (v0.41.1 in Vault
// 1.21; dependency/vault_common.go, leaseCheckWait), which re-reads a
// non-renewable secret after sleeping
//   - with a lease: lease_renewal_threshold (0.9) of its TTL, +/- 0.05 of
//     jitter, so 85-95%;
//   - with no lease but rotation_period in the data: exactly ttl+1 s (the
//     "cushion"), no jitter; ttl=0 is an error and a retry in later
//     releases;
//   - with no lease otherwise: 85-95% of its default_lease_duration (5m),
//     whatever the token's lifetime.
const (
	agentReReadMin = 0.85
	// agentCushion is the second consul-template adds to a rotating
	// secret's ttl before re-reading it.
	agentCushion = time.Second
)

// plainTTL is the ttl of a lease=false answer: the lease TTL one second
// short, so that Agent's re-read (ttl + agentCushion, see above) comes when
// the lease would have ended: inside the refresh window and at least the
// margin before expiry, for every lifetime (lease_test.go). Readers other
// than Agent just use the token a second less. Never 0 (see above).
func (t *cachedToken) plainTTL(now time.Time, maxTTL time.Duration) time.Duration {
	return max(t.leaseTTL(now, maxTTL)-agentCushion, time.Second)
}

// rotationPeriod is how long one token is handed out before a read mints
// the next: its lifetime less the refresh window. A lease=false answer
// carries it because its presence is what makes Agent honour ttl.
func (t *cachedToken) rotationPeriod(refreshBefore time.Duration) time.Duration {
	return max((t.lifetime() - t.refreshWindow(refreshBefore)).Truncate(time.Second), time.Second)
}

// agentLeaseWindow is a refresh window long enough for Agent's re-read of
// a lease of a token of lifetime l to receive a new token. A read with x
// left (x <= l) gets TTL = trunc(x - m) > x - m - 1s; the re-read at
// >= 85% of it leaves less than 0.15x + 0.85(m + 1s) <= 0.15l + 0.85(m + 1s),
// which must be inside the window. Where the default window is shorter
// than that bound it still suffices (checked read by read in
// lease_test.go), and a longer window only serves fewer reads from cache:
// so the smaller of the two is enough.
func agentLeaseWindow(l time.Duration) time.Duration {
	m := marginFor(l)
	bound := time.Duration((1-agentReReadMin)*float64(l) + agentReReadMin*float64(m+time.Second))
	ceil := bound.Truncate(time.Second) + time.Second
	return min(ceil, refreshWindowFor(l, 0))
}

// agentWindowShort says whether an explicit refresh_before leaves a leased
// token of lifetime l with a window too short for Agent's re-read (above),
// and what window would do. lease=false needs no such check: with no
// max_ttl, Agent's re-read comes with under a second of lease left, where
// the token is no longer servable (minLease) whatever the window.
func agentWindowShort(refreshBefore, l time.Duration) (time.Duration, bool) {
	if refreshBefore <= 0 || l <= 0 {
		return 0, false
	}
	need := agentLeaseWindow(l)
	// A token with under minLease of lease left is replaced whatever the
	// window: that is where a short window still ends.
	due := max(refreshWindowFor(l, refreshBefore), marginFor(l)+minLease)
	return need, due < need
}

// proactiveWindow opens before the read path's refresh window by up to two
// periodic ticks (Vault calls PeriodicFunc about once a minute), so the
// background refresh lands before any reader would have to wait.
func (t *cachedToken) proactiveWindow(refreshBefore time.Duration) time.Duration {
	lead := min(2*time.Minute, t.lifetime()/4)
	return min(t.refreshWindow(refreshBefore)+lead, t.lifetime()*3/4)
}

// inProactiveWindow: the periodic pass replaces the token now.
func (t *cachedToken) inProactiveWindow(now time.Time, refreshBefore time.Duration) bool {
	return t.ExpiresAt.Sub(now) < t.proactiveWindow(refreshBefore)
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

// backoffAfter is how long a config waits after its n-th consecutive
// failed grant (n >= 1): exponential from a base that depends on why it
// failed, capped, and never shorter than the vendor's own Retry-After
// (RFC 9110 10.2.3).
func backoffAfter(n int, f *grantFailure) time.Duration {
	base := backoffTransient
	if f.rejected {
		base = backoffRejected
	}
	d := retryablehttp.DefaultBackoff(base, backoffMax, n-1, nil)
	if f.retryAfter > d {
		d = min(f.retryAfter, retryAfterMax)
	}
	return d
}

// staleRetryAfter bounds the back-off of a transient failure while a
// still-valid token is served:
// the next attempt comes no later than halfway through the lease the token
// has left (so a vendor that recovers is asked again before readers run
// out), and no sooner than a second after the last one.
func staleRetryAfter(backoff time.Duration, t *cachedToken, now time.Time) time.Duration {
	return max(min(backoff, t.rawLease(now)/2), time.Second)
}

// retryWait is the wait before the next grant after a failed one that
// earned backoff: sooner while a still-valid token (stale, nil if none)
// serves, but never before the vendor's own Retry-After; never for
// rejected credentials, whose attempts lock password-grant accounts.
func retryWait(backoff time.Duration, f *grantFailure, stale *cachedToken, now time.Time) time.Duration {
	if stale == nil || f.rejected {
		return backoff
	}
	return max(staleRetryAfter(backoff, stale, now), min(f.retryAfter, retryAfterMax))
}
