package oauthvendor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// The lifecycle of a connection: its states, the transitions between them
// and what each persists. Paths call read (creds), rotate (rotate) and
// refresh (the periodic pass); everything below this file (readmark.go,
// entry.go, namelock.go, storage.go, timing.go, token.go, the OAuth
// client) is called from here and never calls back up.
//
//	state          entered by                              persists
//	ok             toOK: a grant's token is stored         token/<name>; status/<name>: grants,
//	                                                        last_grant_at, token times, back-off cleared
//	refreshing     toRefreshing: a grant asks the vendor    status/<name>: grant_started_at, grant_timeout
//	serving-stale  toFailed with a still-valid token        status/<name>: failures, last_error, a back-off
//	                                                        shortened by retryWait; memory: failureState
//	backing-off    toFailed with no token left              status/<name>: failures, last_error, the back-off
//	failing        the back-off passed, no grant since      nothing: time moved on
//	(any)          dropToken: a rotate, before its grant    token/<name> deleted
//	(any)          stillBackingOff: another node's back-off memory only: failureState, the stored token
//	needs-consent  toNeedsConsent: the vendor refused the    status/<name>: needs_consent, the failure;
//	               refresh token (invalid_grant), or none    needsconsent/<name>; memory: failureState
//	               is held (authorization_code)              (re-checked after needsConsentRecheck);
//	                                                        no grant until a consent
//	ok             consent.go's finish: a consent's code    refresh/<name>, token/<name>; status/<name>:
//	               exchanged                                needs_consent cleared; needsconsent/<name>
//	                                                        deleted
//	ok | (as was)  afterConfigWrite: a stored config write  token/<name> replaced by the verified one
//	                                                        or dropped; status/<name>: back-off cleared
//
// A config write (path_config.go) ends in afterConfigWrite, at the end of
// this file; a refused verify grant records its failure with the status
// record's refused (verify.go), moving no back-off.
// A new state (say, one waiting for an operator's consent) is a constant
// below, its name in connStateNames, a case in grantStatus.state and a
// to... transition here that says what it stores. The timing of every
// transition (when a token is fresh, how long a back-off lasts) is
// timing.go's.

// connState is a connection's state as status/<name> and the status list
// report it.
type connState uint8

const (
	stateOK connState = iota
	stateRefreshing
	stateServingStale
	stateBackingOff
	stateFailing
	stateNeedsConsent
)

var connStateNames = [...]string{
	stateOK:           "ok",
	stateRefreshing:   "refreshing",
	stateServingStale: "serving-stale",
	stateBackingOff:   "backing-off",
	stateFailing:      "failing",
	stateNeedsConsent: "needs-consent",
}

func (s connState) String() string { return connStateNames[s] }

// state sums a connection up for an operator; usable: a still-valid token
// for the current config is cached. A grant start older than the timeout
// is a node that died mid-grant, not a grant in flight.
func (st *grantStatus) state(now time.Time, timeout time.Duration, usable bool) connState {
	switch {
	case !st.GrantStartedAt.IsZero() && now.Sub(st.GrantStartedAt) < timeout:
		return stateRefreshing
	case st.NeedsConsent:
		return stateNeedsConsent
	case st.ConsecutiveFailures > 0 && usable:
		return stateServingStale
	case st.backingOff(now):
		return stateBackingOff
	case st.ConsecutiveFailures > 0:
		return stateFailing
	}
	return stateOK
}

// errStale: the entry was forgotten (its config written or deleted) while
// the caller held it, or a joined flight's token aged past serving; the
// caller loads the current entry and tries again.
var errStale = errors.New("config changed")

// maxStaleRetries bounds how often a reader follows a config that keeps
// changing under it.
const maxStaleRetries = 3

// read is one creds read: a servable token, counted in the metrics, with
// the first read of each token marked (readmark.go). It returns the
// config the token was served for (the answer's lease settings).
func (b *backend) read(ctx context.Context, s logical.Storage, name string) (*vendorConfig, served, error) {
	e, got, err := b.serve(ctx, s, name)
	if e != nil {
		e.conn.m.read(got, err)
	}
	if err != nil {
		return nil, served{}, err
	}
	b.markRead(ctx, s, e, got.tok)
	return e.conn.cfg, got, nil
}

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
		return t.usable(now, cfg.Generation) && !t.inProactiveWindow(now, cfg.RefreshBefore)
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
	return b.refreshLocked(ctx, s, e, mode, time.Time{})
}

// rotate is the operator's refresh: under the name lock, with the entry
// loaded there (a missing config is the caller's 404).
func (b *backend) rotate(ctx context.Context, s logical.Storage, name string) (*served, error) {
	budget := b.newWriteBudget() // waiting for the lock counts (writebudget.go)
	unlock := b.locks.lock(name)
	defer unlock()
	e, err := orNotFound(name)(b.entryLocked(ctx, s, name))
	if err != nil {
		return nil, err
	}
	return b.refreshLocked(ctx, s, e, onRotate, budget.deadline)
}

