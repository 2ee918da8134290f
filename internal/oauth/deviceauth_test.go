package oauth

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestDeviceFlowRequestShapes: for each client_auth, the device
// authorization request (RFC 8628 3.1) carries client_id, the scope and
// the client's authentication and no grant_type; a poll (3.4) carries the
// device_code grant_type, the device code and the same authentication.
// A public client (no secret) sends client_id alone in both.
func TestDeviceFlowRequestShapes(t *testing.T) {
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("tv-client:"+testClientSecret))
	cases := []struct {
		name, auth string
		public     bool
		want       map[string]string // form fields; "" means absent
		header     string            // Authorization
	}{
		{"body", AuthBody, false, map[string]string{"client_id": "tv-client", "client_secret": testClientSecret, "client_assertion": ""}, ""},
		{"body, public client", AuthBody, true, map[string]string{"client_id": "tv-client", "client_secret": ""}, ""},
		{"basic", AuthBasic, false, map[string]string{"client_id": "", "client_secret": ""}, basic},
		{"client_secret_jwt", AuthClientSecretJWT, false, map[string]string{"client_id": "tv-client", "client_secret": "",
			"client_assertion_type": JWTBearerAssertion}, ""},
		{"private_key_jwt", AuthPrivateKeyJWT, false, map[string]string{"client_id": "tv-client", "client_secret": "",
			"client_assertion_type": JWTBearerAssertion}, ""},
		{"tls_client_auth", AuthTLSClient, false, map[string]string{"client_id": "tv-client", "client_secret": ""}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := newDeviceServer(t, []deviceAnswer{deviceOK(nil)}, pollError(400, "authorization_pending"))
			cfg := deviceConfig(srv, c.auth)
			if c.public {
				cfg.ClientSecret = ""
			}
			if c.auth == AuthClientSecretJWT {
				cfg.ClientSecret = strings.Repeat("k", 32) + testClientSecret
				cfg.SigningAlg = AlgHS256
			}
			if c.auth == AuthPrivateKeyJWT {
				cfg.PrivateKey, cfg.SigningAlg = testKeyPEM(t), AlgES256
			}
			client, clk := newDeviceClient(t, cfg), newTestClock()
			d := authorize(t, client, cfg, clk)
			clk.advance(d.Interval)
			if _, _, err := client.PollDevice(context.Background(), cfg, d.DeviceCode, d.Poller(), clk.now, noRetries); err != nil {
				t.Fatal(err)
			}
			dev, poll := srv.requests("/device"), srv.requests("/token")
			if len(dev) != 1 || len(poll) != 1 {
				t.Fatalf("%d device and %d token requests, want 1 each", len(dev), len(poll))
			}
			if got := dev[0].form.Get("scope"); got != "openid offline_access" {
				t.Errorf("device request scope %q", got)
			}
			for _, f := range []string{"grant_type", "device_code"} {
				if dev[0].form.Has(f) {
					t.Errorf("device request sends %s", f)
				}
			}
			if got := poll[0].form.Get("grant_type"); got != "urn:ietf:params:oauth:grant-type:device_code" {
				t.Errorf("poll grant_type %q", got)
			}
			if got := poll[0].form.Get("device_code"); got != testDeviceCode {
				t.Errorf("poll device_code %q", got)
			}
			for _, r := range []seenRequest{dev[0], poll[0]} {
				if got := r.header.Get("Content-Type"); got != "application/x-www-form-urlencoded" {
					t.Errorf("%s: Content-Type %q", r.path, got)
				}
				if got := r.header.Get("Authorization"); got != c.header {
					t.Errorf("%s: Authorization %q, want %q", r.path, got, c.header)
				}
				for f, want := range c.want {
					if got := r.form.Get(f); got != want {
						t.Errorf("%s: %s = %q, want %q", r.path, f, got, want)
					}
				}
				if strings.HasSuffix(c.auth, "_jwt") && strings.Count(r.form.Get("client_assertion"), ".") != 2 {
					t.Errorf("%s: client_assertion %q is not a JWT", r.path, r.form.Get("client_assertion"))
				}
			}
		})
	}
}

