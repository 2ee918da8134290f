package oauthvendor

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// metrics is one mount's Prometheus registry (API.md "Metrics"). Never the
// default registry: plugin.ServeMultiplex serves every mount from one
// process, and each mount answers for its own configs only. Labels are
// the config name and fixed words (result, source): never error text, a
// token or a secret, so the series stay bounded by the configs that exist.
//
// The per-config series are plain atomics turned into const metrics at
// scrape time (client_golang's pattern for many series, "custom
// collectors"): a CounterVec/HistogramVec child per config and label costs
// about 5 KiB per config in label pairs, exemplar slots and vector maps,
// which at 10 000 configs was more than all the rest of the plugin.
//
// The series exported are those of the configs in storage, listed at
// scrape time: a config stored but not used yet on this node (or since a
// restart) shows at zero, so its first failure is an increase from 0 that
// increase() sees, not a series appearing at 1; and it holds no memory
// until it is used (a list of names per scrape, not a record per config).
// A name never stored (a refused create) makes no series.
type metrics struct {
	b    *backend
	info prometheus.Gauge

	mu      sync.RWMutex
	configs map[string]*configMetrics
}

// Where a read's answer came from (oauthvendor_reads_total's source).
const (
	fromCache = iota // the cached token (memory or storage), no vendor request
	fromGrant        // a grant this read ran or waited for
	fromStale        // the still-valid old token after a failed refresh
	fromError        // no token: the reader got an error
	numSources
)

var sourceNames = [numSources]string{"cache", "grant", "stale", "error"}

// durationBuckets: token endpoints answer in tens of milliseconds; the top
// buckets show retries and timeouts (at most 60 s).
var durationBuckets = [numBuckets]float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

const numBuckets = 12

// configMetrics are one config's counts, kept across config versions (an
// entry rebuilt by a write counts on) until the config is deleted. A cache
// hit adds to one atomic and allocates nothing.
//
// Grant counts are 32-bit: a config grants once per token lifetime (a few
// thousand times a year), so they would take a million years to wrap;
// reads, which are per request, are 64-bit. It halves what 10 000 configs
// hold for their metrics.
type configMetrics struct {
	success, failure atomic.Uint32
	requests         atomic.Uint32
	reads            [numSources]atomic.Uint64
	// buckets[i] counts grants of at most durationBuckets[i] (and above the
	// bucket before); the last one those above every bound.
	buckets  [numBuckets + 1]atomic.Uint32
	sumNanos atomic.Int64
	// needsConsent: the connection waits for a user's consent (a gauge,
	// 0/1: the alert's series).
	needsConsent atomic.Bool
}

var (
	grantsDesc = prometheus.NewDesc("oauthvendor_grants_total",
		"Token grants that ran (read, verify on write, rotate, proactive refresh), by the vendor's answer.",
		[]string{"config", "result"}, nil)
	requestsDesc = prometheus.NewDesc("oauthvendor_token_requests_total",
		"HTTP requests sent to the token endpoint, retries within a grant included.",
		[]string{"config"}, nil)
	durationDesc = prometheus.NewDesc("oauthvendor_grant_duration_seconds",
		"Time from sending a token request to the vendor's answer, retries included.",
		[]string{"config"}, nil)
	needsConsentDesc = prometheus.NewDesc("oauthvendor_needs_consent",
		"1 while a user-delegated connection waits for a user's consent (its refresh token was refused or none is held), else 0.",
		[]string{"config"}, nil)
	readsDesc = prometheus.NewDesc("oauthvendor_reads_total",
		"creds/<name> reads, by where the answer came from (cache, grant, stale, error).",
		[]string{"config", "source"}, nil)
)

func newMetrics(b *backend) *metrics {
	// build_info is always there: a scrape of a mount with no configs yet
	// still shows which plugin version answers.
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "oauthvendor_build_info",
		Help:        "The plugin's version (always 1).",
		ConstLabels: prometheus.Labels{"version": Version},
	})
	info.Set(1)
	return &metrics{b: b, info: info, configs: map[string]*configMetrics{}}
}

// gather collects one scrape for the configs named (those in storage). A
// registry per scrape: the names are the scrape's own, and registering
// three collectors costs microseconds next to encoding the series.
func (m *metrics) gather(stored []string) ([]*dto.MetricFamily, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(configCollector{m, stored}); err != nil {
		return nil, err
	}
	if err := reg.Register(expiryCollector{m.b}); err != nil {
		return nil, err
	}
	if err := reg.Register(m.info); err != nil {
		return nil, err
	}
	return reg.Gather()
}

