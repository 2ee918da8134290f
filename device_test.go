package oauthvendor

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
)

const (
	deviceSecret = "dev-client-secret-Q7vX2mK9"
	deviceCode   = "dc-Lr8Hq2Vn6Tz4Wp1Ys5"
)

// deviceVendor is a device-flow server: /device answers a device
// authorization, /token answers polls from its script (the last repeats).
type deviceVendor struct {
	*httptest.Server
	mu    sync.Mutex
	polls []string // error codes; "" is the token
	forms []url.Values
}

func newDeviceVendor(t *testing.T, polls ...string) *deviceVendor {
	v := &deviceVendor{polls: polls}
	v.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		v.mu.Lock()
		v.forms = append(v.forms, form)
		code := v.polls[0]
		if len(v.polls) > 1 && r.URL.Path == "/token" {
			v.polls = v.polls[1:]
		}
		v.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/device":
			_ = json.NewEncoder(w).Encode(map[string]interface{}{"device_code": deviceCode, "user_code": "BDWP-HQPK",
				"verification_uri": v.URL + "/activate", "expires_in": 600, "interval": 5})
		case code == "":
			_ = json.NewEncoder(w).Encode(map[string]interface{}{"access_token": "user-at", "token_type": "Bearer",
				"expires_in": 3600, "refresh_token": "user-rt"})
		default:
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]interface{}{"error": code,
				"error_description": "echo: " + string(body)}) // a careless vendor echoes the request
		}
	}))
	t.Cleanup(v.Close)
	return v
}

func (v *deviceVendor) sent() []url.Values {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]url.Values(nil), v.forms...)
}

// TestDeviceFlowThroughTheConnection: the hooks the consent path calls.
// startDevice asks device_auth_url with the config's client
// authentication and scopes; pollDevice steps on the backend's clock:
// nothing before the interval, pending, then the token with its refresh
// token. A denial is a 502 naming the config and access_denied, without
// the client secret or the device code even though the vendor echoes both;
// neither reaches the log either.
func TestDeviceFlowThroughTheConnection(t *testing.T) {
	env := newTestEnv(t)
	v := newDeviceVendor(t, "authorization_pending", "")
	env.write("config/tv", map[string]interface{}{"token_url": v.URL + "/token", "device_auth_url": v.URL + "/device",
		"client_id": "tv-app", "client_secret": deviceSecret, "scopes": "openid,offline_access"})
	ctx := context.Background()
	d, err := env.b.startDevice(ctx, env.storage, "tv")
	if err != nil {
		t.Fatal(err)
	}
	if d.UserCode != "BDWP-HQPK" || d.VerificationURI != v.URL+"/activate" || !d.ExpiresAt.Equal(env.clock.Now().Add(10*time.Minute)) {
		t.Fatalf("device authorization %s", d)
	}
	if f := v.sent()[0]; f.Get("client_id") != "tv-app" || f.Get("client_secret") != deviceSecret || f.Get("scope") != "openid offline_access" {
		t.Fatalf("device request %v", f)
	}
	p := d.Poller()
	steps := []struct {
		advance time.Duration
		state   oauth.DeviceState
		sent    int // requests so far, the device request included
	}{{4 * time.Second, oauth.DevicePending, 1}, {time.Second, oauth.DevicePending, 2}, {5 * time.Second, oauth.DeviceApproved, 3}}
	var tok *oauth.Token
	for i, s := range steps {
		env.clock.Advance(s.advance)
		p, tok, err = env.b.pollDevice(ctx, env.storage, "tv", d.DeviceCode, p)
		if err != nil || p.State != s.state || len(v.sent()) != s.sent {
			t.Fatalf("step %d: state %s, %d requests, error %v", i, p.State, len(v.sent()), err)
		}
	}
	if tok == nil || tok.AccessToken != "user-at" || tok.RefreshToken != "user-rt" {
		t.Fatalf("approved: %+v", tok)
	}
	if f := v.sent()[2]; f.Get("grant_type") != oauth.DeviceCodeGrantType || f.Get("device_code") != deviceCode || f.Get("client_secret") != deviceSecret {
		t.Fatalf("poll %v", f)
	}

	denied := newDeviceVendor(t, "access_denied")
	env.write("config/tv", map[string]interface{}{"token_url": denied.URL + "/token", "device_auth_url": denied.URL + "/device", "client_secret": deviceSecret})
	d, err = env.b.startDevice(ctx, env.storage, "tv")
	if err != nil {
		t.Fatal(err)
	}
	env.clock.Advance(d.Interval)
	p, tok, err = env.b.pollDevice(ctx, env.storage, "tv", d.DeviceCode, d.Poller())
	if p.State != oauth.DeviceDenied || tok != nil || codedStatus(err) != http.StatusBadGateway ||
		!strings.Contains(err.Error(), `vendor config "tv": token endpoint answered HTTP 400: access_denied`) {
		t.Fatalf("denied: state %s, error %v", p.State, err)
	}
	for _, text := range []string{err.Error(), env.logs.String()} {
		if strings.Contains(text, deviceSecret) || strings.Contains(text, deviceCode) {
			t.Fatalf("a credential shows: %q", text)
		}
	}
	if !strings.Contains(err.Error(), "[redacted]") {
		t.Fatalf("the echo was not there to redact: %v", err) // the control
	}
}