// TestDeviceAuthorizationAnswer: RFC 8628 3.2's fields, Google's
// verification_url spelling, the complete URI, the default interval and
// the expiry counted from when the request was sent.
func TestDeviceAuthorizationAnswer(t *testing.T) {
	srv := newDeviceServer(t, []deviceAnswer{
		deviceOK(map[string]interface{}{"verification_uri_complete": "https://example.com/device?user_code=WDJB-MJHT"}),
		deviceOK(map[string]interface{}{"verification_uri": nil, "verification_url": "https://www.google.com/device", "interval": nil}),
		deviceOK(map[string]interface{}{"expires_in": "900", "interval": 0}),
		deviceOK(map[string]interface{}{"expires_in": 90 * 24 * 3600}),
	})
	cfg := deviceConfig(srv, AuthBody)
	client, clk := newDeviceClient(t, cfg), newTestClock()
	sent := clk.now()
	cases := []struct {
		uri, complete string
		interval      time.Duration
		lifetime      time.Duration
	}{
		{"https://example.com/device", "https://example.com/device?user_code=WDJB-MJHT", 5 * time.Second, 30 * time.Minute},
		{"https://www.google.com/device", "", DefaultDeviceInterval, 30 * time.Minute},
		{"https://example.com/device", "", DefaultDeviceInterval, 15 * time.Minute},
		{"https://example.com/device", "", 5 * time.Second, MaxDeviceLifetime},
	}
	for i, c := range cases {
		d := authorize(t, client, cfg, clk)
		if d.DeviceCode != testDeviceCode || d.UserCode != testUserCode || d.VerificationURI != c.uri ||
			d.VerificationURIComplete != c.complete || d.Interval != c.interval || !d.ExpiresAt.Equal(sent.Add(c.lifetime)) {
			t.Errorf("answer %d read as %+v", i, *d)
		}
		if s := d.String(); strings.Contains(s, testDeviceCode) || !strings.Contains(s, testUserCode) {
			t.Errorf("String() = %q: it shows the user code, never the device code", s)
		}
		p := d.Poller()
		if p.State != DevicePending || !p.NextPoll.Equal(sent.Add(c.interval)) || !p.ExpiresAt.Equal(d.ExpiresAt) {
			t.Errorf("answer %d starts polling as %+v", i, p)
		}
	}
}

// TestDeviceAuthorizationMalformed: an answer missing what RFC 8628 3.2
// requires, or holding what cannot be shown or sent back, is a clear
// error naming the config, the status and the field, never quoting the
// body (it holds the device code).
func TestDeviceAuthorizationMalformed(t *testing.T) {
	cases := []struct {
		name   string
		answer deviceAnswer
		want   string
	}{
		{"no device_code", deviceOK(map[string]interface{}{"device_code": nil}), `no "device_code" field`},
		{"empty device_code", deviceOK(map[string]interface{}{"device_code": " "}), `"device_code" is empty`},
		{"no user_code", deviceOK(map[string]interface{}{"user_code": nil}), `no "user_code" field`},
		{"no verification_uri", deviceOK(map[string]interface{}{"verification_uri": nil}), `no "verification_uri" field`},
		{"javascript verification_uri", deviceOK(map[string]interface{}{"verification_uri": "javascript:alert(1)"}), `"verification_uri" is not an http(s) URL`},
		{"bad verification_uri_complete", deviceOK(map[string]interface{}{"verification_uri_complete": "file:///etc/passwd"}), `"verification_uri_complete" is not an http(s) URL`},
		{"LF in user_code", deviceOK(map[string]interface{}{"user_code": "WDJB\nMJHT"}), `"user_code" holds a control character (U+000A)`},
		{"no expires_in", deviceOK(map[string]interface{}{"expires_in": nil}), `no "expires_in" field`},
		{"expires_in zero", deviceOK(map[string]interface{}{"expires_in": 0}), `"expires_in" is 0 seconds`},
		{"negative interval", deviceOK(map[string]interface{}{"interval": -5}), `"interval" is -5 seconds`},
		{"interval text", deviceOK(map[string]interface{}{"interval": "soon"}), `"interval" is not a number`},
		{"device_code number", deviceOK(map[string]interface{}{"device_code": 42}), `"device_code" is a number`},
		{"not JSON", deviceAnswer{status: 200}, "device authorization endpoint answered HTTP 200"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := newDeviceServer(t, []deviceAnswer{c.answer})
			if c.answer.body == nil {
				srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					_, _ = w.Write([]byte("<html>" + testDeviceCode + "</html>"))
				})
			}
			cfg := deviceConfig(srv, AuthBody)
			_, err := newDeviceClient(t, cfg).AuthorizeDevice(context.Background(), cfg, newTestClock().now, noRetries)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range []string{`vendor config "tv"`, "HTTP 200", c.want} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			assertNoCredential(t, err.Error())
		})
	}
}

// TestDeviceAuthorizationRefused: the endpoint's OAuth error is named with
// its status and the endpoint (not "token endpoint"); GitHub's 200 with an
// error body is an error too; a redirect is not followed; a missing
// device_auth_url is refused before any request.
func TestDeviceAuthorizationRefused(t *testing.T) {
	srv := newDeviceServer(t, []deviceAnswer{pollError(401, "invalid_client"), pollError(200, "device_flow_disabled"), pollError(302, "x")})
	cfg := deviceConfig(srv, AuthBody)
	client := newDeviceClient(t, cfg)
	for _, want := range []string{"device authorization endpoint answered HTTP 401: invalid_client", "device authorization endpoint answered HTTP 200: device_flow_disabled",
		"device authorization endpoint answered HTTP 302: redirect to no usable Location not followed (credentials are only sent to device_auth_url)"} {
		_, err := client.AuthorizeDevice(context.Background(), cfg, newTestClock().now, noRetries)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), `vendor config "tv": `) {
			t.Errorf("error %v, want %q", err, want)
		}
	}
	cfg.DeviceAuthURL = ""
	if _, err := client.AuthorizeDevice(context.Background(), cfg, newTestClock().now, noRetries); err == nil || !strings.Contains(err.Error(), "device_auth_url") {
		t.Errorf("no device_auth_url: %v", err)
	}
	if n := len(srv.requests("/device")); n != 3 {
		t.Errorf("%d device requests, want 3", n)
	}
}

