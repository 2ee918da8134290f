package oauthvendor

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
)

// A user's consent by the device authorization grant (RFC 8628):
// consent/<name> method=device asks the vendor for a user code (device.go's
// startDevice), keeps the device code seal-wrapped at device/<name> and
// answers what the user needs; the poller (device_poller.go), on the
// active node only, steps each pending consent when its poll is due. A
// step persists the polling state (interval, slow_down, back-off), so a
// restart or a new leader continues where the last one stopped. Approved,
// the token's refresh token is kept as a code consent's (consented);
// denied, expired or failed, the consent ends with that outcome in
// status/<name>. device/<name> holds pending consents only.

// Where a device consent stands, as status/<name> and consent/<name> show
// it: RFC 8628 3.5's answers, with "device-" on the one that says the
// user has not answered yet.
var deviceStateNames = map[oauth.DeviceState]string{
	oauth.DevicePending:  "device-pending",
	oauth.DeviceSlowDown: "slow-down",
	oauth.DeviceApproved: "approved",
	oauth.DeviceDenied:   "denied",
	oauth.DeviceExpired:  "expired",
	oauth.DeviceFailed:   "failed",
}

// startDeviceConsent replaces name's consent in progress (either method)
// with a device consent, asks the vendor for its codes and stores it.
// The replaced consent is deleted first: on a node that cannot write,
// that is the logical.ErrReadOnly Vault forwards, before any vendor
// request.
func (b *backend) startDeviceConsent(ctx context.Context, s logical.Storage, name string) (*oauth.DeviceAuthorization, error) {
	if b.readOnly() {
		return nil, logical.ErrReadOnly
	}
	unlock := b.locks.lock(name)
	defer unlock()
	e, err := orNotFound(name)(b.entryLocked(ctx, s, name))
	if err != nil {
		return nil, err
	}
	if cfg := e.conn.cfg; !cfg.userDelegated() {
		return nil, refuseConsent("grant_type: config %q is %s; consent is for grant_type %s", name, cfg.GrantType, grantAuthorizationCode)
	}
	if err := deleteRecords(ctx, s, name, consentPrefix, devicePrefix); err != nil {
		return nil, readOnlyOr(err)
	}
	d, err := b.startDevice(ctx, s, name)
	if err != nil {
		return nil, err
	}
	rec := &deviceRecord{DeviceCode: d.DeviceCode, Poll: d.Poller(), Generation: e.conn.cfg.Generation}
	if err := storeDevice(ctx, s, name, rec); err != nil {
		return nil, readOnlyOr(err)
	}
	b.recordDevice(ctx, s, name, &deviceProgress{UserCode: d.UserCode, VerificationURI: d.VerificationURI,
		VerificationURIComplete: d.VerificationURIComplete, StartedAt: d.IssuedAt}, rec.Poll, nil)
	b.Logger().Info("device consent started: polling the token endpoint", "config", name,
		"expires_at", rfc3339(d.ExpiresAt), "interval", d.Interval.String())
	return d, nil
}

// deviceStep is what one step of a pending device consent leaves: whether
// it is still pending, and when its next poll is due.
type deviceStep struct {
	pending bool
	next    time.Time
}

// stepDevice is one step of name's pending device consent, under the name
// lock: nothing before its poll is due, else one poll (or, past its
// expiry, none) and the outcome stored.
func (b *backend) stepDevice(ctx context.Context, s logical.Storage, name string) (deviceStep, error) {
	unlock := b.locks.lock(name)
	defer unlock()
	rec, err := loadDevice(ctx, s, name)
	if err != nil || rec == nil {
		return deviceStep{}, err
	}
	e, err := b.entryLocked(ctx, s, name)
	switch {
	case err != nil:
		return deviceStep{}, err
	case e == nil || !e.conn.cfg.userDelegated():
		return deviceStep{}, b.endDevice(ctx, s, name, rec.Poll, oauth.DeviceFailed, fmt.Errorf("config %q was deleted or is no longer authorization_code", name))
	case e.conn.cfg.Generation != rec.Generation:
		return deviceStep{}, b.endDevice(ctx, s, name, rec.Poll, oauth.DeviceFailed, fmt.Errorf("config %q changed since its device consent started: run consent/%s method=device again", name, name))
	}
	now := b.now()
	if !rec.Poll.Due(now) && now.Before(rec.Poll.ExpiresAt) {
		return deviceStep{pending: true, next: rec.Poll.NextPoll}, nil
	}
	// Written before the vendor is asked: a node whose storage refuses
	// writes (an OpenBao standby) learns it here and never polls.
	if err := storeDevice(ctx, s, name, rec); err != nil {
		return deviceStep{}, readOnlyOr(err)
	}
	p, tok, perr := b.pollDevice(ctx, s, name, rec.DeviceCode, rec.Poll)
	switch {
	case tok != nil: // approved, or an answer refused but for its refresh token
		return deviceStep{}, b.deviceApproved(ctx, s, e, p, tok, perr)
	case p.Done():
		return deviceStep{}, b.endDevice(ctx, s, name, p, p.State, perr)
	}
	rec.Poll = p
	if err := storeDevice(ctx, s, name, rec); err != nil {
		return deviceStep{}, readOnlyOr(err)
	}
	b.recordDevice(ctx, s, name, nil, p, perr)
	return deviceStep{pending: true, next: p.NextPoll}, nil
}

