package oauth

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The device authorization grant's timing (RFC 8628).
const (
	// DefaultDeviceInterval: 3.2, "If no value is provided, clients MUST
	// use 5 as the default".
	DefaultDeviceInterval = 5 * time.Second
	// SlowDownStep: 3.5, slow_down means "the interval MUST be increased
	// by 5 seconds for this and all subsequent requests".
	SlowDownStep = 5 * time.Second
	// MaxDeviceInterval bounds the interval a server may ask for: a larger
	// one is a server bug, and would leave the user waiting that long
	// after approving.
	MaxDeviceInterval = time.Hour
	// MaxDeviceLifetime bounds how long a device authorization is polled,
	// whatever its expires_in says (Entra ID and GitHub give 15 minutes,
	// Google 30, oidc-provider 10).
	MaxDeviceLifetime = 24 * time.Hour
)

// Size caps of what a device authorization answer holds. Real codes are
// tens of characters (Entra ID's device code a few hundred); the user code
// and the URIs are shown to a person.
const (
	maxDeviceCodeBytes = 16 << 10
	maxUserCodeBytes   = 128
	maxURIBytes        = 2048
)

// DeviceAuthorization is a device authorization answer (RFC 8628 3.2).
// DeviceCode is a credential: the caller keeps it write-only, sends it
// back in each poll (Config.DeviceCode) and never shows it; String leaves
// it out. UserCode and the verification URIs are shown to the user by
// design (3.3).
type DeviceAuthorization struct {
	DeviceCode      string
	UserCode        string
	VerificationURI string
	// VerificationURIComplete, when the server gives one, is
	// VerificationURI with the user code in it (3.3.1).
	VerificationURIComplete string
	// IssuedAt is when the request was sent; the server's expires_in counts
	// from later, so IssuedAt+expires_in errs on the early side.
	IssuedAt  time.Time
	ExpiresAt time.Time
	// Interval is the least time between polls (3.2).
	Interval time.Duration
}

// String shows the authorization without its device code.
func (d *DeviceAuthorization) String() string {
	return fmt.Sprintf("device authorization (user_code %s at %s, expires %s, interval %s)",
		Quote(d.UserCode), Quote(d.VerificationURI), d.ExpiresAt.UTC().Format(time.RFC3339), d.Interval)
}

// deviceAuthorizationRequest is RFC 8628 3.1's request as a row like the
// grants': no parameters of its own (the scope and the config's params are
// added as for any token request: Auth0 wants its audience here), with
// the client's authentication (client_id alone for a public client).
var deviceAuthorizationRequest = grant{
	fields:        func(map[string]string, *Config, grantInputs) {},
	authenticates: true,
}

// AuthorizeDevice asks cfg.DeviceAuthURL for a device authorization (RFC
// 8628 3.1) with cfg's client authentication and scope, and reads its
// answer (3.2). Its errors name the config, the HTTP status and the OAuth
// error, with cfg's secrets redacted. h's Observer is not told: this is not
// a token request.
func (c *Client) AuthorizeDevice(ctx context.Context, cfg *Config, now func() time.Time, h Hooks) (*DeviceAuthorization, error) {
	if cfg.DeviceAuthURL == "" {
		return nil, fmt.Errorf("vendor config %q: no device authorization endpoint (device_auth_url)", cfg.Name)
	}
	auth, err := clientAuthOf(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	red := newRedactor(cfg)
	sentAt := now()
	src := &bodySource{ctx: ctx, cfg: cfg, grant: deviceAuthorizationRequest, auth: auth, signer: c.signer, now: now}
	req, err := newPost(ctx, cfg, cfg.DeviceAuthURL, auth, src)
	if err != nil {
		return nil, atDeviceEndpoint(cfg.Name, transportError(cfg.Name, err, red))
	}
	h.Observer = nil
	resp, body, red, gerr := c.roundTrip(ctx, cfg, req, src, h, red)
	if gerr != nil {
		return nil, atDeviceEndpoint(cfg.Name, gerr)
	}
	d, gerr := interpretDeviceAuthorization(cfg, resp, body, sentAt, red)
	if gerr != nil {
		return nil, atDeviceEndpoint(cfg.Name, gerr)
	}
	return d, nil
}

// interpretDeviceAuthorization turns the answer into a device
// authorization or a clear failure, as interpret does a token answer.
func interpretDeviceAuthorization(cfg *Config, resp *http.Response, body []byte, sentAt time.Time, red *redactor) (*DeviceAuthorization, *Error) {
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return nil, vendorStatusError(cfg.Name, resp.StatusCode,
			fmt.Sprintf("redirect to %s not followed (credentials are only sent to device_auth_url)", redirectTarget(resp, cfg.DeviceAuthURL)))
	case resp.StatusCode < 200 || resp.StatusCode >= 300:
		return nil, statusFailure(cfg.Name, resp, body, red)
	}
	d, err := ParseDeviceAuthorization(body, sentAt)
	if err != nil && errorCode(body, red) != "" {
		return nil, statusFailure(cfg.Name, resp, body, red) // GitHub's 200 with an OAuth error
	}
	if err != nil {
		return nil, &Error{Status: resp.StatusCode, Message: fmt.Sprintf(
			"vendor config %q: device authorization endpoint answered HTTP %d without a usable device authorization: %v",
			cfg.Name, resp.StatusCode, redactedErr(red, err))}
	}
	return d, nil
}

