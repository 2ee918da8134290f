package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// refreshArm is one pair of refresh configs on the slow vendor, both
// minted by rotate (which does not count as a read):
//   - pro is read once right away, so the periodic refresh takes it on
//     (it only refreshes tokens somebody read during their lifetime);
//   - nopro is not read before its read window opens, so the periodic
//     leaves it alone and the first reader in the window has to wait for
//     the vendor: the plugin without proactive refresh.
type refreshArm struct {
	pro, nopro       string
	proSt, noproSt   *tokenStatus
	proToken         string
	proactiveOpen    time.Time // the periodic may refresh pro from here on
	proReadOpen      time.Time // a read of pro would refresh it from here on
	noproReadOpen    time.Time
	lifetime, window time.Duration
}

// fillUntil: other phases must be done by then, so the paced readers of
// pro are running before its proactive window opens.
func (a *refreshArm) fillUntil() time.Time { return a.proactiveOpen.Add(-15 * time.Second) }

func (b *bench) armRefresh(ctx context.Context, attempt int) (*refreshArm, error) {
	e := b.env
	if err := e.simKnobs("agentsync", map[string]string{
		"lifetime": b.o.refreshLifetime.String(), "latency": b.o.vendorDelay.String(),
	}); err != nil {
		return nil, err
	}
	a := &refreshArm{pro: fmt.Sprintf("refresh-pro-%d", attempt), nopro: fmt.Sprintf("refresh-nopro-%d", attempt)}
	for _, name := range []string{a.pro, a.nopro} {
		// verify=false: rotate mints the one token the phase counts (a
		// verified write would be a second grant, and stillArmed wants 1).
		if err := e.configure(ctx, name, "agentsync", map[string]interface{}{"lease": false, "verify": false}); err != nil {
			return nil, err
		}
		if _, err := e.api.Logical().WriteWithContext(ctx, ourMount+"/rotate/"+name, nil); err != nil {
			return nil, fmt.Errorf("rotate/%s: %w", name, err)
		}
	}
	var body struct {
		Data struct {
			AccessToken string `json:"access_token"`
		} `json:"data"`
	}
	if err := e.reader(ourMount+"/creds/"+a.pro).do(ctx, &body); err != nil {
		return nil, err
	}
	a.proToken = body.Data.AccessToken
	var err error
	if a.proSt, err = e.status(ctx, a.pro); err != nil {
		return nil, err
	}
	if a.noproSt, err = e.status(ctx, a.nopro); err != nil {
		return nil, err
	}
	// The plugin's windows (token.go refreshWindow, periodic.go
	// proactiveWindow), from what status/ reports (whole seconds).
	st := a.proSt
	a.lifetime = st.ExpiresAt.Sub(st.MintedAt)
	readWindow := st.ExpiresAt.Sub(st.RefreshAt)
	proactive := min(readWindow+min(2*time.Minute, a.lifetime/4), a.lifetime*3/4)
	a.proactiveOpen = st.ExpiresAt.Add(-proactive)
	a.proReadOpen = st.RefreshAt
	a.noproReadOpen = a.noproSt.RefreshAt
	a.window = readWindow
	return a, nil
}

// stillArmed: pro has not been refreshed yet and its readers can start
// before its proactive window opens.
func (b *bench) stillArmed(ctx context.Context, a *refreshArm) (bool, error) {
	st, err := b.env.status(ctx, a.pro)
	if err != nil {
		return false, err
	}
	return st.Grants == 1 && time.Now().Before(a.proactiveOpen.Add(-5*time.Second)), nil
}

