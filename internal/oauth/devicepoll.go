package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// DeviceState is where a device authorization stands (RFC 8628 3.5).
type DeviceState string

const (
	// DevicePending: authorization_pending; the user has not answered yet.
	DevicePending DeviceState = "pending"
	// DeviceSlowDown: slow_down; still pending, polled 5 s slower for good.
	DeviceSlowDown DeviceState = "slow-down"
	// DeviceApproved: the user approved and a token came.
	DeviceApproved DeviceState = "approved"
	// DeviceDenied: access_denied; the user refused.
	DeviceDenied DeviceState = "denied"
	// DeviceExpired: expired_token, or expires_in passed without an answer.
	DeviceExpired DeviceState = "expired"
	// DeviceFailed: the server refused the poll itself (invalid_client,
	// invalid_grant, unsupported_grant_type, a vendor's own code such as
	// Entra ID's bad_verification_code or GitHub's incorrect_device_code):
	// asking again cannot succeed.
	DeviceFailed DeviceState = "failed"
)

// deviceOutcomes are the token endpoint's answers to a poll that say where
// the authorization stands (RFC 8628 3.5), and vendors' own spellings of
// them. Any other error code ends the authorization (DeviceFailed) unless
// the failure is transient (no answer, 429, 5xx).
var deviceOutcomes = map[string]DeviceState{
	"authorization_pending": DevicePending,
	"slow_down":             DeviceSlowDown,
	"access_denied":         DeviceDenied,
	// Entra ID's spelling of access_denied ("AADSTS70000: The user denied
	// the authorization request", Microsoft identity platform device code
	// flow page).
	"authorization_declined": DeviceDenied,
	"expired_token":          DeviceExpired,
}

// maxBackoffShift bounds the back-off after transient failures: the
// interval doubles per failure in a row (RFC 8628 3.5 recommends an
// exponential back-off on timeouts), up to 16 times.
const maxBackoffShift = 4

// DevicePoll is a device authorization's polling state: plain data the
// caller stores and hands back, so that polling is driven one step at a
// time by whoever holds it (the Vault engine's periodic function on its
// active node) and survives a restart. It holds no secret: the device code
// travels separately (PollDevice).
type DevicePoll struct {
	State DeviceState `json:"state"`
	// Interval is the least time between polls: the server's interval,
	// grown by SlowDownStep at each slow_down.
	Interval time.Duration `json:"interval"`
	// NextPoll is when the next poll is due, never after ExpiresAt: the
	// poll due then finds the authorization expired and sends nothing.
	NextPoll  time.Time `json:"next_poll"`
	ExpiresAt time.Time `json:"expires_at"`
	// Failures counts transient failures in a row (the back-off's).
	Failures int `json:"failures,omitempty"`
}

// Poller is the authorization's polling state before its first poll, one
// interval after the request (3.4: the client polls at the interval).
func (d *DeviceAuthorization) Poller() DevicePoll {
	p := DevicePoll{State: DevicePending, Interval: d.Interval, ExpiresAt: d.ExpiresAt}
	p.NextPoll = p.clamp(d.IssuedAt.Add(d.Interval))
	return p
}

// Done: polling has ended (approved, denied, expired or failed).
func (p DevicePoll) Done() bool { return p.State != DevicePending && p.State != DeviceSlowDown }

// Due: a poll should be sent (or the authorization found expired) at now.
func (p DevicePoll) Due(now time.Time) bool { return !p.Done() && !now.Before(p.NextPoll) }

// StateAt is the state as of now: an authorization still pending past its
// expiry shows as expired before the poll that finds it so.
func (p DevicePoll) StateAt(now time.Time) DeviceState {
	if !p.Done() && !now.Before(p.ExpiresAt) {
		return DeviceExpired
	}
	return p.State
}

// After is the state once a poll sent before now got err (nil: a token
// came). It is pure: the caller's clock, the poll's outcome, nothing else.
func (p DevicePoll) After(now time.Time, err error) DevicePoll {
	if err == nil {
		p.State, p.Failures = DeviceApproved, 0
		return p
	}
	var e *Error
	if !errors.As(err, &e) {
		p.State = DeviceFailed
		return p
	}
	state, known := deviceOutcomes[e.Code]
	switch {
	case known:
		p.State, p.Failures = state, 0
		if state == DeviceSlowDown {
			p.Interval = min(p.Interval+SlowDownStep, MaxDeviceInterval)
		}
	case transientPollFailure(e):
		p.Failures++ // the state stays pending or slow-down
	default:
		p.State = DeviceFailed
	}
	if !p.Done() {
		p.NextPoll = p.clamp(now.Add(max(p.wait(), e.RetryAfter)))
	}
	return p
}

// transientPollFailure: no answer, 429 or 5xx; the next poll may do better.
func transientPollFailure(e *Error) bool {
	return e.Status == 0 || e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// wait is the time to the next poll: the interval, doubled per transient
// failure in a row.
func (p DevicePoll) wait() time.Duration {
	return min(p.Interval<<min(p.Failures, maxBackoffShift), MaxDeviceInterval)
}

// clamp: no poll is due after the authorization expires.
func (p DevicePoll) clamp(t time.Time) time.Time {
	if t.After(p.ExpiresAt) {
		return p.ExpiresAt
	}
	return t
}

// PollDevice is one step of polling a device authorization: when p is due
// at now(), one device access token request (RFC 8628 3.4) with
// deviceCode and cfg's client authentication; when it has expired, no
// request at all; otherwise nothing. It returns the next state, the token
// when approved (with its refresh token), and the error of a step that
// ended the authorization or failed transiently (nil while the user has
// not answered). Errors name the config, the HTTP status and the OAuth
// error; the device code is redacted like cfg's secrets.
func (c *Client) PollDevice(ctx context.Context, cfg *Config, deviceCode string, p DevicePoll, now func() time.Time, h Hooks) (DevicePoll, *Token, error) {
	t := now()
	switch {
	case p.Done():
		return p, nil, nil
	case !t.Before(p.ExpiresAt):
		p.State = DeviceExpired
		return p, nil, &Error{Rejected: true, Message: fmt.Sprintf(
			"vendor config %q: the device authorization expired at %s before the user approved it (RFC 8628 3.5)",
			cfg.Name, p.ExpiresAt.UTC().Format(time.RFC3339))}
	case t.Before(p.NextPoll):
		return p, nil, nil
	}
	poll := *cfg
	poll.GrantType, poll.DeviceCode = GrantDeviceCode, deviceCode
	tok, err := c.Grant(ctx, &poll, now, h)
	p = p.After(now(), err)
	if !p.Done() && p.Failures == 0 {
		err = nil // authorization_pending, slow_down: the expected answers
	}
	return p, tok, err
}