// refreshLocked re-checks storage (another node, an earlier flight or the
// periodic refresh may have cached a token, or a back-off be running),
// then grants. A rotate drops the cached token first (API.md).
// deadline, when set, bounds the grant (not the storage writes after it):
// a rotate that waited for the lock behind a config write must still end
// before Vault's request limit (writebudget.go).
func (b *backend) refreshLocked(ctx context.Context, s logical.Storage, e *entry, mode refreshMode, deadline time.Time) (*served, error) {
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
	if st.NeedsConsent && e.conn.cfg.userDelegated() {
		return b.stillNeedsConsent(ctx, s, e, st, stored)
	}
	if mode != onRotate && st.backingOff(b.now()) {
		return b.stillBackingOff(e, st, stored)
	}
	return b.grantNow(ctx, &grantRun{s: s, e: e, st: st, stored: stored, mode: mode, deadline: deadline})
}

// dropToken: a rotate forgets the cached token. Persists: token/<name>
// deleted.
func (b *backend) dropToken(ctx context.Context, s logical.Storage, e *entry) error {
	if err := s.Delete(ctx, tokenPrefix+e.conn.name); err != nil {
		return readOnlyOr(fmt.Errorf("dropping the cached token of %q: %w", e.conn.name, err))
	}
	e.tok.Store(nil)
	return nil
}

// stillBackingOff: storage holds a back-off this node's memory did not
// know (another node's failure, or a restart). Persists nothing; memory
// learns the back-off and the still-valid token.
func (b *backend) stillBackingOff(e *entry, st *grantStatus, stored *cachedToken) (*served, error) {
	if !stored.usable(b.now(), e.conn.cfg.Generation) {
		stored = nil
	}
	f := failureFrom(e.conn.name, st, stored, nil)
	e.failure.Store(f)
	if stored != nil {
		e.tok.Store(stored) // the next readers get it too, not only this one
	}
	return f.serve(stored, b.now(), e.conn.cfg.Generation)
}

// grantRun is one grant's way through the states, under the name lock:
// refreshing, then ok or (serving-stale | backing-off).
type grantRun struct {
	s  logical.Storage
	e  *entry
	st *grantStatus
	// stored: the token in storage before the grant (nil after a rotate).
	stored *cachedToken
	mode   refreshMode
	// deadline bounds the vendor request when set (a rotate's budget).
	deadline time.Time
}

// grantContext is the vendor request's context: ctx, cut at the run's
// deadline when it has one.
func (r *grantRun) grantContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if r.deadline.IsZero() {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, r.deadline)
}

// grantNow asks the vendor and caches the answer in storage then memory.
// A token the plugin cannot store is a failure like any other: handing it
// out would make the next reader mint again.
func (b *backend) grantNow(ctx context.Context, r *grantRun) (*served, error) {
	name := r.e.conn.name
	if err := b.toRefreshing(ctx, r); err != nil {
		// The replication state does not tell every read-only node
		// (OpenBao standbys serve reads themselves); storage does.
		if err = readOnlyOr(err); err == logical.ErrReadOnly || r.mode == onRotate {
			return nil, err
		}
		return b.storageFallback(r.e, err)
	}
	if r.e.conn.cfg.userDelegated() {
		return b.refreshGrant(ctx, r)
	}
	gctx, cancel := r.grantContext(ctx)
	defer cancel()
	tok, fail := r.e.conn.grant(gctx, b.now, b.subjectSource(r.s, r.e.conn))
	if fail == nil {
		if err := storeToken(ctx, r.s, name, tok); err != nil {
			fail = transient(fmt.Errorf("vendor config %q: the new token could not be cached, so it is not handed out: %w", name, err))
		}
	}
	if fail != nil {
		return b.toFailed(ctx, r, fail)
	}
	return b.toOK(ctx, r, tok), nil
}