// TestDeviceAuthorizationTransportErrorsNameTheEndpoint: an endpoint that
// does not answer is named as the device authorization endpoint.
func TestDeviceAuthorizationTransportErrorsNameTheEndpoint(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	cfg := &Config{Name: "tv", DeviceAuthURL: dead.URL + "/device", TokenURL: dead.URL + "/token", ClientID: "c", Timeout: 5 * time.Second}
	_, err := newDeviceClient(t, cfg).AuthorizeDevice(context.Background(), cfg, time.Now, noRetries)
	if err == nil || !strings.HasPrefix(err.Error(), `vendor config "tv": device authorization request failed`) {
		t.Fatalf("error %v", err)
	}
}

// TestDeviceFlowEchoShowsNoSecret: a server echoing each request (body and
// Basic header) in its error shows neither the client secret nor the
// device code, while the error still names the config, status and code.
func TestDeviceFlowEchoShowsNoSecret(t *testing.T) {
	for _, auth := range []string{AuthBody, AuthBasic} {
		t.Run(auth, func(t *testing.T) {
			srv := newDeviceServer(t, []deviceAnswer{{echo: true}, deviceOK(nil)}, deviceAnswer{echo: true})
			cfg := deviceConfig(srv, auth)
			client, clk := newDeviceClient(t, cfg), newTestClock()
			_, err := client.AuthorizeDevice(context.Background(), cfg, clk.now, noRetries)
			if err == nil || !strings.Contains(err.Error(), "HTTP 400") || !strings.Contains(err.Error(), "invalid_request") {
				t.Fatalf("echoed device request: %v", err)
			}
			assertNoCredential(t, err.Error())
			d := authorize(t, client, cfg, clk)
			clk.advance(d.Interval)
			p, _, err := client.PollDevice(context.Background(), cfg, d.DeviceCode, d.Poller(), clk.now, noRetries)
			if err == nil || p.State != DeviceFailed || !strings.Contains(err.Error(), `vendor config "tv": token endpoint answered HTTP 400`) ||
				!strings.Contains(err.Error(), "invalid_request") {
				t.Fatalf("echoed poll: state %s, error %v", p.State, err)
			}
			assertNoCredential(t, err.Error())
			if got := srv.requests("/token")[0].form.Get("device_code"); got != testDeviceCode {
				t.Fatalf("the echo test sent device_code %q", got) // the control: the secret was sent
			}
		})
	}
}

func testKeyPEM(t *testing.T) string {
	t.Helper()
	k, err := GenerateKey(KeyEC)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// FuzzParseDeviceAuthorization: no input panics; an accepted answer has a
// printable device code and user code, an http(s) verification URI, an
// expiry after the request and within MaxDeviceLifetime, and an interval
// of at least a second and at most MaxDeviceInterval; no error quotes the
// device code.
func FuzzParseDeviceAuthorization(f *testing.F) {
	for _, s := range []string{
		`{"device_code":"GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS","user_code":"WDJB-MJHT","verification_uri":"https://example.com/device","verification_uri_complete":"https://example.com/device?user_code=WDJB-MJHT","expires_in":1800,"interval":5}`, // RFC 8628 3.2
		`{"device_code":"AH-1Ng1x","user_code":"GQVQ-JKEC","verification_url":"https://www.google.com/device","expires_in":1800,"interval":5}`,                                                                                                            // Google
		`{"device_code":"3584d83530557fdd1f46af8289938c8ef79f9dc5","user_code":"WDJB-MJHT","verification_uri":"https://github.com/login/device","expires_in":900,"interval":5}`,                                                                           // GitHub
		`{"device_code":"x","user_code":"y","verification_uri":"javascript:alert(1)","expires_in":1}`, `{"device_code":"secretsecret","interval":0.0001}`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := ParseDeviceAuthorization(body, now)
		if err != nil {
			if code := fuzzToken(body, "device_code"); len(code) >= 8 && strings.Contains(err.Error(), code) {
				t.Fatalf("error quotes the device code: %q", err)
			}
			return
		}
		if checkPrintable("device_code", d.DeviceCode, maxDeviceCodeBytes) != nil || d.DeviceCode == "" ||
			checkPrintable("user_code", d.UserCode, maxUserCodeBytes) != nil || d.UserCode == "" {
			t.Fatalf("accepted codes %q, %q", d.DeviceCode, d.UserCode)
		}
		if !strings.HasPrefix(d.VerificationURI, "http") {
			t.Fatalf("accepted verification URI %q", d.VerificationURI)
		}
		if !d.ExpiresAt.After(now) || d.ExpiresAt.After(now.Add(MaxDeviceLifetime)) || d.Interval < time.Second || d.Interval > MaxDeviceInterval {
			t.Fatalf("accepted expiry %s, interval %s", d.ExpiresAt, d.Interval)
		}
	})
}