// TestDeviceFlowNeedsDeviceAuthURL: a config without device_auth_url is
// a 400 naming it, before any request; an unknown config a 404.
func TestDeviceFlowNeedsDeviceAuthURL(t *testing.T) {
	env := newTestEnv(t)
	v := newDeviceVendor(t, "")
	env.write("config/tv", map[string]interface{}{"token_url": v.URL + "/token", "client_id": "tv-app", "client_secret": deviceSecret})
	_, err := env.b.startDevice(context.Background(), env.storage, "tv")
	if codedStatus(err) != http.StatusBadRequest || !strings.HasPrefix(err.Error(), "device_auth_url: config \"tv\" has none") {
		t.Fatalf("error %v", err)
	}
	if _, err := env.b.startDevice(context.Background(), env.storage, "nope"); codedStatus(err) != http.StatusNotFound {
		t.Fatalf("unknown config: %v", err)
	}
	if len(v.sent()) != 0 {
		t.Fatalf("%d requests sent", len(v.sent()))
	}
}

// TestDeviceAuthURLField: readable; https except loopback, like token_url;
// optional; each refusal a 400 naming the field.
func TestDeviceAuthURLField(t *testing.T) {
	env := newTestEnv(t)
	base := map[string]interface{}{"token_url": "https://idp.example.com/token", "client_id": "c", "client_secret": deviceSecret}
	env.write("config/tv", base)
	if got := env.read("config/tv").Data["device_auth_url"]; got != "" {
		t.Fatalf("device_auth_url %v without one written", got)
	}
	for _, ok := range []string{"https://idp.example.com/devicecode", "http://127.0.0.1:8080/device", "http://localhost/device"} {
		env.write("config/tv", map[string]interface{}{"device_auth_url": ok, "client_secret": deviceSecret})
		if got := env.read("config/tv").Data["device_auth_url"]; got != ok {
			t.Fatalf("device_auth_url %v, want %s", got, ok)
		}
	}
	for bad, want := range map[string]string{
		"http://idp.example.com/device":                               "must be https",
		"ftp://idp.example.com/device":                                "scheme",
		"https://user:pw@idp.example.com/dev":                         "must not carry credentials",
		"/device":                                                     "absolute URL",
		"https://169.254.169.254/device":                              "never sends credentials there",
		"https://idp.example.com/" + strings.Repeat("d", maxTokenURL): "longer than",
	} {
		resp, err := env.do(logical.UpdateOperation, "config/tv", map[string]interface{}{"device_auth_url": bad, "client_secret": deviceSecret})
		if err != nil || resp == nil || !resp.IsError() || !strings.HasPrefix(resp.Error().Error(), "device_auth_url: ") ||
			!strings.Contains(resp.Error().Error(), want) {
			t.Errorf("%.60s: %v %v, want a 400 saying %q", bad, resp, err, want)
		}
	}
}

// TestDeviceAuthURLFollowsSecrets: the device request carries the client
// secret, so a device_auth_url on a host the secret was not written for
// is refused unless the write gives it again; on the token endpoint's host
// nothing is needed. Changing it alone keeps the cached token (only a
// consent asks there).
func TestDeviceAuthURLFollowsSecrets(t *testing.T) {
	env := newTestEnv(t)
	v := newDeviceVendor(t, "")
	env.write("config/tv", map[string]interface{}{"token_url": v.URL + "/token", "client_id": "tv-app", "client_secret": deviceSecret})
	first := env.read("creds/tv").Data["access_token"]
	env.write("config/tv", map[string]interface{}{"device_auth_url": v.URL + "/device"}) // the token host
	resp, err := env.do(logical.UpdateOperation, "config/tv", map[string]interface{}{"device_auth_url": "https://elsewhere.example.com/device"})
	if err != nil || resp == nil || !resp.IsError() ||
		!strings.HasPrefix(resp.Error().Error(), "device_auth_url: sends the client's credentials to a device authorization endpoint at https://elsewhere.example.com:443") ||
		!strings.Contains(resp.Error().Error(), "give client_secret again") {
		t.Fatalf("moved without the secret: %v %v", resp, err)
	}
	env.write("config/tv", map[string]interface{}{"device_auth_url": "https://elsewhere.example.com/device", "client_secret": deviceSecret})
	if env.read("creds/tv").Data["access_token"] != first || len(v.sent()) != 1 {
		t.Fatalf("a device_auth_url write dropped the cached token (%d requests)", len(v.sent()))
	}
}

// TestDeviceAuthURLDiscovered: the issuer's device_authorization_endpoint
// (RFC 8628 4) fills device_auth_url unless one was written; an issuer
// without one leaves it empty, and an unusable one (plain http to a
// remote host) is left out without refusing the write.
func TestDeviceAuthURLDiscovered(t *testing.T) {
	env := newTestEnv(t)
	srv := newMetadataServer(t, "/.well-known/openid-configuration", "", nil)
	srv.device = srv.URL + "/device/auth"
	write := map[string]interface{}{"issuer": srv.URL, "client_id": "c", "client_secret": deviceSecret, "client_auth": "basic"}
	env.write("config/idp", write)
	if got := env.read("config/idp").Data["device_auth_url"]; got != srv.URL+"/device/auth" {
		t.Fatalf("device_auth_url %v, want the discovered one", got)
	}
	env.write("config/idp", map[string]interface{}{"device_auth_url": srv.URL + "/mine"})
	env.write("config/idp", map[string]interface{}{"issuer": srv.URL})
	if got := env.read("config/idp").Data["device_auth_url"]; got != srv.URL+"/mine" {
		t.Fatalf("device_auth_url %v: discovery replaced the operator's", got)
	}
	for _, c := range []struct{ published, want string }{{"", ""}, {"http://idp.example.com/device", ""}, {srv.URL + "/device/v2", srv.URL + "/device/v2"}} {
		env.mustOK(logical.DeleteOperation, "config/idp", nil)
		srv.device = c.published
		env.write("config/idp", write)
		if got := env.read("config/idp").Data["device_auth_url"]; got != c.want {
			t.Errorf("published %q: device_auth_url %v, want %q", c.published, got, c.want)
		}
	}
}
