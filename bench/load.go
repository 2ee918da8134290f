package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// latencies summarises one set of samples.
type latencies struct {
	N             int
	P50, P99, Max time.Duration
}

func summarise(samples []time.Duration) latencies {
	if len(samples) == 0 {
		return latencies{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	return latencies{N: len(s), P50: percentile(s, 50), P99: percentile(s, 99), Max: s[len(s)-1]}
}

// percentile is the nearest-rank percentile of sorted samples: every
// sample counts, none is interpolated.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// reader sends GET /v1/<path> with the root token over the load client.
type reader struct {
	client *http.Client
	url    string
	token  string
}

func (e *env) reader(path string) *reader {
	return &reader{client: e.load, url: e.vaultAddr + "/v1/" + path, token: e.token}
}

// get does one read and discards the body; err covers transport errors
// and any status but 200.
func (r *reader) get(ctx context.Context) error {
	return r.do(ctx, nil)
}

// do does one read; out, when not nil, receives the decoded JSON body.
func (r *reader) do(ctx context.Context, out interface{}) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Vault-Token", r.token)
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("GET %s: %s: %s", r.url, resp.Status, b)
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// cellResult is one target's closed-loop throughput at one concurrency,
// summed over the rounds of its level.
type cellResult struct {
	Target      string
	Concurrency int
	Duration    time.Duration // measured time, all rounds
	OK          int
	Errors      int
	// Total counts every request, warmup included.
	Total    int
	FirstErr string
	Lat      latencies
	// RoundRPS is the throughput of each round, in round order.
	RoundRPS []float64
	// CPU used by Vault and by the plugin serving the target during the
	// measured time (10 ms resolution).
	VaultCPU, PluginCPU time.Duration

	samples []time.Duration
}

func (c cellResult) RPS() float64 { return float64(c.OK) / c.Duration.Seconds() }

// perRead is d spread over the cell's successful reads.
func (c cellResult) perRead(d time.Duration) time.Duration {
	if c.OK == 0 {
		return 0
	}
	return d / time.Duration(c.OK)
}

// add folds one slice's result into c.
func (c *cellResult) add(s slice) {
	c.Duration += s.dur
	c.OK += len(s.samples)
	c.Errors += s.errors
	c.Total += s.total
	if c.FirstErr == "" {
		c.FirstErr = s.firstErr
	}
	c.RoundRPS = append(c.RoundRPS, float64(len(s.samples))/s.dur.Seconds())
	c.samples = append(c.samples, s.samples...)
	c.Lat = summarise(c.samples)
}

// slice is one closed-loop run.
type slice struct {
	dur      time.Duration
	samples  []time.Duration
	errors   int
	total    int
	firstErr string
}

// getter is one read of a closed loop: a reader, or a random pick of them.
type getter interface {
	get(ctx context.Context) error
}

// closedLoop runs conc readers back to back for dur: each sends its next
// read as soon as the last answer is read. Samples are the successful
// requests started within dur; each latency is the client's view, send to
// body fully read.
func closedLoop(ctx context.Context, r getter, conc int, dur time.Duration) slice {
	end := time.Now().Add(dur)
	per := make([][]time.Duration, conc)
	var errs atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			samples := make([]time.Duration, 0, 1<<12)
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(end) {
					break
				}
				if err := r.get(ctx); err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				samples = append(samples, time.Since(t0))
			}
			per[w] = samples
		}()
	}
	wg.Wait()
	s := slice{dur: dur, samples: slices.Concat(per...), errors: int(errs.Load())}
	s.total = len(s.samples) + s.errors
	if msg, ok := firstErr.Load().(string); ok {
		s.firstErr = msg
	}
	return s
}

// countedLoop does exactly n reads with conc readers and returns the wall
// time and the first error.
func countedLoop(ctx context.Context, r *reader, conc, n int) (time.Duration, error) {
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) && ctx.Err() == nil {
				if err := r.get(ctx); err != nil {
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if err, ok := firstErr.Load().(error); ok {
		return took, err
	}
	return took, ctx.Err()
}

// burst releases n readers at once and returns their latencies and the
// first error. A burst on a cheap path first leaves n keep-alive
// connections in the pool, so that the next burst reaches Vault at once.
func burst(ctx context.Context, r *reader, n int) ([]time.Duration, error) {
	lats := make([]time.Duration, n)
	errs := make([]error, n)
	gate := make(chan struct{})
	var ready, wg sync.WaitGroup
	for i := range n {
		ready.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			ready.Done()
			<-gate
			t0 := time.Now()
			errs[i] = r.get(ctx)
			lats[i] = time.Since(t0)
		}()
	}
	ready.Wait()
	close(gate)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return lats, err
		}
	}
	return lats, nil
}

// pacedSample is one request of a paced reader. Latency counts from the
// time the request was due, not sent: a reader stuck behind a slow request
// sends its next ones late, and those would otherwise look fast
// ("coordinated omission"); this is what a steady stream of independent
// callers would see.
type pacedSample struct {
	Due     time.Time
	Latency time.Duration // completion - due
	Service time.Duration // completion - sent
	Token   string
	Err     error
}

// paced runs readers that each read every interval, staggered, from start
// until stop says so (asked before each request, with its due time);
// observe sees every sample as it completes. Requests are due on a fixed
// schedule; a late reader catches up back to back.
func paced(ctx context.Context, r *reader, readers int, interval time.Duration, start time.Time,
	stop func(due time.Time) bool, observe func(pacedSample)) []pacedSample {
	per := make([][]pacedSample, readers)
	var wg sync.WaitGroup
	for w := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			due := start.Add(time.Duration(w) * interval / time.Duration(readers))
			for ctx.Err() == nil && !stop(due) {
				if d := time.Until(due); d > 0 {
					select {
					case <-time.After(d):
					case <-ctx.Done():
						return
					}
				}
				sent := time.Now()
				var body struct {
					Data struct {
						AccessToken string `json:"access_token"`
					} `json:"data"`
				}
				err := r.do(ctx, &body)
				done := time.Now()
				s := pacedSample{Due: due, Latency: done.Sub(due), Service: done.Sub(sent), Token: body.Data.AccessToken, Err: err}
				observe(s)
				per[w] = append(per[w], s)
				due = due.Add(interval)
			}
		}()
	}
	wg.Wait()
	all := slices.Concat(per...)
	slices.SortFunc(all, func(a, b pacedSample) int { return a.Due.Compare(b.Due) })
	return all
}
