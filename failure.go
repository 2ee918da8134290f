package oauthvendor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

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

// failureFrom builds what readers get from a stored back-off: the last
// error with when the next attempt is due, and the same for the warning
// that goes with a still-valid token. cause, when known, stays wrapped
// for a storage failure (a CodedError is rebuilt: its type must be the
// top-level one for the status code to survive the plugin's gRPC hop).
func failureFrom(name string, st *grantStatus, stale *cachedToken, cause error) *failureState {
	next := fmt.Sprintf("next attempt at %s after %d consecutive failure(s); rotate/%s or a config write tries at once",
		rfc3339(st.NextAttemptAt), st.ConsecutiveFailures, name)
	msg := st.LastError + " (" + next + ")"
	var err error
	switch {
	case st.LastErrorCode != 0:
		err = logical.CodedError(st.LastErrorCode, msg)
	case cause != nil:
		err = fmt.Errorf("%w (%s)", cause, next)
	default:
		err = errors.New(msg)
	}
	f := &failureState{until: st.NextAttemptAt, err: err}
	if stale != nil {
		f.warning = staleWarning(stale, msg)
	}
	return f
}

// failed records a failed grant: counted in status with its back-off, and
// remembered in memory. A read's refresh falls back to the still-valid
// token; a rotate has dropped it, so its readers get the failure.
func (b *backend) failed(ctx context.Context, s logical.Storage, e *entry, stored *cachedToken, st *grantStatus, fail *grantFailure, mode refreshMode) (*served, error) {
	name, now := e.conn.name, b.now()
	wait := st.failed(now, fail)
	if mode == onRotate || !stored.usable(now, e.conn.cfg.Generation) {
		stored = nil
	}
	st.holds(stored)
	if stored != nil && !fail.rejected {
		// Sooner while a token still serves, but never before the
		// vendor's own Retry-After; never for rejected credentials,
		// whose attempts lock password-grant accounts.
		wait = max(staleRetryAfter(wait, stored, now), min(fail.retryAfter, retryAfterMax))
	}
	st.NextAttemptAt = now.Add(wait)
	b.saveStatus(ctx, s, name, st)
	f := failureFrom(name, st, stored, fail.err)
	e.failure.Store(f)
	b.Logger().Warn("token grant failed", "config", name, "error", fail.err.Error(), "next_attempt_at", rfc3339(st.NextAttemptAt))
	if stored == nil {
		return nil, f.err
	}
	e.tok.Store(stored)
	return &served{tok: stored, warning: f.warning, at: now}, nil
}

// staleWarning goes with a still-valid token served after a failed refresh.
func staleWarning(t *cachedToken, why string) string {
	return fmt.Sprintf("refreshing the token failed; serving the cached token valid until %s: %s", rfc3339(t.ExpiresAt), why)
}
