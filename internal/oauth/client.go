package oauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// maxBodyBytes caps what is read from a token endpoint (1 MiB).
const maxBodyBytes = 1 << 20

// Client is what a Config needs built once rather than per grant: its
// share of a pooled transport and its assertion signer. It does not keep
// the Config: a caller holding 10 000 warm connections holds its own
// configuration once, and describes the connection again at each Grant
// (grants are rare; holding a copy of every config is not). Close gives
// the transport share back.
type Client struct {
	// tr is the transport shared by the configs of its TLS settings; the
	// retrying client around it is made per grant (Hooks), not held: a
	// warm config between refreshes needs none, and 10 000 of them would
	// hold 10 000.
	tr      http.RoundTripper
	release func()
	// signer makes client assertions (nil unless client_auth signs one).
	signer *assertionSigner
}

// Hooks are the caller's per-request side: its logger, its metrics and,
// for tests, an adjustment of the retrying HTTP client. All optional.
type Hooks struct {
	Logger   Logger
	Observer Observer
	Tune     func(*retryablehttp.Client)
}

// NewClient prepares cfg to run over a transport of pool. The error names
// the field at fault (ca_cert, private_key, ...).
func NewClient(cfg *Config, pool *Pool) (*Client, error) {
	g, auth, err := rowsOf(cfg)
	if err != nil {
		return nil, err
	}
	if err := g.takesClientAuth(cfg.GrantType, cfg.ClientAuth); err != nil {
		return nil, err
	}
	if g.signs && auth.key != nil {
		return nil, errTwoAssertions(cfg)
	}
	tr, release, err := pool.acquire(cfg)
	if err != nil {
		return nil, err
	}
	var signer *assertionSigner
	if cfg.AssertionSupplier == nil { // else the supplier signs, with its own key
		signer, err = newAssertionSigner(cfg, g, auth)
	}
	if err != nil {
		release()
		return nil, err
	}
	return &Client{tr: tr, release: release, signer: signer}, nil
}

func errTwoAssertions(cfg *Config) error {
	return fmt.Errorf("client_auth: %s signs a second assertion; grant_type %s authenticates the client with body, basic or tls_client_auth", cfg.ClientAuth, cfg.GrantType)
}

// rowsOf is cfg's row of the grant table and of the client-auth table.
func rowsOf(cfg *Config) (grant, clientAuth, error) {
	g, err := grantOf(cfg)
	if err != nil {
		return grant{}, clientAuth{}, err
	}
	auth, err := clientAuthOf(cfg)
	return g, auth, err
}

// Close gives back the client's share of its transport (idempotent).
func (c *Client) Close() { c.release() }

// Grant runs the token request of cfg once (with bounded retries) and
// returns the token, or an *Error with cfg's secrets redacted. cfg
// describes the connection NewClient was given (its TLS settings and
// signing key are the client's).
//
// The token's clock starts when the request is sent, not when the answer
// arrives: a vendor's expires_in counts from when it minted, somewhere in
// between, so a slow answer must shorten the token, never lengthen it.
func (c *Client) Grant(ctx context.Context, cfg *Config, now func() time.Time, h Hooks) (*Token, error) {
	g, auth, err := rowsOf(cfg)
	if err != nil {
		return nil, err
	}
	// Its tables are built only if an error needs them.
	red := newRedactor(cfg)
	// The subject token is had before the grant's own clock starts: the
	// source may run another connection's grant, on that one's timeout.
	subject, err := subjectFor(ctx, cfg, g)
	if err != nil {
		return nil, subjectError(cfg.Name, err, red)
	}
	red = red.withAssertions(subjectSecrets(subject))
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	sentAt := now()
	src := &bodySource{ctx: ctx, cfg: cfg, grant: g, auth: auth, signer: c.signer, subject: subject, now: now}
	req, err := newTokenRequest(ctx, cfg, auth, src)
	if err != nil {
		return nil, transportError(cfg.Name, err, red)
	}
	// Observed here, where the request is sent: whatever started the grant,
	// the caller's metrics count what the vendor saw.
	tok, gerr := c.exchange(ctx, cfg, req, src, sentAt, now, h, red)
	if h.Observer != nil {
		h.Observer.Done(gerr == nil, now().Sub(sentAt))
	}
	if gerr != nil {
		return nil, gerr
	}
	return tok, nil
}

