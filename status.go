package oauthvendor

import (
	"context"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

const statusPrefix = "status/"

// grantStatus is the operator's view of a config's grants and the state
// of its back-off. It lives in storage next to the token, so every node
// (and a new leader, or the plugin after a restart) reports the same
// history and honours the same back-off. It never holds the token or a
// secret: last_error is already redacted.
type grantStatus struct {
	Grants        uint64    `json:"grants"`
	Failures      uint64    `json:"failures"`
	LastGrantAt   time.Time `json:"last_grant_at,omitempty"`
	LastFailureAt time.Time `json:"last_failure_at,omitempty"`
	LastError     string    `json:"last_error,omitempty"`
	// LastErrorCode is the HTTP status readers got with LastError (502,
	// 504), 0 for an internal (storage) failure.
	LastErrorCode int `json:"last_error_code,omitempty"`

	// ConsecutiveFailures since the last success; drives the back-off.
	ConsecutiveFailures int `json:"consecutive_failures,omitempty"`
	// NextAttemptAt: until then readers get LastError (or the still-valid
	// token with a warning) without a vendor request.
	NextAttemptAt time.Time `json:"next_attempt_at,omitempty"`
	// GrantStartedAt is written before the vendor is asked: a node that
	// cannot write storage learns it there, and status shows a grant in
	// flight. GrantTimeout is the config's timeout then: a start older
	// than that is a node that died mid-grant.
	GrantStartedAt time.Time     `json:"grant_started_at,omitempty"`
	GrantTimeout   time.Duration `json:"grant_timeout,omitempty"`

	// TokenMintedAt and TokenExpiresAt are the times of the token cached
	// for the current config (zero when none): kept here so that listing
	// every connection's state reads one record per name, not three.
	TokenMintedAt  time.Time `json:"token_minted_at,omitempty"`
	TokenExpiresAt time.Time `json:"token_expires_at,omitempty"`
}

// started records a grant about to ask the vendor.
func (st *grantStatus) started(now time.Time, timeout time.Duration) {
	st.GrantStartedAt, st.GrantTimeout = now, timeout
}

// holds records which token is cached now (nil: none).
func (st *grantStatus) holds(t *cachedToken) {
	st.TokenMintedAt, st.TokenExpiresAt = time.Time{}, time.Time{}
	if t != nil {
		st.TokenMintedAt, st.TokenExpiresAt = t.MintedAt, t.ExpiresAt
	}
}

// cachedTimes is the cached token as far as the record knows it (times
// only), nil when none.
func (st *grantStatus) cachedTimes() *cachedToken {
	if st.TokenExpiresAt.IsZero() {
		return nil
	}
	return &cachedToken{MintedAt: st.TokenMintedAt, ExpiresAt: st.TokenExpiresAt}
}

func (st *grantStatus) succeeded(now time.Time, tok *cachedToken) {
	st.holds(tok)
	st.Grants++
	st.LastGrantAt = now
	st.ConsecutiveFailures = 0
	st.NextAttemptAt = time.Time{}
	st.GrantStartedAt = time.Time{}
}

// failed counts a failure and returns the back-off it earns.
func (st *grantStatus) failed(now time.Time, f *grantFailure) time.Duration {
	st.count(now, f)
	st.ConsecutiveFailures++
	st.GrantStartedAt = time.Time{}
	return backoffAfter(st.ConsecutiveFailures, f)
}

// count records one failed grant and what readers were told.
func (st *grantStatus) count(now time.Time, f *grantFailure) {
	st.Failures++
	st.LastFailureAt = now
	st.LastError = f.err.Error()
	st.LastErrorCode = codeOf(f.err)
}

// refused counts a verification grant the vendor refused: it failed, but
// the config it tried was never stored, so no back-off follows.
func (st *grantStatus) refused(now time.Time, f *grantFailure) {
	if st.backingOff(now) {
		// Readers of the stored config are told its own error.
		st.Failures++
		st.LastFailureAt = now
		return
	}
	st.count(now, f)
}

// backingOff: a recent failure asks readers to wait.
func (st *grantStatus) backingOff(now time.Time) bool {
	return now.Before(st.NextAttemptAt)
}

// resetBackoff: an operator's config write is a reason to try at once.
func (st *grantStatus) resetBackoff() bool {
	if st.ConsecutiveFailures == 0 && st.NextAttemptAt.IsZero() {
		return false
	}
	st.ConsecutiveFailures, st.NextAttemptAt = 0, time.Time{}
	return true
}

// saveStatus stores a grant's outcome. Failing to record it is logged, not
// returned: the token itself is already cached (or the grant's own error
// is what the reader needs to see).
func (b *backend) saveStatus(ctx context.Context, s logical.Storage, name string, st *grantStatus) {
	if err := storeStatus(ctx, s, name, st); err != nil {
		b.Logger().Warn("could not record grant status", "config", name, "error", err)
	}
}

func codeOf(err error) int {
	if coded, ok := err.(logical.HTTPCodedError); ok {
		return coded.Code()
	}
	return 0
}
