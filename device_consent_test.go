package oauthvendor

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/helper/consts"
	"github.com/hashicorp/vault/sdk/helper/testhelpers/schema"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
)

// The code vendor's device flow (RFC 8628): /<name>/device answers a
// device authorization, and polls (grant_type device_code) answer from
// deviceScript; an approval issues a token with a refresh token of a new
// family, which then rotates strictly like a code consent's.

func (v *codeVendor) authorizeDevice(req *http.Request) *http.Response {
	v.deviceAuths++
	v.seq++
	dc := fmt.Sprintf("dc-%d-device-secret", v.seq)
	v.deviceCodes[dc] = true
	return jsonResponse(req, 200, map[string]interface{}{
		"device_code": dc, "user_code": "WDJB-MJHT",
		"verification_uri":          "https://login.example.com/activate",
		"verification_uri_complete": "https://login.example.com/activate?user_code=WDJB-MJHT",
		"expires_in":                int(v.deviceTTL / time.Second), "interval": 5,
	})
}

func (v *codeVendor) pollDevice(req *http.Request, form map[string][]string, body string) *http.Response {
	v.polls = append(v.polls, v.clock.Now())
	dc := firstOf(form["device_code"])
	if !v.deviceCodes[dc] {
		v.unknownSent++
		// A careless vendor echoes the request (and so the device code).
		return oauthRefusal(req, "invalid_grant", "unknown or spent device code: "+body)
	}
	answer := v.deviceScript[0]
	if len(v.deviceScript) > 1 {
		v.deviceScript = v.deviceScript[1:]
	}
	if answer != "" {
		return oauthRefusal(req, answer, "echo: "+body)
	}
	delete(v.deviceCodes, dc) // one approval per device code
	v.seq++
	return v.issue(req, v.seq, true)
}

