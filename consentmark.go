package oauthvendor

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// The consent mark: oauthvendor_needs_consent is memory (metrics.go), and
// status/<name> holds the state, but a new active node or a restarted
// plugin reads a status record only when it meets the connection (a read,
// a grant, a status read): until then the gauge would read 0 for exactly
// the connections an operator alerts on. Listing every status record at
// the first pass would cost O(configs) storage reads on a mount of 10 000;
// needsconsent/<name> is an index of only the connections that need
// consent, listed once by the first periodic pass of a node that can
// write (and by initialize on the active node), like the read marks
// (readmark.go).
//
// It is written on the transitions into needs-consent (a config write that
// leaves no refresh token, the vendor refusing the refresh token) and
// deleted on those out of it (a consent finished, the config no longer
// user-delegated, the config deleted): never on a grant or a read that
// stays where it was. status/<name> stays the truth: a mark whose status
// no longer needs consent (its delete failed) is deleted at the load, and
// a needs-consent state met without the gauge set (the mark's write
// failed, or an older version stored it) writes its mark once.
const consentMarkPrefix = "needsconsent/"

// consentMark is needsconsent/<name>: when the connection entered
// needs-consent (for an operator reading storage; the load needs only the
// key).
type consentMark struct {
	Since time.Time `json:"since"`
}

// putConsentMark records that name needs consent. A failure is logged,
// not returned: the state itself is in status/<name>, and the mark costs
// only the gauge after a restart (written again when a node meets the
// state). Under the name lock.
func (b *backend) putConsentMark(ctx context.Context, s logical.Storage, name string) {
	err := putJSON(ctx, s, consentMarkPrefix+name, fmt.Sprintf("consent mark of %q", name), &consentMark{Since: b.now()})
	switch {
	case err == nil:
		b.unmarked.Delete(name)
	case readOnlyOr(err) != logical.ErrReadOnly:
		// Tried again at every periodic pass (retryConsentMarks).
		b.unmarked.Store(name, struct{}{})
		b.Logger().Warn("could not record that the connection needs consent; tried again at the next periodic pass", "config", name, "error", err)
	}
}

// retryConsentMarks writes the marks storage refused before, for the
// connections that still need consent (a periodic pass, under each name
// lock, like storeAllPending).
func (b *backend) retryConsentMarks(ctx context.Context, s logical.Storage) {
	b.unmarked.Range(func(k, _ interface{}) bool {
		name := k.(string)
		unlock := b.locks.lock(name)
		defer unlock()
		if _, ok := b.unmarked.Load(name); !ok {
			return true // a consent or a delete came first
		}
		if st, err := loadStatus(ctx, s, name); err == nil && !st.NeedsConsent {
			b.unmarked.Delete(name)
			return true
		}
		b.putConsentMark(ctx, s, name)
		return ctx.Err() == nil
	})
}

// dropConsentMark: name no longer needs consent. A failed delete is
// logged; the next load finds the status without needs_consent and
// deletes the mark then. Under the name lock.
func (b *backend) dropConsentMark(ctx context.Context, s logical.Storage, name string) {
	b.unmarked.Delete(name)
	if err := s.Delete(ctx, consentMarkPrefix+name); err != nil && readOnlyOr(err) != logical.ErrReadOnly {
		b.Logger().Warn("could not delete the consent mark; the next load of the marks deletes it", "config", name, "error", err)
	}
}

// learnNeedsConsent sets the gauge of a connection found needing consent
// in storage; a node that did not know it writes the mark too (once per
// node: the gauge stays set until a consent clears it), so that a mark
// whose write failed is not missing at the next restart.
func (b *backend) learnNeedsConsent(ctx context.Context, s logical.Storage, e *entry) {
	if e.conn.m.needsConsent.CompareAndSwap(false, true) {
		b.putConsentMark(ctx, s, e.conn.name)
	}
}

// loadConsentMarksOnce runs the one-off load of the consent marks on the
// first periodic pass (or initialize) of a node that can write: the
// gauges of the connections that need consent are set before anyone reads
// them. A failed load is tried again at the next pass.
func (b *backend) loadConsentMarksOnce(ctx context.Context, s logical.Storage) error {
	if b.readOnly() {
		return nil
	}
	return loadMarksOnce(ctx, s, &b.consentMarksLoaded, consentMarkPrefix, "consent marks", b.loadConsentMark)
}

// warnConsentMarks logs a failed load of the consent marks.
func (b *backend) warnConsentMarks(err error) {
	if err != nil {
		b.Logger().Warn("could not load which connections need consent; their gauge shows 0 until the next periodic pass or a node meets them", "error", err)
	}
}

// loadConsentMark sets the gauge of one marked connection when its status
// still needs consent, else deletes the mark. Under the name lock, which
// a consent's finish holds: the gauge it clears is not set again here.
func (b *backend) loadConsentMark(ctx context.Context, s logical.Storage, name string) error {
	unlock := b.locks.lock(name)
	defer unlock()
	cfg, err := loadConfig(ctx, s, name)
	if err != nil {
		return err
	}
	if cfg == nil {
		// The config's delete failed after removing the config.
		return s.Delete(ctx, consentMarkPrefix+name)
	}
	st, err := loadStatus(ctx, s, name)
	if err != nil {
		return err
	}
	if !st.NeedsConsent || !cfg.effective().userDelegated() {
		return s.Delete(ctx, consentMarkPrefix+name) // its delete failed
	}
	b.metrics.forConfig(name).needsConsent.Store(true)
	return nil
}