// measureRefresh runs paced readers on both configs: on pro from before
// its proactive window until the periodic's new token has been served for
// half a report window; on nopro for one report window from the moment its
// read window opens.
func (b *bench) measureRefresh(ctx context.Context, a *refreshArm) error {
	e, o := b.env, b.o
	half := o.refreshWindow / 2
	proStart := a.proactiveOpen.Add(-15 * time.Second)
	if now := time.Now(); proStart.Before(now) {
		proStart = now
	}
	// status/ times are whole seconds: one more second and the window is
	// surely open when nopro's first reader arrives.
	noproStart := a.noproReadOpen.Add(time.Second)
	step("refresh: paced readers on %s from %s (proactive window opens %s); on %s from %s to %s",
		a.pro, proStart.Format("15:04:05"), a.proactiveOpen.Format("15:04:05"),
		a.nopro, noproStart.Format("15:04:05"), noproStart.Add(o.refreshWindow).Format("15:04:05"))

	var changed atomic.Int64 // unix nanos of the first due that got pro's new token
	proStop := func(due time.Time) bool {
		if c := changed.Load(); c != 0 {
			return due.After(time.Unix(0, c).Add(half + time.Second))
		}
		return due.After(a.proReadOpen.Add(o.refreshWindow))
	}
	proSeen := func(s pacedSample) {
		if s.Err == nil && s.Token != "" && s.Token != a.proToken {
			changed.CompareAndSwap(0, s.Due.UnixNano())
		}
	}
	var proSamples, noproSamples []pacedSample
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		proSamples = paced(ctx, e.reader(ourMount+"/creds/"+a.pro), o.refreshReaders, o.refreshInterval, proStart, proStop, proSeen)
	}()
	go func() {
		defer wg.Done()
		end := noproStart.Add(o.refreshWindow)
		noproSamples = paced(ctx, e.reader(ourMount+"/creds/"+a.nopro), o.refreshReaders, o.refreshInterval, noproStart,
			func(due time.Time) bool { return !due.Before(end) }, func(pacedSample) {})
	}()
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	_ = e.simKnobs("agentsync", map[string]string{})

	r := &refreshResult{
		Lifetime: a.lifetime, Delay: o.vendorDelay, Window: o.refreshWindow, Interval: o.refreshInterval, Readers: o.refreshReaders,
		ReadWindow: a.window, ProactiveAge: a.proactiveOpen.Sub(a.proSt.MintedAt), ReadAge: a.proReadOpen.Sub(a.proSt.MintedAt),
	}
	// The event on pro: the first due whose answer held the new token.
	from, to := a.proReadOpen.Add(-half), a.proReadOpen.Add(half)
	for _, s := range proSamples {
		if s.Err == nil && s.Token != "" && s.Token != a.proToken {
			r.ProRefreshed = true
			r.ProRefreshAge = s.Due.Sub(a.proSt.MintedAt)
			r.ProBeforeReadWindow = s.Due.Before(a.proReadOpen)
			from, to = s.Due.Add(-half), s.Due.Add(half)
			break
		}
	}
	var inside, outside []pacedSample
	for _, s := range proSamples {
		if !s.Due.Before(from) && s.Due.Before(to) {
			inside = append(inside, s)
		} else {
			outside = append(outside, s)
		}
	}
	r.InWindow = summarisePaced(inside, o.vendorDelay)
	r.Baseline = summarisePaced(outside, o.vendorDelay)
	r.Without = summarisePaced(noproSamples, o.vendorDelay)
	for _, s := range append(proSamples, noproSamples...) {
		if s.Err != nil {
			r.Errors++
			if r.FirstErr == "" {
				r.FirstErr = s.Err.Error()
			}
		}
	}
	for name, dst := range map[string]*int{a.pro: &r.ProGrants, a.nopro: &r.NoproGrants} {
		st, err := e.status(ctx, name)
		if err != nil {
			return err
		}
		*dst = st.Grants
	}
	r.Pro, r.Nopro = a.pro, a.nopro
	step("refresh: with proactive p99 %s max %s; without p99 %s max %s (grants %d / %d)",
		ms(r.InWindow.Latency.P99), ms(r.InWindow.Latency.Max), ms(r.Without.Latency.P99), ms(r.Without.Latency.Max), r.ProGrants, r.NoproGrants)
	b.res.refresh = r
	return nil
}

// pacedSummary: latencies from the due time and from the send time, and
// the reads that waited on the vendor (service time of at least half its
// delay: nothing else on the read path takes that long).
type pacedSummary struct {
	Latency, Service latencies
	Waited           int
}

func summarisePaced(samples []pacedSample, delay time.Duration) pacedSummary {
	var lat, svc []time.Duration
	var waited int
	for _, s := range samples {
		if s.Err != nil {
			continue
		}
		lat = append(lat, s.Latency)
		svc = append(svc, s.Service)
		if s.Service >= delay/2 {
			waited++
		}
	}
	return pacedSummary{Latency: summarise(lat), Service: summarise(svc), Waited: waited}
}