func firstOf(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// deviceConsentConfig is a device-only user-delegated config at the code
// vendor: no auth_url, no redirect_url.
func deviceConsentConfig(name string) map[string]interface{} {
	return map[string]interface{}{
		"grant_type": "authorization_code", "token_url": "http://127.0.0.1/" + name + "/token",
		"device_auth_url": "http://127.0.0.1/" + name + "/device",
		"client_id":       "id-" + name, "client_secret": "client-secret-" + name, "scopes": "offline_access,read",
	}
}

// pollerDriver replaces the poller's wait: each wait is handed to the
// test (its length), which moves the injected clock and releases it; the
// poller's end is told too. No sleeps.
type pollerDriver struct {
	t       testing.TB
	asks    chan time.Duration
	release chan struct{}
	idle    chan struct{}
}

func drivePoller(env *testEnv) *pollerDriver {
	d := &pollerDriver{t: env.t, asks: make(chan time.Duration), release: make(chan struct{}), idle: make(chan struct{}, 64)}
	p := env.b.devices
	p.mu.Lock()
	defer p.mu.Unlock()
	p.wait = func(ctx context.Context, dur time.Duration, _ <-chan struct{}) bool {
		select {
		case d.asks <- dur:
		case <-ctx.Done():
			return false
		}
		select {
		case <-d.release:
			return true
		case <-ctx.Done():
			return false
		}
	}
	p.idle = func() {
		select {
		case d.idle <- struct{}{}:
		default:
		}
	}
	return d
}

// next is the poller's next move: a wait of the returned length (true),
// or its end (false).
func (d *pollerDriver) next() (time.Duration, bool) {
	d.t.Helper()
	select {
	case w := <-d.asks:
		return w, true
	case <-d.idle:
		return 0, false
	case <-time.After(10 * time.Second):
		d.t.Fatal("the poller neither waited nor ended within 10 s")
		return 0, false
	}
}

// mustWait: the poller waits exactly want.
func (d *pollerDriver) mustWait(want time.Duration) {
	d.t.Helper()
	if got, waiting := d.next(); !waiting || got != want {
		d.t.Fatalf("poller: waiting %v (%v), want a wait of %v", got, waiting, want)
	}
}

// mustEnd: the poller ends (nothing pending).
func (d *pollerDriver) mustEnd() {
	d.t.Helper()
	if got, waiting := d.next(); waiting {
		d.t.Fatalf("poller waits %v, want it ended", got)
	}
}

func pollerRunning(env *testEnv) bool {
	p := env.b.devices
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running
}

// mustRequests: the vendor was asked exactly want times.
func (e *consentEnv) mustRequests(want int) {
	e.t.Helper()
	e.v.get(func(v *codeVendor) {
		if v.requests != want {
			e.t.Fatalf("%d vendor requests, want %d", v.requests, want)
		}
	})
}

func (e *consentEnv) pollCount() int {
	var n int
	e.v.get(func(v *codeVendor) { n = len(v.polls) })
	return n
}

// deviceState is status/<name>'s device_state, checked against the
// consent read's.
func (e *consentEnv) deviceState(name string) string {
	e.t.Helper()
	st := e.read("status/" + name).Data["device_state"]
	if got := e.read("consent/" + name).Data["device_state"]; got != st {
		e.t.Fatalf("status says device_state %v, consent read %v", st, got)
	}
	s, _ := st.(string)
	return s
}

// assertNoDeviceCode: no device code the vendor issued shows in the logs
// or in the given answers.
func (e *consentEnv) assertNoDeviceCode(answers ...*logical.Response) {
	e.t.Helper()
	var codes []string
	e.v.get(func(v *codeVendor) {
		for i := 1; i <= v.seq; i++ {
			codes = append(codes, fmt.Sprintf("dc-%d-device-secret", i))
		}
	})
	texts := []string{e.logs.String()}
	for _, a := range answers {
		texts = append(texts, fmt.Sprintf("%v %v %v", a.Data, a.Warnings, a.Error()))
	}
	for _, text := range texts {
		for _, c := range codes {
			if strings.Contains(text, c) {
				e.t.Fatalf("device code %s shows: %.300q", c, text)
			}
		}
	}
}

// TestDeviceConsentAnswer: consent/<name> method=device answers
// user_code, verification_uri, verification_uri_complete, expires_at and
// interval, and never the device code, which is kept at device/<name>
// (a seal-wrapped prefix); status and the consent read show
// device-pending with the user code. The answers match their schemas.
func TestDeviceConsentAnswer(t *testing.T) {
	env := newConsentEnv(t, &logical.InmemStorage{})
	drivePoller(env.testEnv)
	w := env.write("config/tv", deviceConsentConfig("tv"))
	if !strings.Contains(strings.Join(w.Warnings, " "), "consent/tv method=device") {
		t.Fatalf("config write warnings %v: want the device next step", w.Warnings)
	}
	resp := env.write("consent/tv", map[string]interface{}{"method": "device"})
	want := map[string]interface{}{
		"user_code": "WDJB-MJHT", "verification_uri": "https://login.example.com/activate",
		"verification_uri_complete": "https://login.example.com/activate?user_code=WDJB-MJHT",
		"expires_at":                rfc3339(env.clock.Now().Add(10 * time.Minute)), "interval": 5,
	}
	if fmt.Sprint(resp.Data) != fmt.Sprint(want) {
		t.Fatalf("answer %v, want exactly %v", resp.Data, want)
	}
	rec, err := loadDevice(context.Background(), env.storage, "tv")
	if err != nil || rec == nil || !strings.HasPrefix(rec.DeviceCode, "dc-") || rec.Poll.State != oauth.DevicePending {
		t.Fatalf("device/tv: %+v %v", rec, err)
	}
	if !slices.Contains(env.b.SpecialPaths().SealWrapStorage, devicePrefix) {
		t.Fatal("device/ is not a seal-wrapped prefix")
	}
	st := env.read("status/tv")
	if st.Data["device_state"] != "device-pending" || st.Data["device_user_code"] != nil ||
		st.Data["device_expires_at"] != want["expires_at"] || st.Data["state"] != "needs-consent" {
		t.Fatalf("status %v", st.Data)
	}
	cr := env.read("consent/tv")
	if cr.Data["method"] != "device" || cr.Data["device_state"] != "device-pending" || cr.Data["user_code"] != "WDJB-MJHT" ||
		cr.Data["next_poll_at"] != rfc3339(env.clock.Now().Add(5*time.Second)) {
		t.Fatalf("consent read %v", cr.Data)
	}
	list, err := env.do(logical.ListOperation, "status/", nil)
	if err != nil || list.Data["key_info"].(map[string]interface{})["tv"].(map[string]interface{})["device_state"] != "device-pending" {
		t.Fatalf("status list %v %v", list, err)
	}
	for _, c := range []struct {
		op   logical.Operation
		path string
		resp *logical.Response
	}{{logical.UpdateOperation, "consent/tv", resp}, {logical.ReadOperation, "consent/tv", cr}, {logical.ReadOperation, "status/tv", st}} {
		schema.ValidateResponse(t, schema.GetResponseSchema(t, env.b.Route(c.path), c.op), c.resp, true)
	}
	env.assertNoDeviceCode(resp, st, cr, list)
}

// TestDeviceConsentRefusals: each a 400 naming the field, before any
// vendor request.
func TestDeviceConsentRefusals(t *testing.T) {
	env := newConsentEnv(t, &logical.InmemStorage{})
	drivePoller(env.testEnv)
	env.write("config/cc", fakeVendorConfig("cc", "s3cret"))
	env.write("config/web", authCodeConfig("web"))
	env.write("config/tv", deviceConsentConfig("tv"))
	for _, c := range []struct {
		path   string
		data   map[string]interface{}
		prefix string
	}{
		{"consent/tv", map[string]interface{}{"method": "carrier-pigeon"}, "method: "},
		{"consent/cc", map[string]interface{}{"method": "device"}, "grant_type: "},
		{"consent/web", map[string]interface{}{"method": "device"}, "device_auth_url: "},
		{"consent/tv", map[string]interface{}{"method": "device", "state": "x"}, "state: "},
		{"consent/tv", nil, "redirect_url: "}, // device-only: no redirect to finish a code consent
	} {
		resp, err := env.do(logical.UpdateOperation, c.path, c.data)
		var msg string
		switch {
		case err != nil && codedStatus(err) == http.StatusBadRequest:
			msg = err.Error()
		case err == nil && resp != nil && resp.IsError():
			msg = resp.Error().Error()
		}
		if !strings.HasPrefix(msg, c.prefix) {
			t.Errorf("%s %v: %v %v, want a 400 starting %q", c.path, c.data, resp, err, c.prefix)
		}
	}
	if _, err := env.do(logical.UpdateOperation, "consent/nope", map[string]interface{}{"method": "device"}); codedStatus(err) != http.StatusNotFound {
		t.Errorf("unknown config: %v", err)
	}
	env.mustRequests(0)
}

// TestDeviceConsentPolling: the poller goroutine, driven by the injected
// clock. No poll before its interval (a wake-up early polls nothing);
// authorization_pending keeps the interval, slow_down adds 5 s for good,
// and status shows each; the approval keeps the refresh token (the
// device record goes, the poller ends), creds serves the poll's access
// token, and refresh tokens then rotate as a code consent's (no replay).
// The device code shows in no answer and no log line, though the vendor
// echoes it.
func TestDeviceConsentPolling(t *testing.T) {
	env := newConsentEnv(t, &logical.InmemStorage{})
	drive := drivePoller(env.testEnv)
	env.v.set(func(v *codeVendor) {
		v.deviceScript = []string{"authorization_pending", "slow_down", "authorization_pending", ""}
	})
	env.write("config/tv", deviceConsentConfig("tv"))
	start := env.clock.Now()
	resp := env.write("consent/tv", map[string]interface{}{"method": "device"})
	drive.mustWait(5 * time.Second)

	// Woken 3 s early: nothing is due, nothing is sent.
	env.clock.Advance(3 * time.Second)
	drive.release <- struct{}{}
	drive.mustWait(2 * time.Second)
	if n := env.pollCount(); n != 0 {
		t.Fatalf("%d polls before the interval", n)
	}
	steps := []struct {
		advance time.Duration
		state   string
		wait    time.Duration // the poller's next wait
	}{
		{2 * time.Second, "device-pending", 5 * time.Second},
		{5 * time.Second, "slow-down", 10 * time.Second},
		{10 * time.Second, "device-pending", 10 * time.Second}, // slow_down holds for every later poll
	}
	answers := []*logical.Response{resp}
	for i, s := range steps {
		env.clock.Advance(s.advance)
		drive.release <- struct{}{}
		drive.mustWait(s.wait)
		if n := env.pollCount(); n != i+1 {
			t.Fatalf("step %d: %d polls, want %d", i, n, i+1)
		}
		if got := env.deviceState("tv"); got != s.state {
			t.Fatalf("step %d: device_state %q, want %q", i, got, s.state)
		}
		answers = append(answers, env.read("status/tv"), env.read("consent/tv"))
	}
	var at []time.Time
	env.v.get(func(v *codeVendor) { at = v.polls })
	for i, want := range []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second} {
		if got := at[i].Sub(start); got != want {
			t.Fatalf("poll %d at +%v, want +%v", i, got, want)
		}
	}
	if got := env.read("consent/tv").Data["interval"]; got != 10 {
		t.Fatalf("interval after slow_down %v, want 10", got)
	}

	env.clock.Advance(10 * time.Second)
	drive.release <- struct{}{}
	drive.mustEnd()
	if got := env.deviceState("tv"); got != "approved" {
		t.Fatalf("after the token: device_state %q", got)
	}
	if rec, _ := loadDevice(context.Background(), env.storage, "tv"); rec != nil {
		t.Fatal("device/tv outlives the approval")
	}
	st := env.read("status/tv").Data
	creds := env.read("creds/tv")
	if st["state"] != "ok" || !strings.HasPrefix(creds.Data["access_token"].(string), "at-") {
		t.Fatalf("after approval: state %v, creds %v", st["state"], creds.Data)
	}
	env.mustRequests(5) // the device authorization and four polls: creds came from the cache
	consented := env.heldRefreshToken("tv")
	for range 3 {
		env.clock.Advance(50 * time.Minute)
		env.read("creds/tv")
	}
	env.v.get(func(v *codeVendor) {
		if v.refreshes != 3 || v.replays != 0 || v.unknownSent != 0 {
			t.Fatalf("%d refreshes, %d replays, %d unknown; want 3, 0, 0", v.refreshes, v.replays, v.unknownSent)
		}
	})
	if env.heldRefreshToken("tv") == consented {
		t.Fatal("the refresh token did not rotate")
	}
	env.assertNoDeviceCode(append(answers, creds, env.read("consent/tv"))...)
	env.assertNoSecrets(consented, env.heldRefreshToken("tv"))
}

