package oauthvendor

import (
	"context"
	"fmt"
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

func loadStatus(ctx context.Context, s logical.Storage, name string) (*grantStatus, error) {
	entry, err := s.Get(ctx, statusPrefix+name)
	if err != nil {
		return nil, fmt.Errorf("reading status of %q: %w", name, err)
	}
	st := &grantStatus{}
	if entry == nil {
		return st, nil
	}
	if err := entry.DecodeJSON(st); err != nil {
		return nil, fmt.Errorf("decoding status of %q: %w", name, err)
	}
	return st, nil
}

// recordGrant counts one grant attempt. Failing to record it is logged,
// not returned: the token itself is already cached (or the grant's own
// error is what the reader needs to see).
func (b *backend) recordGrant(ctx context.Context, s logical.Storage, name string, grantErr error) {
	st, err := loadStatus(ctx, s, name)
	if err == nil {
		st.apply(b.now(), grantErr)
		var entry *logical.StorageEntry
		if entry, err = logical.StorageEntryJSON(statusPrefix+name, st); err == nil {
			err = s.Put(ctx, entry)
		}
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
