package oauthvendor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// writeLimit bounds the vendor requests of one config write (discovery and
// the verify grant, each up to timeout, at most 60 s) below Vault's default
// max_request_duration of 90 s, with time left for the storage writes after
// them: past 90 s Vault cancels the request and the operator gets a 500
// "context canceled" that names nothing.
const writeLimit = 80 * time.Second

// writeBudget is the deadline of one write's vendor steps, counted from
// the write's start (waiting for a grant in flight on the config's lock
// counts too: Vault's clock does). Real time, not the injected clock:
// context deadlines are real.
type writeBudget struct {
	start, deadline time.Time
	limit           time.Duration
}

func (b *backend) newWriteBudget() writeBudget {
	limit := b.writeLimit
	start := time.Now()
	return writeBudget{start: start, deadline: start.Add(limit), limit: limit}
}

// discoveryContext bounds discovery by the config's timeout and, when a
// verify grant follows, by half of what is left of the budget, so that
// the grant keeps the other half; it returns what discovery was given
// and whether the budget (not timeout) set it.
func (w writeBudget) discoveryContext(ctx context.Context, timeout time.Duration, verifyFollows bool) (context.Context, context.CancelFunc, time.Duration, bool) {
	share := time.Until(w.deadline)
	if verifyFollows {
		share /= 2
	}
	share = max(share, 0)
	if timeout <= share {
		c, cancel := context.WithTimeout(ctx, timeout)
		return c, cancel, timeout, false
	}
	c, cancel := context.WithTimeout(ctx, share)
	return c, cancel, share, true
}

// grantContext is the verify grant's context: what is left of the budget
// (the grant bounds itself by timeout as well).
func (w writeBudget) grantContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithDeadline(ctx, w.deadline)
}

// ranOut: ctx (a step's context) ended at its deadline.
func ranOut(ctx context.Context) bool {
	return errors.Is(ctx.Err(), context.DeadlineExceeded)
}

// discoveryLate says what discovery was given and which limit set it.
func (w writeBudget) discoveryLate(given time.Duration, byBudget bool) string {
	if byBudget {
		return fmt.Sprintf("discovery (the issuer's metadata) did not finish within its share (%s) of the write's %s limit, kept under Vault's 90s request limit",
			given.Round(time.Millisecond), w.limit)
	}
	return fmt.Sprintf("discovery (the issuer's metadata) did not finish within the config's timeout (%s)", given.Round(time.Millisecond))
}

// discoveryTimedOut is the 504 of a discovery that did not finish in what
// it was given, naming the step and which limit set it.
func (w writeBudget) discoveryTimedOut(name string, given time.Duration, byBudget bool) error {
	return logical.CodedError(http.StatusGatewayTimeout, fmt.Sprintf(
		"vendor config %q: issuer: %s; nothing was stored (give token_url to write without discovery)",
		name, w.discoveryLate(given, byBudget)))
}

// verifyTimedOut is the 504 of a verify grant cut by the write's limit.
func (w writeBudget) verifyTimedOut(name string, grantStart time.Time) error {
	return w.grantTimedOut(name, "the verify grant", "nothing was stored", grantStart)
}

// grantTimedOut is the 504 of a write's grant (step) cut by the write's
// limit, saying what the write left as it was (kept).
func (w writeBudget) grantTimedOut(name, step, kept string, grantStart time.Time) error {
	return logical.CodedError(http.StatusGatewayTimeout, fmt.Sprintf(
		"vendor config %q: %s did not finish within the %s left of the write's %s limit (kept under Vault's 90s request limit; discovery and waiting for a grant in flight took %s); %s",
		name, step, w.deadline.Sub(grantStart).Round(time.Millisecond), w.limit, grantStart.Sub(w.start).Round(time.Millisecond), kept))
}