// TestDeviceConsentOutcomes: a denial, the vendor's expired_token, an
// authorization nobody answers before expires_in, and a refused device
// code each end the consent with that outcome: device/<name> deleted (no
// poll after), status and the consent read say so with the error (never
// the device code, which the vendor echoes), and the connection still
// needs consent.
func TestDeviceConsentOutcomes(t *testing.T) {
	for _, c := range []struct {
		script []string
		ttl    time.Duration
		want   string
		errHas string
		polls  int
	}{
		{[]string{"access_denied"}, 10 * time.Minute, "denied", "access_denied", 1},
		{[]string{"authorization_pending", "expired_token"}, 10 * time.Minute, "expired", "expired_token", 2},
		{[]string{"authorization_pending"}, 12 * time.Second, "expired", "expired at", 2},
		{[]string{"invalid_grant"}, 10 * time.Minute, "failed", "invalid_grant", 1},
	} {
		t.Run(c.want+"-"+c.errHas, func(t *testing.T) {
			env := newConsentEnv(t, &logical.InmemStorage{})
			drive := drivePoller(env.testEnv)
			env.v.set(func(v *codeVendor) { v.deviceScript, v.deviceTTL = c.script, c.ttl })
			env.write("config/tv", deviceConsentConfig("tv"))
			resp := env.write("consent/tv", map[string]interface{}{"method": "device"})
			drive.mustWait(5 * time.Second)
			for ended := false; !ended; {
				env.clock.Advance(5 * time.Second)
				drive.release <- struct{}{}
				_, waiting := drive.next()
				ended = !waiting
			}
			if n := env.pollCount(); n != c.polls {
				t.Fatalf("%d polls, want %d", n, c.polls)
			}
			cr := env.read("consent/tv")
			if got := env.deviceState("tv"); got != c.want || !strings.Contains(cr.Data["last_error"].(string), c.errHas) {
				t.Fatalf("device_state %q (want %q), last_error %q (want it naming %s)", got, c.want, cr.Data["last_error"], c.errHas)
			}
			if rec, _ := loadDevice(context.Background(), env.storage, "tv"); rec != nil {
				t.Fatal("device/tv outlives its end")
			}
			env.clock.Advance(time.Hour)
			env.b.periodic(context.Background(), &logical.Request{Storage: env.storage})
			if !env.b.devices.listed.Load() || pollerRunning(env.testEnv) {
				t.Fatal("the periodic pass did not look for pending consents, or started a poller for none")
			}
			if n := env.pollCount(); n != c.polls {
				t.Fatalf("%d polls after the end, want %d", n, c.polls)
			}
			if st := env.read("status/tv").Data["state"]; st != "needs-consent" {
				t.Fatalf("state %v", st)
			}
			env.assertNoDeviceCode(resp, cr, env.read("status/tv"))
		})
	}
}

