package oauthvendor

import (
	"context"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

const statusPrefix = "status/"

// grantStatus is the operator's view of a config's grants. It lives in
// storage next to the token, so every node (and a new leader) reports the
// same history. It never holds the token or a secret: last_error is already
// redacted.
type grantStatus struct {
	Grants        uint64    `json:"grants"`
	Failures      uint64    `json:"failures"`
	LastGrantAt   time.Time `json:"last_grant_at,omitempty"`
	LastFailureAt time.Time `json:"last_failure_at,omitempty"`
	LastError     string    `json:"last_error,omitempty"`
}

// recordGrant counts one grant attempt. Failing to record it is logged,
// not returned: the token itself is already cached (or the grant's own
// error is what the reader needs to see).
func (b *backend) recordGrant(ctx context.Context, s logical.Storage, name string, grantErr error) {
	st, err := loadStatus(ctx, s, name)
	if err == nil {
		st.apply(b.now(), grantErr)
		err = storeStatus(ctx, s, name, st)
	}
	if err != nil {
		b.Logger().Warn("could not record grant status", "config", name, "error", err)
	}
}

func (st *grantStatus) apply(now time.Time, grantErr error) {
	if grantErr != nil {
		st.Failures++
		st.LastFailureAt = now
		st.LastError = grantErr.Error()
		return
	}
	st.Grants++
	st.LastGrantAt = now
}