// deviceApproved keeps the token's refresh token the way a code consent's
// is kept (consented: memory first, then storage), then drops the spent
// device code. refused is the error of an answer whose access token was
// refused: its refresh token is kept all the same (as finishConsent does),
// and readers refresh with it.
func (b *backend) deviceApproved(ctx context.Context, s logical.Storage, e *entry, p oauth.DevicePoll, tok *oauth.Token, refused error) error {
	name := e.conn.name
	if tok.RefreshToken == "" {
		return b.endDevice(ctx, s, name, p, oauth.DeviceFailed, withoutRefreshToken(name))
	}
	var access *cachedToken
	if refused == nil {
		access = cachedOf(tok, e.conn.cfg.Generation)
	} else {
		refused = fmt.Errorf("%w (its refresh token is kept: creds/%s refreshes with it)", refused, name)
	}
	for _, w := range b.consented(ctx, s, e, access, tok.RefreshToken) {
		b.Logger().Warn("device consent approved, with a storage warning", "config", name, "warning", w)
	}
	return b.endDevice(ctx, s, name, p, oauth.DeviceApproved, refused)
}

// endDevice ends name's device consent with state: device/<name> deleted
// (nothing polls it again) and the outcome in status/<name>.
func (b *backend) endDevice(ctx context.Context, s logical.Storage, name string, p oauth.DevicePoll, state oauth.DeviceState, why error) error {
	p.State = state
	b.recordDevice(ctx, s, name, nil, p, why)
	if why != nil {
		b.Logger().Warn("device consent ended", "config", name, "outcome", deviceStateNames[state], "error", why.Error())
	} else {
		b.Logger().Info("device consent ended", "config", name, "outcome", deviceStateNames[state])
	}
	if err := s.Delete(ctx, devicePrefix+name); err != nil {
		return readOnlyOr(fmt.Errorf("ending the device consent of %q: %w", name, err))
	}
	return nil
}

// recordDevice stores the device consent's progress in status/<name>:
// started (a new progress) or stepped (the stored one, updated with p and
// its error). A failed write is logged: the poll state in device/<name> is
// what polling continues from.
func (b *backend) recordDevice(ctx context.Context, s logical.Storage, name string, started *deviceProgress, p oauth.DevicePoll, why error) {
	st, err := loadStatus(ctx, s, name)
	if err != nil {
		b.Logger().Warn("could not read the status to record the device consent", "config", name, "error", err.Error())
		return
	}
	dp := started
	if dp == nil {
		dp = st.Device
	}
	if dp == nil {
		dp = &deviceProgress{}
	}
	dp.State, dp.ExpiresAt, dp.Interval, dp.NextPollAt = deviceStateNames[p.State], p.ExpiresAt, p.Interval, time.Time{}
	if !p.Done() {
		dp.NextPollAt = p.NextPoll
	}
	dp.Error = ""
	if why != nil {
		dp.Error = why.Error()
	}
	st.Device = dp
	b.saveStatus(ctx, s, name, st)
}

// stateAt is the progress as of now: still pending past its expiry shows
// as expired before the step that finds it so (DevicePoll.StateAt).
func (dp *deviceProgress) stateAt(now time.Time) string {
	if dp.polled() && !now.Before(dp.ExpiresAt) {
		return deviceStateNames[oauth.DeviceExpired]
	}
	return dp.State
}

// polled: the consent had not ended at its last step.
func (dp *deviceProgress) polled() bool {
	return dp.State == deviceStateNames[oauth.DevicePending] || dp.State == deviceStateNames[oauth.DeviceSlowDown]
}

// pending: the user may still approve at now.
func (dp *deviceProgress) pending(now time.Time) bool { return dp.polled() && now.Before(dp.ExpiresAt) }

// forgetDevice drops name's device consent, pending or ended (a consent
// by code replaces it). Persists: device/<name> deleted, status/<name>
// without device progress.
func (b *backend) forgetDevice(ctx context.Context, s logical.Storage, name string) error {
	if err := s.Delete(ctx, devicePrefix+name); err != nil {
		return readOnlyOr(fmt.Errorf("replacing the device consent of %q: %w", name, err))
	}
	st, err := loadStatus(ctx, s, name)
	if err != nil || st.Device == nil {
		return err
	}
	st.Device = nil
	return storeStatus(ctx, s, name, st)
}

// pollDueDevices steps every pending device consent (device/ lists only
// those) and returns when the earliest next poll is due; none pending:
// the zero time. It stops at the first logical.ErrReadOnly: this node
// must not poll.
func (b *backend) pollDueDevices(ctx context.Context, s logical.Storage) (time.Time, error) {
	if b.readOnly() {
		return time.Time{}, logical.ErrReadOnly
	}
	names, err := s.List(ctx, devicePrefix)
	if err != nil {
		return b.now().Add(oauth.DefaultDeviceInterval), fmt.Errorf("listing device consents: %w", err)
	}
	// Cleanup cancels ctx: no further step starts, but one under way
	// finishes (its poll within the config's timeout) and stores what it
	// got: an approval cut off mid-answer would spend the device code and
	// lose the token.
	work := context.WithoutCancel(ctx)
	var next time.Time
	for _, name := range names {
		if ctx.Err() != nil {
			break
		}
		step, err := b.stepDevice(work, s, name)
		if err == logical.ErrReadOnly {
			return time.Time{}, err
		}
		if err != nil {
			// A storage fault: the consent is still pending; try again
			// after the default interval.
			b.Logger().Warn("device consent step failed", "config", name, "error", err.Error())
			step = deviceStep{pending: true, next: b.now().Add(oauth.DefaultDeviceInterval)}
		}
		if step.pending && (next.IsZero() || step.next.Before(next)) {
			next = step.next
		}
	}
	return next, nil
}