// TestDeviceConsentOnStandby: a performance standby (replication state)
// and an OpenBao standby (storage refuses writes) never poll, though a
// pending consent in the shared storage is long due: the periodic pass
// starts no poller on the first, the second's poller ends at its first
// write, before any request; a device consent write there is
// logical.ErrReadOnly itself (Vault forwards it). The active node then
// polls it.
func TestDeviceConsentOnStandby(t *testing.T) {
	env := newConsentEnv(t, &logical.InmemStorage{})
	drive := drivePoller(env.testEnv)
	env.v.set(func(v *codeVendor) { v.deviceScript = []string{""} })
	env.write("config/tv", deviceConsentConfig("tv"))
	env.write("consent/tv", map[string]interface{}{"method": "device"})
	drive.mustWait(5 * time.Second)
	env.clock.Advance(time.Minute)

	perf := newTestEnvWith(t, env.storage, env.clock)
	perf.sys.ReplicationStateVal = consts.ReplicationPerformanceStandby
	perfDrive := drivePoller(perf)
	bao := newTestEnvWith(t, &refusingWrites{env.storage}, env.clock)
	baoDrive := drivePoller(bao)
	for _, standby := range []*testEnv{perf, bao} {
		env.v.install(standby.b)
		standby.b.periodic(context.Background(), &logical.Request{Storage: standby.storage})
		if _, err := standby.do(logical.UpdateOperation, "consent/tv", map[string]interface{}{"method": "device"}); err == nil || err.Error() != logical.ErrReadOnly.Error() {
			t.Fatalf("device consent write on a standby: %v, want logical.ErrReadOnly", err)
		}
		if _, err := standby.b.pollDueDevices(context.Background(), standby.storage); err != logical.ErrReadOnly {
			t.Fatalf("pollDueDevices on a standby: %v", err)
		}
	}
	baoDrive.mustEnd() // started by the periodic pass, ended at the refused write
	if bao.b.devices.listed.Load() {
		t.Fatal("the OpenBao standby will not look for pending consents again")
	}
	if pollerRunning(perf) || len(perfDrive.idle) != 0 {
		t.Fatal("a poller ran on the performance standby")
	}
	env.v.get(func(v *codeVendor) {
		if len(v.polls) != 0 || v.deviceAuths != 1 {
			t.Fatalf("standbys: %d polls, %d device authorizations; want 0, 1", len(v.polls), v.deviceAuths)
		}
	})
	drive.release <- struct{}{}
	drive.mustEnd()
	if got := env.deviceState("tv"); got != "approved" || env.pollCount() != 1 {
		t.Fatalf("active node: device_state %q after %d polls", got, env.pollCount())
	}
}