// roundTrip sends req and reads its answer whole (the response's headers
// stay readable); the redactor it returns also cuts out the assertions
// the request sent.
func (c *Client) roundTrip(ctx context.Context, cfg *Config, req *retryablehttp.Request, src *bodySource, h Hooks, red *redactor) (*http.Response, []byte, *redactor, *Error) {
	resp, err := c.httpClient(h).Do(req)
	red = red.withAssertions(src.assertions())
	if err != nil {
		return nil, nil, red, transportError(cfg.Name, err, red)
	}
	defer resp.Body.Close()
	body, err := readCapped(resp.Body)
	if err != nil {
		return nil, nil, red, readError(ctx, cfg, resp.StatusCode, err, red)
	}
	return resp, body, red, nil
}

// exchange sends the token request and interprets the answer.
func (c *Client) exchange(ctx context.Context, cfg *Config, req *retryablehttp.Request, src *bodySource, sentAt time.Time, now func() time.Time, h Hooks, red *redactor) (*Token, *Error) {
	resp, body, red, gerr := c.roundTrip(ctx, cfg, req, src, h, red)
	if gerr != nil {
		return nil, gerr
	}
	return interpret(cfg, resp, body, src.subject, sentAt, now(), red)
}

// httpClient is the retrying HTTP client of one grant.
func (c *Client) httpClient(h Hooks) *retryablehttp.Client {
	return newRequestClient(c.tr, h)
}

// newRequestClient is the retrying client of one request (a grant, a
// metadata fetch): the caller's logger, its attempt count, its tuning.
func newRequestClient(tr http.RoundTripper, h Hooks) *retryablehttp.Client {
	var logger retryablehttp.LeveledLogger
	if h.Logger != nil {
		logger = h.Logger
	}
	cl := newHTTPClient(tr, logger)
	if h.Tune != nil {
		h.Tune(cl)
	}
	// retryablehttp calls the hook before each attempt, once its body is
	// set: the attempt's length is set there, with or without an Observer.
	tuned, o := cl.RequestLogHook, h.Observer
	cl.RequestLogHook = func(l retryablehttp.Logger, req *http.Request, attempt int) {
		attemptLength(req)
		if tuned != nil {
			tuned(l, req, attempt)
		}
		if o != nil {
			o.Attempt()
		}
	}
	return cl
}

// withAssertions is a redactor that also cuts out this request's
// assertions (a vendor may echo the body); r itself when there are none.
func (r *redactor) withAssertions(extra []string) *redactor {
	if len(extra) == 0 {
		return r
	}
	return r.with(extra)
}

func readCapped(r io.Reader) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, maxBodyBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxBodyBytes {
		return nil, fmt.Errorf("response body larger than 1 MiB")
	}
	return body, nil
}

// readError: a body that trickles in past the timeout did not answer in
// time (504), whatever the status line said.
func readError(ctx context.Context, cfg *Config, status int, err error, red *redactor) *Error {
	if ctx.Err() != nil {
		return transportError(cfg.Name, ctx.Err(), red)
	}
	if status >= 200 && status < 300 {
		return vendorGarbageError(cfg.Name, status, redactedErr(red, err))
	}
	return vendorStatusError(cfg.Name, status, red.String(err.Error()))
}

