package oauthvendor

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// The needs-consent gauge after a restart or a new leader: the first
// periodic pass of the new node loads it from the consent marks
// (consentmark.go), with no read of the connection.

// restartedConsentEnv is a new backend over env's storage and clock (a
// plugin restart or a new leader), at env's vendor.
func restartedConsentEnv(t *testing.T, env *consentEnv) *consentEnv {
	t.Helper()
	next := newTestEnvWith(t, env.storage, env.clock)
	env.v.install(next.b)
	return &consentEnv{next, env.v}
}

func (e *testEnv) pass() error {
	return e.b.periodic(context.Background(), &logical.Request{Storage: e.storage})
}

func (e *testEnv) gaugeLine(name string) string {
	e.t.Helper()
	want := `oauthvendor_needs_consent{config="` + name + `"} `
	for _, l := range strings.Split(e.metricsText(), "\n") {
		if strings.HasPrefix(l, want) {
			return l
		}
	}
	e.t.Fatalf("metrics have no needs-consent series for %s", name)
	return ""
}

func (e *testEnv) assertGauge(name string, want string, when string) {
	e.t.Helper()
	if got := e.gaugeLine(name); !strings.HasSuffix(got, "} "+want) {
		e.t.Errorf("%s: %s, want %s", when, got, want)
	}
}

func (e *testEnv) consentMarked(name string) bool {
	e.t.Helper()
	raw, err := e.storage.Get(context.Background(), consentMarkPrefix+name)
	if err != nil {
		e.t.Fatal(err)
	}
	return raw != nil
}

// TestNeedsConsentGaugeAfterRestart: a connection never consented and one
// whose refresh token the vendor refused show 1 on a new node after its
// first periodic pass, with no read; one whose consent finished before
// the restart shows 0; the pass asks no vendor.
func TestNeedsConsentGaugeAfterRestart(t *testing.T) {
	env := newConsentEnv(t, &logical.InmemStorage{})
	env.write("config/refused", authCodeConfig("refused"))
	env.consent("refused")
	env.v.revokeAll()
	env.clock.Advance(time.Hour)
	if _, err := env.do(logical.ReadOperation, "creds/refused", nil); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("creds after the refresh token was revoked: %v", err)
	}
	env.write("config/never", authCodeConfig("never"))
	env.write("config/done", authCodeConfig("done"))
	env.consent("done")
	for _, name := range []string{"refused", "never"} {
		env.assertGauge(name, "1", "before the restart")
	}
	env.assertGauge("done", "0", "before the restart")
	var asked int
	env.v.get(func(v *codeVendor) { asked = v.requests })

	next := restartedConsentEnv(t, env)
	next.assertGauge("never", "0", "a new node before its first pass (memory knows nothing yet)")
	if err := next.pass(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"refused", "never"} {
		next.assertGauge(name, "1", "a new node after its first pass")
	}
	next.assertGauge("done", "0", "a new node after its first pass")
	env.v.get(func(v *codeVendor) {
		if v.requests != asked {
			t.Errorf("the pass sent %d vendor requests, want none", v.requests-asked)
		}
	})
	// A consent on the new node clears it there and in storage.
	next.consent("never")
	next.assertGauge("never", "0", "after a consent on the new node")
	if next.consentMarked("never") {
		t.Error("the consent mark outlives the consent")
	}
	last := restartedConsentEnv(t, next)
	if err := last.pass(); err != nil {
		t.Fatal(err)
	}
	last.assertGauge("never", "0", "a third node after the consent")
	last.assertGauge("refused", "1", "a third node")
}