// TestDeviceConsentSurvivesRestart: the polling state is in storage after
// each step: a new backend (a restart, a new leader) initialized over the
// same storage resumes the pending consent at once, at the interval
// slow_down raised (not the vendor's first), with the same device code.
func TestDeviceConsentSurvivesRestart(t *testing.T) {
	env := newConsentEnv(t, &logical.InmemStorage{})
	drive := drivePoller(env.testEnv)
	env.v.set(func(v *codeVendor) { v.deviceScript = []string{"slow_down", ""} })
	env.write("config/tv", deviceConsentConfig("tv"))
	env.write("consent/tv", map[string]interface{}{"method": "device"})
	drive.mustWait(5 * time.Second)
	env.clock.Advance(5 * time.Second)
	drive.release <- struct{}{}
	drive.mustWait(10 * time.Second)
	env.b.clean(context.Background()) // the old process is gone
	drive.mustEnd()

	next := newTestEnvWith(t, env.storage, env.clock)
	env.v.install(next.b)
	nextDrive := drivePoller(next)
	env.clock.Advance(4 * time.Second)
	if err := next.b.Initialize(context.Background(), &logical.InitializationRequest{Storage: next.storage}); err != nil {
		t.Fatal(err)
	}
	nextDrive.mustWait(6 * time.Second) // the rest of the raised interval
	env.clock.Advance(6 * time.Second)
	nextDrive.release <- struct{}{}
	nextDrive.mustEnd()
	if got := next.read("status/tv").Data["device_state"]; got != "approved" {
		t.Fatalf("after the restart: device_state %v", got)
	}
	env.v.get(func(v *codeVendor) {
		if len(v.polls) != 2 || v.unknownSent != 0 {
			t.Fatalf("%d polls, %d with an unknown device code; want 2, 0", len(v.polls), v.unknownSent)
		}
	})
	if !strings.HasPrefix(next.read("creds/tv").Data["access_token"].(string), "at-") {
		t.Fatal("creds does not serve after the restart's approval")
	}
}

