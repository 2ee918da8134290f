package oauth

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// pollStep is one PollDevice call after advancing the clock.
type pollStep struct {
	advance  time.Duration
	state    DeviceState
	interval time.Duration
	sent     int  // token requests so far
	err      bool // the step returns an error
}

// runPolls drives PollDevice step by step against srv and checks each; it
// returns the last state, the token if one came and the first error.
func runPolls(t *testing.T, srv *deviceServer, steps []pollStep) (DevicePoll, *Token, error) {
	t.Helper()
	cfg := deviceConfig(srv, AuthBody)
	client, clk := newDeviceClient(t, cfg), newTestClock()
	d := authorize(t, client, cfg, clk)
	p := d.Poller()
	var tok, got *Token
	var first, err error
	for i, s := range steps {
		clk.advance(s.advance)
		p, got, err = client.PollDevice(context.Background(), cfg, d.DeviceCode, p, clk.now, noRetries)
		if got != nil {
			tok = got
		}
		if first == nil {
			first = err
		}
		sent := len(srv.requests("/token"))
		if p.State != s.state || p.Interval != s.interval || sent != s.sent || (err != nil) != s.err {
			t.Fatalf("step %d (+%s): state %s, interval %s, %d polls sent, error %v; want %s, %s, %d, error %v",
				i, s.advance, p.State, p.Interval, sent, err, s.state, s.interval, s.sent, s.err)
		}
		if !p.Done() && p.NextPoll.After(p.ExpiresAt) {
			t.Fatalf("step %d: next poll %s after expiry %s", i, p.NextPoll, p.ExpiresAt)
		}
	}
	return p, tok, first
}

// TestDevicePollPendingSlowDownApproved: RFC 8628 3.5. No poll before the
// interval; authorization_pending keeps it; slow_down adds 5 s for this and
// every later poll; approval returns the token with its refresh token.
func TestDevicePollPendingSlowDownApproved(t *testing.T) {
	srv := newDeviceServer(t, []deviceAnswer{deviceOK(nil)},
		pollError(400, "authorization_pending"), pollError(400, "slow_down"), pollError(400, "authorization_pending"),
		pollError(400, "slow_down"), pollToken())
	s := time.Second
	p, tok, err := runPolls(t, srv, []pollStep{
		{4 * s, DevicePending, 5 * s, 0, false},    // not due yet: nothing sent
		{1 * s, DevicePending, 5 * s, 1, false},    // t=5: pending
		{4 * s, DevicePending, 5 * s, 1, false},    // t=9: not due
		{1 * s, DeviceSlowDown, 10 * s, 2, false},  // t=10: slow_down, +5 s
		{9 * s, DeviceSlowDown, 10 * s, 2, false},  // t=19: the slower interval holds
		{1 * s, DevicePending, 10 * s, 3, false},   // t=20: pending, interval stays 10 s
		{10 * s, DeviceSlowDown, 15 * s, 4, false}, // t=30: slow_down again, +5 s more
		{14 * s, DeviceSlowDown, 15 * s, 4, false},
		{1 * s, DeviceApproved, 15 * s, 5, false},     // t=45: approved
		{time.Hour, DeviceApproved, 15 * s, 5, false}, // done: nothing more sent
	})
	if err != nil || tok == nil || tok.AccessToken != "at-1" || tok.RefreshToken != "rt-1" || !p.Done() {
		t.Fatalf("approved: token %+v, error %v", tok, err)
	}
}

// TestDevicePollStops: access_denied and expired_token end polling with an
// error naming the config, the status and the OAuth error; so do Entra ID's
// authorization_declined and GitHub's answers with HTTP 200; an unknown
// refusal fails the authorization; nothing is sent afterwards.
func TestDevicePollStops(t *testing.T) {
	cases := []struct {
		answer deviceAnswer
		state  DeviceState
		want   string
	}{
		{pollError(400, "access_denied"), DeviceDenied, "HTTP 400: access_denied"},
		{pollError(400, "authorization_declined"), DeviceDenied, "HTTP 400: authorization_declined"},
		{pollError(200, "access_denied"), DeviceDenied, "HTTP 200: access_denied"},
		{pollError(400, "expired_token"), DeviceExpired, "HTTP 400: expired_token"},
		{pollError(400, "bad_verification_code"), DeviceFailed, "HTTP 400: bad_verification_code"},
		{pollError(401, "invalid_client"), DeviceFailed, "HTTP 401: invalid_client"},
		{deviceAnswer{status: 200, body: map[string]interface{}{"token_type": "Bearer"}}, DeviceFailed, `HTTP 200 without a usable token: response has no "access_token" field`},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			srv := newDeviceServer(t, []deviceAnswer{deviceOK(nil)}, c.answer)
			_, _, err := runPolls(t, srv, []pollStep{
				{5 * time.Second, c.state, 5 * time.Second, 1, true},
				{time.Minute, c.state, 5 * time.Second, 1, false},
			})
			if err == nil || !strings.HasPrefix(err.Error(), `vendor config "tv": token endpoint answered `) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			assertNoCredential(t, err.Error())
		})
	}
}