// forConfig is a config's counts (created at zero, so a config that
// exists shows 0 rather than no series).
func (m *metrics) forConfig(name string) *configMetrics {
	m.mu.RLock()
	cm := m.configs[name]
	m.mu.RUnlock()
	if cm != nil {
		return cm
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if cm = m.configs[name]; cm == nil {
		cm = &configMetrics{}
		m.configs[name] = cm
	}
	return cm
}

// unstored is the counts of a grant run for a config not stored yet (the
// verify grant of a create): they join the config's series only if the
// create stores it (adopt), so a refused create leaves no series.
func unstored() *configMetrics { return &configMetrics{} }

// adopt adds a created config's verify grant counts to its series; the
// name lock is held and the config is stored.
func (m *metrics) adopt(name string, from *configMetrics) {
	m.forConfig(name).add(from)
}

// add adds every count of from to cm.
func (cm *configMetrics) add(from *configMetrics) {
	cm.success.Add(from.success.Load())
	cm.failure.Add(from.failure.Load())
	cm.requests.Add(from.requests.Load())
	for i := range cm.reads {
		cm.reads[i].Add(from.reads[i].Load())
	}
	for i := range cm.buckets {
		cm.buckets[i].Add(from.buckets[i].Load())
	}
	cm.sumNanos.Add(from.sumNanos.Load())
}

// forget drops a deleted config's series. Whoever still holds its
// configMetrics (a read in flight) counts into series nobody exports.
func (m *metrics) forget(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.configs, name)
}

// granted counts one grant that reached the vendor.
func (cm *configMetrics) granted(ok bool, took time.Duration) {
	if ok {
		cm.success.Add(1)
	} else {
		cm.failure.Add(1)
	}
	secs := took.Seconds()
	i := sort.SearchFloat64s(durationBuckets[:], secs) // the first bound >= secs
	cm.buckets[i].Add(1)
	cm.sumNanos.Add(int64(took))
}

// Attempt counts one HTTP request sent to the token endpoint (an
// oauth.Observer: the client calls it before each attempt).
func (cm *configMetrics) Attempt() { cm.requests.Add(1) }

// Done counts one grant that reached the vendor (oauth.Observer).
func (cm *configMetrics) Done(ok bool, took time.Duration) { cm.granted(ok, took) }

// read counts one creds read by where its answer came from.
func (cm *configMetrics) read(got served, err error) {
	switch {
	case err != nil:
		cm.reads[fromError].Add(1)
	case got.warning != "":
		cm.reads[fromStale].Add(1)
	case got.minted:
		cm.reads[fromGrant].Add(1)
	default:
		cm.reads[fromCache].Add(1)
	}
}

// configCollector turns the stored configs' counts into series at scrape
// time; one not used on this node yet shows at zero.
type configCollector struct {
	m      *metrics
	stored []string
}

// zeroCounts is what a stored config not used yet shows (never written).
var zeroCounts configMetrics

func (c configCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{grantsDesc, requestsDesc, durationDesc, readsDesc, needsConsentDesc} {
		ch <- d
	}
}

func (c configCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.RLock()
	defer c.m.mu.RUnlock()
	for _, name := range c.stored {
		cm := c.m.configs[name]
		if cm == nil {
			cm = &zeroCounts
		}
		cm.collect(name, ch)
	}
}

func (cm *configMetrics) collect(name string, ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(grantsDesc, uint64(cm.success.Load()), name, "success")
	counter(grantsDesc, uint64(cm.failure.Load()), name, "failure")
	counter(requestsDesc, uint64(cm.requests.Load()), name)
	var waiting float64
	if cm.needsConsent.Load() {
		waiting = 1
	}
	ch <- prometheus.MustNewConstMetric(needsConsentDesc, prometheus.GaugeValue, waiting, name)
	for i, src := range sourceNames {
		counter(readsDesc, cm.reads[i].Load(), name, src)
	}
	// Cumulative buckets, and the count as their total, so that one scrape
	// is consistent in itself even while a grant is being counted.
	cumulative := make(map[float64]uint64, numBuckets)
	var total uint64
	for i, bound := range durationBuckets {
		total += uint64(cm.buckets[i].Load())
		cumulative[bound] = total
	}
	total += uint64(cm.buckets[numBuckets].Load())
	ch <- prometheus.MustNewConstHistogram(durationDesc, total,
		time.Duration(cm.sumNanos.Load()).Seconds(), cumulative, name)
}

// expiryCollector reports oauthvendor_token_expiry_timestamp_seconds from
// the tokens this node holds in memory at scrape time, so the gauge can
// never disagree with what readers are served (and needs no bookkeeping
// on the paths that cache, drop or replace a token).
type expiryCollector struct{ b *backend }

var expiryDesc = prometheus.NewDesc("oauthvendor_token_expiry_timestamp_seconds",
	"When the cached token of a config expires (Unix time), for the tokens this node holds.",
	[]string{"config"}, nil)

func (c expiryCollector) Describe(ch chan<- *prometheus.Desc) { ch <- expiryDesc }

func (c expiryCollector) Collect(ch chan<- prometheus.Metric) {
	for _, e := range c.b.snapshot() {
		t := e.tok.Load()
		if t == nil || t.Generation != e.conn.cfg.Generation {
			continue
		}
		if m, err := prometheus.NewConstMetric(expiryDesc, prometheus.GaugeValue,
			float64(t.ExpiresAt.UnixMilli())/1e3, e.conn.name); err == nil {
			ch <- m
		}
	}
}
