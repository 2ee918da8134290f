package oauthvendor

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// The mount's device consent poller. RFC 8628 3.5 has the client poll
// every interval (5 s by default) while Vault calls PeriodicFunc about
// once a minute: a user who approved would wait up to a minute, and a
// vendor's 10-minute authorization would get ten polls. So one goroutine
// per mount, on the active node only, steps the pending consents when
// their polls are due (pollDueDevices) and sleeps until the earliest next
// one. It runs only while a consent is pending: started by a device
// consent's write, by the backend's initialization on the active node and
// by every periodic pass (a restart or a new leader resumes from storage),
// and ended when nothing is pending, on a read-only node, and at Cleanup.

// minDeviceWait keeps the loop from spinning on a poll that is due now
// but was not stepped (a storage fault, a name lock held long).
const minDeviceWait = time.Second

type devicePoller struct {
	mu      sync.Mutex
	running bool
	// kicked: a kick arrived since the loop last listed the pending
	// consents; the loop lists again before it ends.
	kicked bool
	// s is the storage of the request that kicked last: a plugin's
	// request storage is the mount's view for the backend's life.
	s      logical.Storage
	cancel context.CancelFunc
	done   chan struct{}
	wake   chan struct{}

	// wait blocks for d, or until woken or ctx is done (false). Tests
	// replace it to drive the loop with the injected clock, no sleeps.
	wait func(ctx context.Context, d time.Duration, wake <-chan struct{}) bool
	// idle, when set, is told each time the loop ends (tests).
	idle func()

	// listed: this node has looked for pending consents in storage once
	// (resumeDevices); afterwards it knows of every new one, since only
	// it writes them (standbys forward the consent writes).
	listed atomic.Bool
}

func newDevicePoller() *devicePoller {
	return &devicePoller{wake: make(chan struct{}, 1), wait: sleepOrWake}
}

func sleepOrWake(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-wake:
		return true
	case <-ctx.Done():
		return false
	}
}

// kickDevicePoller has the poller look at the pending device consents
// now, starting it if it is not running. A node that cannot write storage
// never polls.
func (b *backend) kickDevicePoller(s logical.Storage) {
	if b.readOnly() {
		return
	}
	p := b.devices
	p.mu.Lock()
	defer p.mu.Unlock()
	p.s, p.kicked = s, true
	if p.running {
		select {
		case p.wake <- struct{}{}:
		default:
		}
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.running, p.cancel, p.done = true, cancel, make(chan struct{})
	go b.pollDevicesLoop(ctx, p.done)
}

// pollDevicesLoop steps the due consents, then waits for the next due
// poll; it ends when none is pending and no kick came meanwhile.
func (b *backend) pollDevicesLoop(ctx context.Context, done chan struct{}) {
	p := b.devices
	defer close(done)
	for {
		p.mu.Lock()
		p.kicked = false
		s := p.s
		p.mu.Unlock()
		next, err := b.pollDueDevices(ctx, s)
		if err != nil && err != logical.ErrReadOnly {
			b.Logger().Warn("device consent poller", "error", err.Error())
		}
		if err == logical.ErrReadOnly {
			// Storage refuses writes here (an OpenBao standby): look
			// again at the next periodic pass, in case this node is the
			// one that may write by then.
			p.listed.Store(false)
		}
		if (next.IsZero() || err == logical.ErrReadOnly || ctx.Err() != nil) && b.endPolling(ctx, err) {
			return
		}
		if !next.IsZero() && !p.wait(ctx, max(next.Sub(b.now()), minDeviceWait), p.wake) {
			b.endPolling(ctx, context.Canceled)
			return
		}
	}
}

// endPolling ends the loop unless a kick came since it last listed (a
// consent started meanwhile) and it may go on.
func (b *backend) endPolling(ctx context.Context, err error) bool {
	p := b.devices
	p.mu.Lock()
	if p.kicked && err == nil && ctx.Err() == nil {
		p.mu.Unlock()
		return false
	}
	p.running = false
	idle := p.idle
	p.mu.Unlock()
	if idle != nil {
		idle()
	}
	return true
}

// stopDevicePoller ends the loop and waits for it (Cleanup: a step in
// flight finishes its writes first).
func (b *backend) stopDevicePoller() {
	p := b.devices
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

// resumeDevices: a node that has not looked yet (a restart, a new
// leader) lists device/ once and starts the poller when a consent is
// pending. Later periodic passes list nothing (their cost stays O(due)).
func (b *backend) resumeDevices(ctx context.Context, s logical.Storage) {
	if b.readOnly() || b.devices.listed.Load() {
		return
	}
	names, err := s.List(ctx, devicePrefix)
	if err != nil {
		b.Logger().Warn("could not list the pending device consents; tried again at the next periodic pass", "error", err.Error())
		return
	}
	b.devices.listed.Store(true)
	if len(names) > 0 {
		b.kickDevicePoller(s)
	}
}

// initialize runs on the active node once the mount is ready: a device
// consent pending before a restart or a leader change is polled again,
// and the needs-consent gauges are set (consentmark.go), without waiting
// for the first periodic pass (which tries again what failed here).
func (b *backend) initialize(ctx context.Context, req *logical.InitializationRequest) error {
	b.resumeDevices(ctx, req.Storage)
	b.warnConsentMarks(b.loadConsentMarksOnce(ctx, req.Storage))
	return nil
}
