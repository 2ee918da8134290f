package oauthvendor

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads the metrics path as Vault's HTTP layer would write it.
func (e *testEnv) scrape() (string, map[string]*dto.MetricFamily) {
	e.t.Helper()
	resp := e.read("metrics")
	if ct := resp.Data[logical.HTTPContentType]; ct != "text/plain; version=0.0.4; charset=utf-8" {
		e.t.Fatalf("metrics content type %v", ct)
	}
	if code := resp.Data[logical.HTTPStatusCode]; code != http.StatusOK {
		e.t.Fatalf("metrics status %v", code)
	}
	body, ok := resp.Data[logical.HTTPRawBody].([]byte)
	if !ok {
		e.t.Fatalf("metrics body is %T, want the raw []byte", resp.Data[logical.HTTPRawBody])
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		e.t.Fatalf("metrics body does not parse as Prometheus text: %v\n%s", err, body)
	}
	return string(body), fams
}

// sample finds one series by its labels; ok false when there is none.
func sample(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	mf := fams[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func (e *fakeEnv) mustSample(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	e.t.Helper()
	v, ok := sample(fams, name, labels...)
	if !ok {
		e.t.Fatalf("no series %s%v", name, labels)
	}
	return v
}

// vendorSaw counts the vendor's answers to a config: successes and failures.
func (e *fakeEnv) vendorSaw(name string) (ok, failed float64) {
	for _, r := range e.vendor.requests(name) {
		if r.status == http.StatusOK {
			ok++
		} else {
			failed++
		}
	}
	return ok, failed
}

// TestMetricsCountWhatTheVendorSaw: every way a grant starts (a verified
// write, a read in the refresh window, rotate, the proactive refresh, a
// failing refresh under a valid token, a failing rotate) counts once in
// grants_total, as the vendor counted it, and every read counts once by
// where its answer came from.
func TestMetricsCountWhatTheVendorSaw(t *testing.T) {
	env := newFakeEnv(t)
	if resp, err := env.verifiedWrite("a", fakeVendorConfig("a", "s3cret-value")); err != nil || resp.IsError() {
		t.Fatalf("verified write: %v %v", resp, err)
	}
	for range 3 {
		env.read("creds/a") // cache: the verified token
	}
	env.clock.Advance(46 * time.Minute) // inside the 15 min refresh window
	env.read("creds/a")                 // grant
	env.read("creds/a")                 // cache
	env.write("rotate/a", nil)
	tok := env.read("creds/a").Data["access_token"].(string) // cache; marks the token read
	_, fams := env.scrape()
	issued, _ := env.vendor.token(tok)
	if got := env.mustSample(fams, "oauthvendor_token_expiry_timestamp_seconds", "config", "a"); got != float64(issued.expiresAt.Unix()) {
		t.Fatalf("expiry gauge %v, the vendor's token expires at %v", got, issued.expiresAt.Unix())
	}
	env.clock.Advance(44 * time.Minute) // inside the proactive window only
	if err := env.b.periodic(context.Background(), &logical.Request{Storage: env.storage}); err != nil {
		t.Fatal(err)
	}
	env.vendor.setMode("a", vendorMode{status: 500})
	env.clock.Advance(46 * time.Minute)
	if resp := env.read("creds/a"); len(resp.Warnings) == 0 {
		t.Fatal("a failed refresh under a valid token should serve it with a warning")
	}
	if _, err := env.do(logical.UpdateOperation, "rotate/a", nil); err == nil {
		t.Fatal("rotate against a failing vendor succeeded")
	}
	if env.readErr("a") == nil {
		t.Fatal("a read after a failed rotate got a token")
	}

	body, fams := env.scrape()
	ok, failed := env.vendorSaw("a")
	if ok != 4 || failed != 2 {
		t.Fatalf("the scenario should make the vendor answer 4 successes and 2 failures, it saw %v and %v", ok, failed)
	}
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"oauthvendor_grants_total", []string{"config", "a", "result", "success"}, ok},
		{"oauthvendor_grants_total", []string{"config", "a", "result", "failure"}, failed},
		{"oauthvendor_token_requests_total", []string{"config", "a"}, float64(len(env.vendor.requests("a")))},
		{"oauthvendor_grant_duration_seconds", []string{"config", "a"}, ok + failed},
		{"oauthvendor_reads_total", []string{"config", "a", "source", "cache"}, 5},
		{"oauthvendor_reads_total", []string{"config", "a", "source", "grant"}, 1},
		{"oauthvendor_reads_total", []string{"config", "a", "source", "stale"}, 1},
		{"oauthvendor_reads_total", []string{"config", "a", "source", "error"}, 1},
	}
	for _, c := range checks {
		if got := env.mustSample(fams, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if _, ok := sample(fams, "oauthvendor_token_expiry_timestamp_seconds", "config", "a"); ok {
		t.Error("expiry gauge still reported after a failed rotate dropped the token")
	}
	for _, leak := range []string{"s3cret-value", "tok-a-", "server_error", "HTTP 500"} {
		if strings.Contains(body, leak) {
			t.Errorf("metrics body holds %q", leak)
		}
	}
}

func TestMetricsSeriesGoWithTheConfig(t *testing.T) {
	env := newFakeEnv(t)
	env.configure("a", "x")
	env.configure("b", "y")
	env.read("creds/a")
	env.read("creds/b")
	env.mustOK(logical.DeleteOperation, "config/a", nil)
	body, fams := env.scrape()
	if strings.Contains(body, `config="a"`) {
		t.Fatalf("a deleted config's series are still exported:\n%s", body)
	}
	if env.mustSample(fams, "oauthvendor_grants_total", "config", "b", "result", "success") != 1 {
		t.Fatal("deleting a dropped another config's series")
	}
	env.configure("a", "x")
	env.read("creds/a")
	_, fams = env.scrape()
	if got := env.mustSample(fams, "oauthvendor_reads_total", "config", "a", "source", "grant"); got != 1 {
		t.Fatalf("a config re-created under a deleted name starts at %v reads, want 1", got)
	}
}

// TestMetricsPerMount: ServeMultiplex runs every mount in one process; a
// mount exports only its own configs.
func TestMetricsPerMount(t *testing.T) {
	one, two := newFakeEnv(t), newFakeEnv(t)
	one.configure("only-here", "x")
	one.read("creds/only-here")
	body, _ := two.scrape()
	if strings.Contains(body, "only-here") {
		t.Fatalf("another mount's metrics show this mount's config:\n%s", body)
	}
}

// TestMetricsUnknownNameMakesNoSeries: label values stay bounded by the
// configs that exist, whatever names readers try.
func TestMetricsUnknownNameMakesNoSeries(t *testing.T) {
	env := newFakeEnv(t)
	if err := env.readErr("no-such-config"); codedStatus(err) != http.StatusNotFound {
		t.Fatalf("read of an unknown name: %v", err)
	}
	if body, _ := env.scrape(); strings.Contains(body, "no-such-config") {
		t.Fatalf("an unknown name made a series:\n%s", body)
	}
}

// TestMetricsOfAnEmptyMount: a body even before any config (Vault turns a
// nil raw body into a 500), naming the running version.
func TestMetricsOfAnEmptyMount(t *testing.T) {
	env := newFakeEnv(t)
	body, fams := env.scrape()
	if v, ok := sample(fams, "oauthvendor_build_info", "version", Version); !ok || v != 1 {
		t.Fatalf("empty mount's metrics:\n%s", body)
	}
}

// TestMetricsRefusedCreateMakesNoSeries: a create the vendor refuses
// stores nothing, so its verify grant leaves no series (it was
// grants_total{config="ghost",result="failure"} 1 forever), and its error
// does not speak of a current config that does not exist. A create the
// vendor accepts counts its verify grant.
func TestMetricsRefusedCreateMakesNoSeries(t *testing.T) {
	env := newFakeEnv(t)
	env.vendor.setMode("ghost", vendorMode{status: 401, oauthError: "invalid_client"})
	resp, err := env.verifiedWrite("ghost", fakeVendorConfig("ghost", "wrong-secret"))
	if err != nil || !resp.IsError() {
		t.Fatalf("a refused create: %v %v", resp, err)
	}
	msg := resp.Error().Error()
	if strings.Contains(msg, "keeps serving") || !strings.Contains(msg, "nothing was stored") {
		t.Fatalf("a refused create's error speaks of a current config: %s", msg)
	}
	if body, _ := env.scrape(); strings.Contains(body, "ghost") {
		t.Fatalf("a refused create left series:\n%s", body)
	}
	if _, ok := env.b.metrics.configs["ghost"]; ok {
		t.Fatal("a refused create left counts in memory")
	}
	env.vendor.setMode("ghost", vendorMode{})
	if resp, err := env.verifiedWrite("ghost", fakeVendorConfig("ghost", "right-secret")); err != nil || resp.IsError() {
		t.Fatalf("an accepted create: %v %v", resp, err)
	}
	_, fams := env.scrape()
	if got := env.mustSample(fams, "oauthvendor_grants_total", "config", "ghost", "result", "failure"); got != 0 {
		t.Errorf("the refused create's grant counts for the config created later: failure %v", got)
	}
	if got := env.mustSample(fams, "oauthvendor_grants_total", "config", "ghost", "result", "success"); got != 1 {
		t.Errorf("the accepted create's verify grant: success %v, want 1", got)
	}
	if got := env.mustSample(fams, "oauthvendor_token_requests_total", "config", "ghost"); got != 1 {
		t.Errorf("the accepted create's verify grant: requests %v, want 1", got)
	}
}

// TestMetricsRefusedUpdateKeepsServingWording: a refused write over an
// existing config still says the current one keeps serving.
func TestMetricsRefusedUpdateKeepsServingWording(t *testing.T) {
	env := newFakeEnv(t)
	env.configure("a", "right")
	env.vendor.setMode("a", vendorMode{status: 401, oauthError: "invalid_client"})
	resp, err := env.verifiedWrite("a", fakeVendorConfig("a", "wrong"))
	if err != nil || !resp.IsError() || !strings.Contains(resp.Error().Error(), "the current config keeps serving") {
		t.Fatalf("a refused update: %v %v", resp, err)
	}
}

// zeroSeries are the series a stored config shows before its first use.
var zeroSeries = [][]string{
	{"oauthvendor_grants_total", "result", "success"},
	{"oauthvendor_grants_total", "result", "failure"},
	{"oauthvendor_token_requests_total"},
	{"oauthvendor_grant_duration_seconds"},
	{"oauthvendor_reads_total", "source", "cache"},
	{"oauthvendor_reads_total", "source", "grant"},
	{"oauthvendor_reads_total", "source", "stale"},
	{"oauthvendor_reads_total", "source", "error"},
}

func (e *fakeEnv) mustShowZero(fams map[string]*dto.MetricFamily, name string) {
	e.t.Helper()
	for _, s := range zeroSeries {
		labels := append([]string{"config", name}, s[1:]...)
		if got := e.mustSample(fams, s[0], labels...); got != 0 {
			e.t.Errorf("%s%v = %v before any use, want 0", s[0], labels, got)
		}
	}
}

// TestMetricsStoredConfigStartsAtZero: a config's series exist at zero as
// soon as it is stored (verify=false: no grant ran) and after a restart
// before it is used, so its first failure is an increase from 0 that
// increase() alerts see; a config not used yet holds no counts in memory.
func TestMetricsStoredConfigStartsAtZero(t *testing.T) {
	storage, clock := &logical.InmemStorage{}, newFakeClock()
	env := newFakeEnvWith(t, storage, clock)
	env.configure("quiet", "x")
	_, fams := env.scrape()
	env.mustShowZero(fams, "quiet")

	restarted := newFakeEnvWith(t, storage, clock)
	_, fams = restarted.scrape()
	restarted.mustShowZero(fams, "quiet")
	if len(restarted.b.metrics.configs) != 0 {
		t.Fatalf("a scrape made per-config counts in memory: %d", len(restarted.b.metrics.configs))
	}
	restarted.vendor.setMode("quiet", vendorMode{status: 500})
	if restarted.readErr("quiet") == nil {
		t.Fatal("a read against a failing vendor got a token")
	}
	_, fams = restarted.scrape()
	if got := restarted.mustSample(fams, "oauthvendor_grants_total", "config", "quiet", "result", "failure"); got != 1 {
		t.Fatalf("first failure: %v, want 1", got)
	}
	restarted.mustOK(logical.DeleteOperation, "config/quiet", nil)
	if body, _ := restarted.scrape(); strings.Contains(body, "quiet") {
		t.Fatalf("a deleted config's zero series are still exported:\n%s", body)
	}
}