// TestConsentMethodsReplaceEachOther: a consent by code replaces a
// pending device consent (never polled again, status without it), and a
// device consent replaces a code consent (its callback finds none); a
// config delete drops a pending device consent.
func TestConsentMethodsReplaceEachOther(t *testing.T) {
	env := newConsentEnv(t, &logical.InmemStorage{})
	drive := drivePoller(env.testEnv)
	env.v.set(func(v *codeVendor) { v.deviceScript = []string{"authorization_pending"} })
	cfg := authCodeConfig("xero")
	cfg["device_auth_url"] = "http://127.0.0.1/xero/device"
	env.write("config/xero", cfg)
	env.write("consent/xero", map[string]interface{}{"method": "device"})
	drive.mustWait(5 * time.Second)

	code := env.write("consent/xero", nil)
	if rec, _ := loadDevice(context.Background(), env.storage, "xero"); rec != nil {
		t.Fatal("the consent by code left the device consent pending")
	}
	if st := env.read("status/xero").Data; st["device_state"] != nil {
		t.Fatalf("status still shows a device consent: %v", st["device_state"])
	}
	if cr := env.read("consent/xero").Data; cr["method"] != "authorization_code" {
		t.Fatalf("consent read %v", cr)
	}
	env.clock.Advance(5 * time.Second)
	drive.release <- struct{}{}
	drive.mustEnd()
	if n := env.pollCount(); n != 0 {
		t.Fatalf("%d polls of a replaced device consent", n)
	}

	env.write("consent/xero", map[string]interface{}{"method": "device"})
	drive.mustWait(5 * time.Second)
	if status, page := env.callback(env.v.approve(code.Data["authorize_url"].(string))); status != 400 || !strings.Contains(page, "no consent in progress") {
		t.Fatalf("the replaced code consent's callback: %d %q", status, page)
	}
	env.mustOK(logical.DeleteOperation, "config/xero", nil)
	if rec, _ := loadDevice(context.Background(), env.storage, "xero"); rec != nil {
		t.Fatal("a config delete left the device consent")
	}
}