// TestConsentMarkGoesWithConfig: the mark is deleted with the config, and
// when the config stops being user-delegated (client_credentials); a new
// node then shows no needs-consent for it.
func TestConsentMarkGoesWithConfig(t *testing.T) {
	env := newConsentEnv(t, &logical.InmemStorage{})
	env.write("config/gone", authCodeConfig("gone"))
	env.write("config/cc", authCodeConfig("cc"))
	for _, name := range []string{"gone", "cc"} {
		if !env.consentMarked(name) {
			t.Fatalf("no consent mark for %s after a config write with no consent", name)
		}
	}
	env.mustOK(logical.DeleteOperation, "config/gone", nil)
	if env.consentMarked("gone") {
		t.Error("the consent mark outlives the config's delete")
	}
	env.write("config/cc", map[string]interface{}{"grant_type": "client_credentials", "auth_url": "", "redirect_url": "", "authorize_params": map[string]interface{}{}})
	if env.consentMarked("cc") {
		t.Error("the consent mark outlives the switch to client_credentials")
	}
	env.assertGauge("cc", "0", "after the switch to client_credentials")
	if st := env.read("status/cc").Data["state"]; st == "needs-consent" {
		t.Errorf("status of a client_credentials config: %v", st)
	}
	env.assertGauge("cc", "0", "after a status read of the client_credentials config")
	next := restartedConsentEnv(t, env)
	if err := next.pass(); err != nil {
		t.Fatal(err)
	}
	next.assertGauge("cc", "0", "a new node")
}

// TestConsentMarksLoadRetried: a List that fails on the first pass is
// tried again at the next one, which sets the gauge.
func TestConsentMarksLoadRetried(t *testing.T) {
	fs := &faultyStorage{}
	env := newConsentEnv(t, fs)
	env.write("config/xero", authCodeConfig("xero"))
	next := restartedConsentEnv(t, env)
	fs.failList.Store(consentMarkPrefix)
	if err := next.pass(); err != nil {
		t.Fatal(err)
	}
	next.assertGauge("xero", "0", "after a pass whose List failed")
	if !strings.Contains(next.logs.String(), "listing consent marks") {
		t.Errorf("the failed load is not logged:\n%s", next.logs.String())
	}
	fs.failList.Store("")
	if err := next.pass(); err != nil {
		t.Fatal(err)
	}
	next.assertGauge("xero", "1", "after the next pass")
}

// TestConsentMarksAtInitialize: the active node's initialize sets the
// gauge before any periodic pass; a needs-consent state met without its
// mark (an older version's, or a failed write) gets one.
func TestConsentMarksAtInitialize(t *testing.T) {
	env := newConsentEnv(t, &logical.InmemStorage{})
	env.write("config/xero", authCodeConfig("xero"))
	env.write("config/unmarked", authCodeConfig("unmarked"))
	if err := env.storage.Delete(context.Background(), consentMarkPrefix+"unmarked"); err != nil {
		t.Fatal(err)
	}
	next := restartedConsentEnv(t, env)
	if err := next.b.Initialize(context.Background(), &logical.InitializationRequest{Storage: next.storage}); err != nil {
		t.Fatal(err)
	}
	next.assertGauge("xero", "1", "after initialize")
	next.assertGauge("unmarked", "0", "after initialize, no mark")
	if _, err := next.do(logical.ReadOperation, "creds/unmarked", nil); err == nil {
		t.Fatal("creds of a connection that needs consent served")
	}
	next.assertGauge("unmarked", "1", "after a read met the state")
	if !next.consentMarked("unmarked") {
		t.Error("a node that met a needs-consent state without a mark wrote none")
	}
}

// TestConsentMarkWriteRetried: the mark's write is refused when the
// connection enters needs-consent (the gauge is set on this node, so no
// read here writes it again); the next periodic pass writes it, and a
// node after a restart shows the gauge. A consent before the retry
// leaves nothing to retry.
func TestConsentMarkWriteRetried(t *testing.T) {
	fs := &faultyStorage{}
	env := newConsentEnv(t, fs)
	fs.failPut.Store(consentMarkPrefix)
	env.write("config/xero", authCodeConfig("xero"))
	env.write("config/myob", authCodeConfig("myob"))
	if env.consentMarked("xero") {
		t.Fatal("the mark was written although storage refused it")
	}
	env.assertGauge("xero", "1", "on the node that wrote the config")
	fs.failPut.Store("")
	env.consent("myob")
	if err := env.pass(); err != nil {
		t.Fatal(err)
	}
	if !env.consentMarked("xero") {
		t.Fatal("the periodic pass did not write the refused mark")
	}
	if env.consentMarked("myob") {
		t.Error("a connection consented before the retry got a mark")
	}
	next := restartedConsentEnv(t, env)
	if err := next.pass(); err != nil {
		t.Fatal(err)
	}
	next.assertGauge("xero", "1", "after a restart")
	next.assertGauge("myob", "0", "after a restart")
}
