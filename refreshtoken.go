package oauthvendor

import (
	"context"
	"fmt"
	"net/http"

	"github.com/hashicorp/vault/sdk/logical"
)

// The refresh tokens of user-delegated connections (grant_type
// authorization_code): where they are kept and how a rotation is kept
// without ever losing the valid one. Vendors that rotate on every refresh
// accept the old token for a short while only (Xero 30 minutes,
// Atlassian 10, some none at all) and revoke a token used twice: a new
// refresh token lost between the vendor's answer and storage means a
// human must consent again. So:
//
//   - a rotated token is written to refresh/<name> (seal-wrapped) before
//     the access token that came with it is served;
//   - if storage refuses it, it is kept in memory (b.pending) and becomes
//     the token the next grant sends, and the Put is tried again at the
//     next grant and at every periodic tick until it is stored;
//   - one record holds the current token and the one it replaced, written
//     in one Put: the old one is never dropped before the new one is
//     stored;
//   - grants of one connection never overlap (the name lock and the
//     flights, lifecycle.go), so no token is ever sent twice.
//
// Everything here runs under the config's name lock.

// heldRefresh is the refresh token the next grant sends: one kept in
// memory because storage refused it (stored again first), else the
// stored one; nil when none is held.
func (b *backend) heldRefresh(ctx context.Context, s logical.Storage, name string) (*refreshRecord, error) {
	if p, ok := b.pending.Load(name); ok {
		rec := p.(*refreshRecord)
		b.storePending(ctx, s, name, rec)
		return rec, nil
	}
	return loadRefresh(ctx, s, name)
}

// keepRotated persists the refresh token a grant answered, before its
// access token is served. An answer without one keeps the current token
// (RFC 6749 6). The new record is in memory first, so a refused Put loses
// nothing.
func (b *backend) keepRotated(ctx context.Context, s logical.Storage, name string, held *refreshRecord, fresh string) {
	if fresh == "" || fresh == held.Current {
		return
	}
	next := &refreshRecord{Current: fresh, Previous: held.Current, ConsentedAt: held.ConsentedAt, RotatedAt: b.now()}
	b.pending.Store(name, next)
	b.storePending(ctx, s, name, next)
}

// storePending tries to store a refresh record kept in memory; stored, it
// leaves memory (unless a newer one replaced it meanwhile).
func (b *backend) storePending(ctx context.Context, s logical.Storage, name string, rec *refreshRecord) {
	if err := storeRefresh(ctx, s, name, rec); err != nil {
		b.Logger().Warn("the rotated refresh token could not be stored: kept in memory, stored again at the next grant or periodic pass", "config", name, "error", err.Error())
		return
	}
	b.pending.CompareAndDelete(name, rec)
}

// storeAllPending is the periodic pass's retry of every refresh token
// still only in memory.
func (b *backend) storeAllPending(ctx context.Context, s logical.Storage) {
	b.pending.Range(func(k, v interface{}) bool {
		name := k.(string)
		unlock := b.locks.lock(name)
		defer unlock()
		if cur, ok := b.pending.Load(name); ok {
			b.storePending(ctx, s, name, cur.(*refreshRecord))
		}
		return ctx.Err() == nil
	})
}

// dropRefresh forgets a connection's refresh tokens (a delete, a new
// client or token endpoint): memory and storage.
func (b *backend) dropRefresh(ctx context.Context, s logical.Storage, name string) error {
	b.pending.Delete(name)
	return deleteRecords(ctx, s, name, refreshPrefix, consentPrefix, devicePrefix)
}

// refreshTokenSet: a refresh token is held (stored or in memory).
func (b *backend) refreshTokenSet(ctx context.Context, s logical.Storage, name string) (bool, error) {
	if _, ok := b.pending.Load(name); ok {
		return true, nil
	}
	rec, err := loadRefresh(ctx, s, name)
	return rec != nil && rec.Current != "", err
}

// consentNeeded is what a reader of a connection that needs consent is
// told: why, and what to run (a 502 when the vendor refused the token, a
// 503 while none was ever given).
func consentNeeded(name, why string, vendorRefused bool) error {
	code := http.StatusServiceUnavailable
	if vendorRefused {
		code = http.StatusBadGateway
	}
	return logical.CodedError(code, fmt.Sprintf("vendor config %q needs consent: %s; a user must consent again: vault write <mount>/consent/%s and open the authorize_url it answers", name, why, name))
}