// refreshGrant is grantNow for a user-delegated connection: RFC 6749 6's
// refresh with the held refresh token. A rotated one is kept
// (keepRotated) before anything else; the access token is then served
// even if storage refuses it: the vendor has spent the old refresh
// token, and the next reader finds this access token in memory.
func (b *backend) refreshGrant(ctx context.Context, r *grantRun) (*served, error) {
	name := r.e.conn.name
	held, err := b.heldRefresh(ctx, r.s, name)
	if err != nil {
		return b.storageFallback(r.e, err)
	}
	if held == nil || held.Current == "" {
		return b.toNeedsConsent(ctx, r, &grantFailure{err: consentNeeded(name, "no refresh token is held (no consent finished yet)", false)}, false)
	}
	gctx, cancel := r.grantContext(ctx)
	defer cancel()
	tok, fresh, fail := r.e.conn.grantWith(gctx, b.now, grantInput{refreshToken: held.Current})
	if fail != nil {
		b.keepRotated(ctx, r.s, name, held, fail.refreshToken) // a refused answer's, if any
	}
	switch {
	case fail != nil && fail.code == "invalid_grant":
		return b.toNeedsConsent(ctx, r, &grantFailure{err: consentNeeded(name, "the vendor refused the refresh token: "+fail.err.Error(), true), rejected: true}, true)
	case fail != nil:
		return b.toFailed(ctx, r, fail)
	}
	b.keepRotated(ctx, r.s, name, held, fresh)
	got := b.toOK(ctx, r, tok)
	if err := storeToken(ctx, r.s, name, tok); err != nil {
		b.Logger().Warn("the new access token could not be cached in storage; serving it from memory", "config", name, "error", err.Error())
		got.warning = "the new token could not be cached in storage (served from this node's memory): " + err.Error()
	}
	return got, nil
}

// toNeedsConsent: no refresh grant can succeed until a user consents
// again. Persists: status/<name> needs_consent with the failure (no
// back-off time: none passing ends it; a failure counted only when the
// vendor was asked), needsconsent/<name> (consentmark.go: the gauge after
// a restart); memory: a failureState re-checked against storage
// after needsConsentRecheck, and the metrics' gauge. A still-valid access
// token keeps serving, with a warning.
func (b *backend) toNeedsConsent(ctx context.Context, r *grantRun, fail *grantFailure, asked bool) (*served, error) {
	e, st, now := r.e, r.st, b.now()
	if asked {
		st.failed(now, fail)
	} else {
		st.GrantStartedAt = time.Time{}
		st.LastError, st.LastErrorCode = fail.err.Error(), codeOf(fail.err)
	}
	st.NeedsConsent, st.NextAttemptAt = true, time.Time{}
	stored := r.stored
	if r.mode == onRotate || !stored.usable(now, e.conn.cfg.Generation) {
		stored = nil
	}
	st.holds(stored)
	b.saveStatus(ctx, r.s, e.conn.name, st)
	b.putConsentMark(ctx, r.s, e.conn.name)
	e.conn.m.needsConsent.Store(true)
	b.Logger().Warn("refresh token refused: the connection needs consent", "config", e.conn.name, "error", fail.err.Error())
	return b.stillNeedsConsent(ctx, r.s, e, st, stored)
}

// stillNeedsConsent answers from a stored needs-consent state without a
// vendor request. Persists nothing, unless this node's gauge did not know
// the state (then the consent mark, once: consentmark.go); memory learns
// it.
func (b *backend) stillNeedsConsent(ctx context.Context, s logical.Storage, e *entry, st *grantStatus, stored *cachedToken) (*served, error) {
	now := b.now()
	if !stored.usable(now, e.conn.cfg.Generation) {
		stored = nil
	}
	b.learnNeedsConsent(ctx, s, e)
	f := &failureState{until: now.Add(needsConsentRecheck), err: errors.New(st.LastError)}
	if st.LastErrorCode != 0 {
		f.err = logical.CodedError(st.LastErrorCode, st.LastError)
	}
	if stored != nil {
		f.warning = staleWarning(stored, st.LastError)
		e.tok.Store(stored)
	}
	e.failure.Store(f)
	return f.serve(stored, now, e.conn.cfg.Generation)
}

// toRefreshing records the grant's start before the vendor is asked.
// Persists: status/<name> grant_started_at and grant_timeout (the write
// also tells a node that cannot write storage so).
func (b *backend) toRefreshing(ctx context.Context, r *grantRun) error {
	r.st.started(b.now(), r.e.conn.cfg.Timeout)
	return storeStatus(ctx, r.s, r.e.conn.name, r.st)
}

// toOK: the new token is in token/<name> (grantNow stored it). Persists:
// status/<name> counting the grant and clearing the back-off; memory
// forgets the failure and holds the token.
func (b *backend) toOK(ctx context.Context, r *grantRun, tok *cachedToken) *served {
	name := r.e.conn.name
	r.st.succeeded(b.now(), tok)
	b.saveStatus(ctx, r.s, name, r.st)
	r.e.failure.Store(nil)
	r.e.tok.Store(tok)
	b.Logger().Debug("token minted", "config", name, "expires_at", rfc3339(tok.ExpiresAt))
	return &served{tok: tok, at: b.now(), minted: true}
}