// TestDevicePollExpiresByItsOwnClock: a server that never says
// expired_token is polled until expires_in has passed, then the poller
// stops by itself, with no request at or after the expiry.
func TestDevicePollExpiresByItsOwnClock(t *testing.T) {
	srv := newDeviceServer(t, []deviceAnswer{deviceOK(map[string]interface{}{"expires_in": 12})}, pollError(400, "authorization_pending"))
	s := time.Second
	_, _, err := runPolls(t, srv, []pollStep{
		{5 * s, DevicePending, 5 * s, 1, false},
		{5 * s, DevicePending, 5 * s, 2, false}, // t=10; the next poll would be at 15, after the expiry: due at 12
		{2 * s, DeviceExpired, 5 * s, 2, true},  // t=12: expired, nothing sent
		{time.Hour, DeviceExpired, 5 * s, 2, false},
	})
	if err == nil || !strings.Contains(err.Error(), `vendor config "tv": the device authorization expired at`) {
		t.Fatalf("error %v", err)
	}
	p := DevicePoll{State: DevicePending, ExpiresAt: newTestClock().now()}
	if got := p.StateAt(newTestClock().now()); got != DeviceExpired {
		t.Fatalf("StateAt past expiry = %s", got)
	}
}

// TestDevicePollExpiryError: the step that finds the authorization expired
// says so, naming the config and when.
func TestDevicePollExpiryError(t *testing.T) {
	clk := newTestClock()
	p := DevicePoll{State: DevicePending, Interval: 5 * time.Second, NextPoll: clk.now(), ExpiresAt: clk.now()}
	cfg := &Config{Name: "tv", TokenURL: "http://127.0.0.1:1/token", Timeout: time.Second}
	p, tok, err := newDeviceClient(t, cfg).PollDevice(context.Background(), cfg, testDeviceCode, p, clk.now, noRetries)
	if p.State != DeviceExpired || tok != nil || err == nil ||
		err.Error() != `vendor config "tv": the device authorization expired at 2026-12-01T09:00:00Z before the user approved it (RFC 8628 3.5)` {
		t.Fatalf("state %s, error %v", p.State, err)
	}
}

// TestDevicePollBacksOffTransientFailures: a 503 (or no answer) keeps the
// state, doubles the wait per failure in a row (RFC 8628 3.5 recommends an
// exponential back-off), honours Retry-After, and a pending answer resets
// it; the interval itself does not change.
func TestDevicePollBacksOffTransientFailures(t *testing.T) {
	now := newTestClock().now()
	unavailable := &Error{Status: http.StatusServiceUnavailable}
	pending := &Error{Status: http.StatusBadRequest, Code: "authorization_pending"}
	p := DevicePoll{State: DeviceSlowDown, Interval: 10 * time.Second, ExpiresAt: now.Add(time.Hour)}
	for i, want := range []time.Duration{20, 40, 80, 160, 160} {
		p = p.After(now, unavailable)
		if p.State != DeviceSlowDown || p.Interval != 10*time.Second || p.Failures != i+1 || p.NextPoll.Sub(now) != want*time.Second {
			t.Fatalf("failure %d: %+v, want next poll in %ds", i+1, p, want)
		}
	}
	p = p.After(now, &Error{Code: "", Timeout: true})
	if p.Failures != 6 || p.Done() {
		t.Fatalf("a timeout: %+v", p)
	}
	p = p.After(now, pending)
	if p.State != DevicePending || p.Failures != 0 || p.NextPoll.Sub(now) != 10*time.Second {
		t.Fatalf("pending after failures: %+v", p)
	}
	p = p.After(now, &Error{Status: http.StatusTooManyRequests, RetryAfter: time.Minute})
	if p.NextPoll.Sub(now) != time.Minute {
		t.Fatalf("Retry-After not honoured: %+v", p)
	}
	if q := p.After(now, errors.New("grant_type: unknown")); q.State != DeviceFailed {
		t.Fatalf("a non-vendor error: %+v", q)
	}
}

// TestDevicePollSlowDownIsBounded: slow_down after slow_down grows the
// interval by 5 s each time, up to MaxDeviceInterval; no poll is ever due
// after the expiry.
func TestDevicePollSlowDownIsBounded(t *testing.T) {
	now := newTestClock().now()
	slow := &Error{Status: http.StatusBadRequest, Code: "slow_down"}
	p := DevicePoll{State: DevicePending, Interval: 5 * time.Second, ExpiresAt: now.Add(30 * time.Second)}
	p = p.After(now, slow)
	if p.Interval != 10*time.Second || !p.NextPoll.Equal(now.Add(10*time.Second)) {
		t.Fatalf("one slow_down: %+v", p)
	}
	for range 1000 {
		p = p.After(now, slow)
	}
	if p.Interval != MaxDeviceInterval || !p.NextPoll.Equal(p.ExpiresAt) || p.Due(now) || !p.Due(p.ExpiresAt) {
		t.Fatalf("after many slow_downs: %+v", p)
	}
}
