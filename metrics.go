package oauthvendor

import (
	"net/http"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics is one mount's Prometheus registry (API.md "Metrics"). Never the
// default registry: plugin.ServeMultiplex serves every mount from one
// process, and each mount answers for its own configs only. Labels are
// the config name and fixed words (result, source): never error text, a
// token or a secret, so the series stay bounded by the configs that exist.
type metrics struct {
	reg      *prometheus.Registry
	grants   *prometheus.CounterVec
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	reads    *prometheus.CounterVec
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

// configMetrics are one config's series, resolved once per entry (per
// config version) rather than looked up by label on every read: a cache
// hit only adds to a counter it already holds, and allocates nothing.
type configMetrics struct {
	success, failure prometheus.Counter
	requests         prometheus.Counter
	duration         prometheus.Observer
	reads            [numSources]prometheus.Counter
}

func newMetrics(b *backend) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		grants: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "oauthvendor_grants_total",
			Help: "Token grants that ran (read, verify on write, rotate, proactive refresh), by the vendor's answer.",
		}, []string{"config", "result"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "oauthvendor_token_requests_total",
			Help: "HTTP requests sent to the token endpoint, retries within a grant included.",
		}, []string{"config"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "oauthvendor_grant_duration_seconds",
			Help: "Time from sending a token request to the vendor's answer, retries included.",
			// Token endpoints answer in tens of milliseconds; the top
			// buckets show retries and timeouts (at most 60 s).
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"config"}),
		reads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "oauthvendor_reads_total",
			Help: "creds/<name> reads, by where the answer came from (cache, grant, stale, error).",
		}, []string{"config", "source"}),
	}
	// build_info is always there: a scrape of a mount with no configs yet
	// still shows which plugin version answers.
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "oauthvendor_build_info",
		Help:        "The plugin's version (always 1).",
		ConstLabels: prometheus.Labels{"version": Version},
	})
	info.Set(1)
	m.reg.MustRegister(m.grants, m.requests, m.duration, m.reads, expiryCollector{b}, info)
	return m
}

// forConfig resolves a config's series (creating them at zero, so a
// config that exists shows 0 rather than no series).
func (m *metrics) forConfig(name string) *configMetrics {
	cm := &configMetrics{
		success:  m.grants.WithLabelValues(name, "success"),
		failure:  m.grants.WithLabelValues(name, "failure"),
		requests: m.requests.WithLabelValues(name),
		duration: m.duration.WithLabelValues(name),
	}
	for i, src := range sourceNames {
		cm.reads[i] = m.reads.WithLabelValues(name, src)
	}
	return cm
}

// forget drops a deleted config's series. Whoever still holds its
// configMetrics (a read in flight) counts into series nobody exports.
func (m *metrics) forget(name string) {
	match := prometheus.Labels{"config": name}
	m.grants.DeletePartialMatch(match)
	m.requests.DeletePartialMatch(match)
	m.duration.DeletePartialMatch(match)
	m.reads.DeletePartialMatch(match)
}

// granted counts one grant that reached the vendor.
func (cm *configMetrics) granted(ok bool, took time.Duration) {
	if ok {
		cm.success.Inc()
	} else {
		cm.failure.Inc()
	}
	cm.duration.Observe(took.Seconds())
}

// countRequests makes the client count every attempt it sends (retryablehttp
// calls the hook before each one).
func (cm *configMetrics) countRequests(c *retryablehttp.Client) {
	c.RequestLogHook = func(retryablehttp.Logger, *http.Request, int) { cm.requests.Inc() }
}

// read counts one creds read by where its answer came from.
func (cm *configMetrics) read(got served, err error) {
	switch {
	case err != nil:
		cm.reads[fromError].Inc()
	case got.warning != "":
		cm.reads[fromStale].Inc()
	case got.minted:
		cm.reads[fromGrant].Inc()
	default:
		cm.reads[fromCache].Inc()
	}
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