// deviceEndpointWords: the shared error builders name the token endpoint
// (errors.go); an error of the device authorization request names its own.
var deviceEndpointWords = [][2]string{
	{"token endpoint", "device authorization endpoint"},
	{"token request", "device authorization request"},
	{"token_url", "device_auth_url"},
}

// atDeviceEndpoint rewrites the words an error's own prefix uses for the
// endpoint (never the vendor's text after it).
func atDeviceEndpoint(name string, e *Error) *Error {
	head := fmt.Sprintf("vendor config %q: ", name)
	rest, ok := strings.CutPrefix(e.Message, head)
	if !ok {
		return e
	}
	for _, w := range deviceEndpointWords {
		if after, found := strings.CutPrefix(rest, w[0]); found {
			e.Message = head + w[1] + after
			break
		}
	}
	return e
}

// ParseDeviceAuthorization reads RFC 8628 3.2's answer. Google spells
// verification_uri "verification_url" (its TV and limited-input device
// flow), as Entra ID's v1 endpoint did. Failures say which field is wrong
// without quoting the body (it holds the device code).
func ParseDeviceAuthorization(body []byte, sentAt time.Time) (*DeviceAuthorization, error) {
	doc, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	d := &DeviceAuthorization{IssuedAt: sentAt}
	if d.DeviceCode, err = stringField(doc, "device_code"); err != nil {
		return nil, err
	}
	if err := checkPrintable("device_code", d.DeviceCode, maxDeviceCodeBytes); err != nil {
		return nil, err
	}
	if d.UserCode, err = stringField(doc, "user_code"); err != nil {
		return nil, err
	}
	if err := checkPrintable("user_code", d.UserCode, maxUserCodeBytes); err != nil {
		return nil, err
	}
	if d.VerificationURI, err = verificationURI(doc); err != nil {
		return nil, err
	}
	if d.VerificationURIComplete, err = optionalURI(doc, "verification_uri_complete"); err != nil {
		return nil, err
	}
	lifetime, err := deviceLifetime(doc)
	if err != nil {
		return nil, err
	}
	d.ExpiresAt = sentAt.Add(lifetime)
	if d.Interval, err = deviceInterval(doc); err != nil {
		return nil, err
	}
	return d, nil
}

// verificationURI is verification_uri, or Google's verification_url.
func verificationURI(doc map[string]interface{}) (string, error) {
	for _, f := range []string{"verification_uri", "verification_url"} {
		u, err := optionalURI(doc, f)
		if err != nil || u != "" {
			return u, err
		}
	}
	return "", fmt.Errorf("response has no %q field", "verification_uri")
}

// optionalURI is an http(s) URL shown to the user, "" when absent: a
// javascript: or file: URI, or one with control characters, is refused.
func optionalURI(doc map[string]interface{}, field string) (string, error) {
	if v, ok := lookup(doc, field); !ok || v == nil {
		return "", nil
	}
	s, err := stringField(doc, field)
	if err != nil {
		return "", err
	}
	if err := checkPrintable(field, s, maxURIBytes); err != nil {
		return "", err
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("response field %q is not an http(s) URL", field)
	}
	return s, nil
}

// checkPrintable: a code sent back or shown to a person is printable ASCII
// of bounded size (what every server in RFC 8628's examples and the
// vendors' pages sends).
func checkPrintable(field, s string, maxBytes int) error {
	if len(s) > maxBytes {
		return fmt.Errorf("response field %q is %d bytes, more than %d", field, len(s), maxBytes)
	}
	if i, r, bad := firstInvalid(s, isVSCHAR); bad {
		return fmt.Errorf("response field %q holds %s at byte %d: it must be printable ASCII", field, describeRune(r), i)
	}
	return nil
}

// deviceLifetime is expires_in (REQUIRED, 3.2), at most MaxDeviceLifetime.
func deviceLifetime(doc map[string]interface{}) (time.Duration, error) {
	secs, ok, err := secondsField(doc, "expires_in")
	switch {
	case err != nil:
		return 0, err
	case !ok:
		return 0, fmt.Errorf("response has no %q field", "expires_in")
	case secs <= 0:
		return 0, fmt.Errorf("response field %q is %g seconds: the authorization has already expired", "expires_in", secs)
	case secs > MaxDeviceLifetime.Seconds():
		return MaxDeviceLifetime, nil
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// deviceInterval is interval (OPTIONAL, 3.2, in seconds):
// DefaultDeviceInterval when absent, or under a second (0 would have the
// endpoint polled without pause), at most MaxDeviceInterval.
func deviceInterval(doc map[string]interface{}) (time.Duration, error) {
	secs, ok, err := secondsField(doc, "interval")
	switch {
	case err != nil:
		return 0, err
	case !ok || (secs >= 0 && secs < 1):
		return DefaultDeviceInterval, nil
	case secs < 0 || secs > MaxDeviceInterval.Seconds():
		return 0, fmt.Errorf("response field %q is %g seconds (between 0 and %g expected)", "interval", secs, MaxDeviceInterval.Seconds())
	}
	return time.Duration(secs * float64(time.Second)), nil
}