// interpret turns the vendor's answer into a token or a clear failure.
func interpret(cfg *Config, resp *http.Response, body []byte, subject *SubjectToken, sentAt, arrived time.Time, red *redactor) (*Token, *Error) {
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return nil, vendorStatusError(cfg.Name, resp.StatusCode,
			fmt.Sprintf("redirect to %s not followed (credentials are only sent to token_url; check its path, e.g. a missing trailing slash)", redirectTarget(resp, cfg.TokenURL)))
	case resp.StatusCode < 200 || resp.StatusCode >= 300:
		return nil, statusFailure(cfg.Name, resp, body, red)
	}
	tok, e := tokenOf(cfg, resp, body, subject, sentAt, arrived, red)
	if e != nil {
		// The vendor may have spent the refresh token sent even though its
		// answer is refused (a token too short-lived by the time it
		// arrived): the one it gave back is the connection's only valid one.
		e.RefreshToken = answeredRefreshToken(body)
	}
	return tok, e
}

// answeredRefreshToken is a 2xx answer's refresh_token, whatever else is
// wrong with the answer; "" when it has none that could be used.
func answeredRefreshToken(body []byte) string {
	doc, err := decodeObject(body)
	if err != nil {
		return ""
	}
	rt, _ := refreshTokenField(doc)
	return rt
}

// tokenOf reads a 2xx answer into a token.
func tokenOf(cfg *Config, resp *http.Response, body []byte, subject *SubjectToken, sentAt, arrived time.Time, red *redactor) (*Token, *Error) {
	parsed, err := ParseTokenResponse(body, cfg.fields(), sentAt)
	if err != nil && errorCode(body, red) != "" {
		// GitHub answers its device flow's (and refresh's) OAuth errors with
		// HTTP 200 and an RFC 6749 5.2 body: an error all the same.
		return nil, statusFailure(cfg.Name, resp, body, red)
	}
	if err == nil && cfg.keepsRefreshToken() {
		err = parsed.RefreshTokenErr
	}
	if err != nil {
		return nil, vendorGarbageError(cfg.Name, resp.StatusCode, redactedErr(red, err))
	}
	lifetime := parsed.Lifetime
	if lifetime == 0 {
		lifetime = cfg.DefaultTTL
	}
	tok := &Token{AccessToken: parsed.AccessToken, TokenType: parsed.TokenType, SentAt: sentAt,
		ExpiresAt: sentAt.Add(lifetime), FromJWT: parsed.FromJWT, IssuedTokenType: parsed.IssuedTokenType,
		RefreshToken: parsed.RefreshToken}
	capAtSubject(tok, cfg, subject)
	if cfg.Servable != nil && !cfg.Servable(tok, arrived) {
		return nil, vendorGarbageError(cfg.Name, resp.StatusCode, fmt.Errorf(
			"the token's %s lifetime was nearly over when the answer arrived %s after the request",
			lifetime.Truncate(time.Second), arrived.Sub(sentAt).Truncate(time.Millisecond)))
	}
	tok.RefreshToken = parsed.RefreshToken
	return tok, nil
}

// fields are where c's answers keep the token.
func (c *Config) fields() Fields {
	return Fields{Token: c.TokenField, ExpiresIn: c.ExpiresInField, TokenType: c.TokenTypeField}
}

// redirectTarget says where a redirect points relative to token_url,
// never quoting the target's host, path or query: all three are the
// vendor's (or an attacker's) text, and a host name is lower-cased, so a
// secret echoed in it escapes a case-sensitive redactor. The scheme is
// named only when it is http or https, the port only when it is one.
func redirectTarget(resp *http.Response, tokenURL string) string {
	loc, err := resp.Location()
	switch {
	case err != nil || loc.Host == "":
		return "no usable Location"
	case loc.Scheme != "http" && loc.Scheme != "https":
		return "another scheme"
	}
	to := OriginOf(loc)
	if to == Origin(tokenURL) {
		return "another path on token_url's host"
	}
	port := to[strings.LastIndexByte(to, ':')+1:]
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		port = "invalid"
	}
	return fmt.Sprintf("another host or port (%s, port %s)", loc.Scheme, port)
}

// redactedErr: every string that reaches an error passes the redactor, even
// the parser's own words (they never quote the body, but a field name the
// vendor chose could).
func redactedErr(red *redactor, err error) error { return errors.New(red.String(err.Error())) }