// TestDeviceConsentRace (run with -race): the poller runs free on the
// injected clock while readers read status, the consent, creds and the
// config, and the operator starts the consent again: it ends approved,
// creds serves, no device code is polled after its approval.
func TestDeviceConsentRace(t *testing.T) {
	env := newConsentEnv(t, &logical.InmemStorage{})
	done := make(chan struct{}, 1)
	p := env.b.devices
	p.mu.Lock()
	p.wait = func(ctx context.Context, d time.Duration, _ <-chan struct{}) bool {
		env.clock.Advance(d)
		return ctx.Err() == nil
	}
	p.idle = func() {
		select {
		case done <- struct{}{}:
		default:
		}
	}
	p.mu.Unlock()
	script := []string{"authorization_pending", "authorization_pending", "slow_down", "authorization_pending", ""}
	env.v.set(func(v *codeVendor) { v.deviceScript = append([]string(nil), script...) })
	env.write("config/tv", deviceConsentConfig("tv"))
	env.write("consent/tv", map[string]interface{}{"method": "device"})
	stop := make(chan struct{})
	errs := make(chan error, 8)
	for _, path := range []string{"status/tv", "consent/tv", "creds/tv", "config/tv"} {
		go func() {
			for {
				select {
				case <-stop:
					errs <- nil
					return
				default:
				}
				if _, err := env.do(logical.ReadOperation, path, nil); err != nil && !strings.Contains(err.Error(), "needs consent") {
					errs <- fmt.Errorf("%s: %w", path, err)
					return
				}
				env.b.periodic(context.Background(), &logical.Request{Storage: env.storage})
			}
		}()
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the poller did not end")
	}
	close(stop)
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := env.read("status/tv").Data["device_state"]; got != "approved" {
		t.Fatalf("device_state %v", got)
	}
	env.v.get(func(v *codeVendor) {
		if len(v.polls) != len(script) || v.unknownSent != 0 {
			t.Fatalf("%d polls (%d with a spent device code), want %d", len(v.polls), v.unknownSent, len(script))
		}
	})
	if !strings.HasPrefix(env.read("creds/tv").Data["access_token"].(string), "at-") {
		t.Fatal("creds does not serve")
	}
}

// TestDeviceConsentTransientFailure: a 503 to a poll keeps the consent
// pending, shows the error, and doubles the wait (RFC 8628 3.5's
// back-off); the next answer resets it. The config read shows the
// pending consent's end as consent_expires_at.
func TestDeviceConsentTransientFailure(t *testing.T) {
	env := newConsentEnv(t, &logical.InmemStorage{})
	drive := drivePoller(env.testEnv)
	env.v.set(func(v *codeVendor) { v.deviceScript = []string{"authorization_pending"} })
	env.write("config/tv", deviceConsentConfig("tv"))
	resp := env.write("consent/tv", map[string]interface{}{"method": "device"})
	if got := env.read("config/tv").Data["consent_expires_at"]; got != resp.Data["expires_at"] {
		t.Fatalf("config read consent_expires_at %v, want %v", got, resp.Data["expires_at"])
	}
	drive.mustWait(5 * time.Second)
	env.v.set(func(v *codeVendor) { v.failNext = 1 })
	env.clock.Advance(5 * time.Second)
	drive.release <- struct{}{}
	drive.mustWait(10 * time.Second)
	st := env.read("status/tv").Data
	if st["device_state"] != "device-pending" || !strings.Contains(st["device_error"].(string), "503") {
		t.Fatalf("after a 503: device_state %v, device_error %q", st["device_state"], st["device_error"])
	}
	env.clock.Advance(10 * time.Second)
	drive.release <- struct{}{}
	drive.mustWait(5 * time.Second)
	if st := env.read("status/tv").Data; st["device_state"] != "device-pending" || st["device_error"] != "" {
		t.Fatalf("after a pending answer: device_state %v, device_error %q", st["device_state"], st["device_error"])
	}
	env.mustRequests(3)
}