// toFailed records a failed grant: serving-stale when a read's refresh
// still has a valid token (a rotate has dropped it), else backing-off.
// Persists: status/<name> counting the failure with its back-off; memory
// remembers the failure so readers get its answer without a storage read.
func (b *backend) toFailed(ctx context.Context, r *grantRun, fail *grantFailure) (*served, error) {
	e, st, stored := r.e, r.st, r.stored
	name, now := e.conn.name, b.now()
	wait := st.failed(now, fail)
	if r.mode == onRotate || !stored.usable(now, e.conn.cfg.Generation) {
		stored = nil
	}
	st.holds(stored)
	st.NextAttemptAt = now.Add(retryWait(wait, fail, stored, now))
	b.saveStatus(ctx, r.s, name, st)
	f := failureFrom(name, st, stored, fail.err)
	e.failure.Store(f)
	b.Logger().Warn("token grant failed", "config", name, "error", fail.err.Error(), "next_attempt_at", rfc3339(st.NextAttemptAt))
	if stored == nil {
		return nil, f.err
	}
	e.tok.Store(stored)
	return &served{tok: stored, warning: f.warning, at: now}, nil
}

// storageFallback: a storage fault on the way to a grant never takes a
// still-valid token from readers; without one, the fault is the answer
// (an error, not an error response: Vault logs it as internal). Persists
// nothing.
func (b *backend) storageFallback(e *entry, err error) (*served, error) {
	now := b.now()
	if t := e.tok.Load(); t.usable(now, e.conn.cfg.Generation) {
		b.Logger().Warn("storage failed during a refresh; serving the cached token", "config", e.conn.name, "error", err)
		return &served{tok: t, at: now, warning: staleWarning(t, "storage: "+err.Error())}, nil
	}
	return nil, err
}

// saveStatus stores a grant's outcome. Failing to record it is logged, not
// returned: the token itself is already cached (or the grant's own error
// is what the reader needs to see).
func (b *backend) saveStatus(ctx context.Context, s logical.Storage, name string, st *grantStatus) {
	if err := storeStatus(ctx, s, name, st); err != nil {
		b.Logger().Warn("could not record grant status", "config", name, "error", err)
	}
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

// staleWarning goes with a still-valid token served after a failed refresh.
func staleWarning(t *cachedToken, why string) string {
	return fmt.Sprintf("refreshing the token failed; serving the cached token valid until %s: %s", rfc3339(t.ExpiresAt), why)
}

// The status record's transitions: each changes status/<name> in memory;
// the caller above stores it.

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

func codeOf(err error) int {
	if coded, ok := err.(logical.HTTPCodedError); ok {
		return coded.Code()
	}
	return 0
}

// afterConfigWrite is a stored config write's transition (path_config.go,
// rotate-key's switch). It replaces what the write invalidated: the cached
// token when the request changed (by the verified one, if any), the back-off (an
// operator's write is a reason to try again at once) and the in-memory
// entry.
func (b *backend) afterConfigWrite(ctx context.Context, s logical.Storage, name string, changed bool, verified *cachedToken, st *grantStatus) error {
	defer b.forgetLocked(name)
	cacheErr, tokenErr := b.replaceToken(ctx, s, name, changed, verified)
	dirty := st.resetBackoff()
	switch {
	case cacheErr != nil:
		// Like a read's grant whose token cannot be stored: a failure.
		st.refused(b.now(), transient(fmt.Errorf("vendor config %q: the verified token could not be cached: %w", name, cacheErr)))
		dirty = true
	case verified != nil:
		st.succeeded(b.now(), verified)
		dirty = true
	}
	if changed && (verified == nil || cacheErr != nil) && !st.TokenExpiresAt.IsZero() {
		st.holds(nil) // the old token was dropped (status lists no token)
		dirty = true
	}
	// The back-off ends even when dropping the old token failed: the new
	// config must not inherit the old one's wait.
	if dirty {
		if err := storeStatus(ctx, s, name, st); err != nil && tokenErr == nil {
			tokenErr = err
		}
	}
	return tokenErr
}

// replaceToken: a verified token becomes the cached one, so the first read
// after the write asks nobody; one that cannot be stored (cacheErr) is
// dropped with the old one, and the next read mints.
func (b *backend) replaceToken(ctx context.Context, s logical.Storage, name string, changed bool, verified *cachedToken) (cacheErr, err error) {
	if verified != nil {
		if cacheErr = storeToken(ctx, s, name, verified); cacheErr == nil {
			return nil, nil
		}
		b.Logger().Warn("could not cache the verified token", "config", name, "error", cacheErr)
	}
	if !changed {
		return cacheErr, nil
	}
	if err := s.Delete(ctx, tokenPrefix+name); err != nil {
		return cacheErr, fmt.Errorf("dropping cached token of %q: %w", name, err)
	}
	return cacheErr, nil
}