// TestDeviceApprovalWithRefusedAccessToken: the approval's access token
// is too short to serve, but its refresh token is good and the device
// code is spent: the refresh token is kept (approved, with the reason),
// and the first read refreshes with it.
func TestDeviceApprovalWithRefusedAccessToken(t *testing.T) {
	env := newConsentEnv(t, &logical.InmemStorage{})
	drive := drivePoller(env.testEnv)
	env.v.set(func(v *codeVendor) { v.deviceScript, v.lifetime = []string{""}, 2*time.Second })
	env.write("config/tv", deviceConsentConfig("tv"))
	env.write("consent/tv", map[string]interface{}{"method": "device"})
	drive.mustWait(5 * time.Second)
	env.clock.Advance(5 * time.Second)
	drive.release <- struct{}{}
	drive.mustEnd()
	cr := env.read("consent/tv").Data
	if cr["device_state"] != "approved" || !strings.Contains(cr["last_error"].(string), "refresh token is kept") {
		t.Fatalf("consent read %v", cr)
	}
	env.v.set(func(v *codeVendor) { v.lifetime = time.Hour })
	if got := env.read("creds/tv").Data["access_token"].(string); !strings.HasPrefix(got, "at-") {
		t.Fatalf("creds %v", got)
	}
	env.v.get(func(v *codeVendor) {
		if v.refreshes != 1 || v.replays != 0 || v.unknownSent != 0 {
			t.Fatalf("%d refreshes, %d replays, %d unknown; want 1, 0, 0", v.refreshes, v.replays, v.unknownSent)
		}
	})
}

// TestDeviceOnlyConfig: with device_auth_url and no redirect_url an
// authorization_code config is device-only (an auth_url, given or
// discovered, is allowed and unused); without device_auth_url both
// auth_url and redirect_url stay required, each a 400 naming it.
func TestDeviceOnlyConfig(t *testing.T) {
	env := newTestEnv(t)
	base := func(extra map[string]interface{}) map[string]interface{} {
		c := map[string]interface{}{"grant_type": "authorization_code", "token_url": "https://idp.example.com/token", "client_id": "c", "client_secret": "s"}
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	for i, ok := range []map[string]interface{}{
		{"device_auth_url": "https://idp.example.com/device"},
		{"device_auth_url": "https://idp.example.com/device", "auth_url": "https://idp.example.com/authorize"},
	} {
		env.write(fmt.Sprintf("config/ok%d", i), base(ok))
	}
	for i, bad := range []struct {
		extra  map[string]interface{}
		prefix string
	}{
		{map[string]interface{}{}, "auth_url: required"},
		{map[string]interface{}{"auth_url": "https://idp.example.com/authorize"}, "redirect_url: required"},
		{map[string]interface{}{"device_auth_url": "https://idp.example.com/device", "auth_url": "http://idp.example.com/authorize"}, "auth_url: "},
	} {
		resp, err := env.do(logical.UpdateOperation, fmt.Sprintf("config/bad%d", i), base(bad.extra))
		if err != nil || resp == nil || !resp.IsError() || !strings.HasPrefix(resp.Error().Error(), bad.prefix) {
			t.Errorf("%v: %v %v, want a 400 starting %q", bad.extra, resp, err, bad.prefix)
		}
	}
}
