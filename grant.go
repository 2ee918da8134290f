package oauthvendor

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

// connection is a config ready to run: the effective settings, its HTTP
// client and its redactor, built once per config version, not per read.
// release gives back its share of the transport the client uses
// (transport.go); the connection's owner calls it once it is done.
type connection struct {
	b    *backend
	name string
	cfg  *vendorConfig
	// tr is the transport shared by the configs of its TLS settings; the
	// retrying client around it is made per grant (client), not held: a
	// warm config between refreshes needs none, and 10 000 of them would
	// hold 10 000.
	tr        http.RoundTripper
	release   func()
	red       *redactor
	userAgent string
	// signer makes client assertions (nil unless client_auth signs one).
	signer *assertionSigner
	m      *configMetrics
}

// grant runs the vendor's token request once (with bounded retries) and
// returns the token to cache, or why not. Every failure's error is a
// CodedError (502/504) with the config's secrets redacted.
//
// The token's clock starts when the request is sent, not when the answer
// arrives: a vendor's expires_in counts from when it minted, somewhere in
// between, so a slow answer must shorten the token, never lengthen it.
func (c *connection) grant(ctx context.Context, now func() time.Time) (*cachedToken, *grantFailure) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	sentAt := now()
	src := &bodySource{cfg: c.cfg, signer: c.signer, now: now}
	req, err := newTokenRequest(ctx, c.cfg, c.userAgent, src)
	if err != nil {
		return nil, transient(transportError(c.name, err, c.red))
	}
	// Counted here, where the request is sent: whatever started the grant
	// (a read, a verified write, a rotate, the proactive refresh), the
	// metrics count what the vendor saw.
	tok, fail := c.exchange(ctx, req, src, sentAt, now)
	c.m.granted(fail == nil, now().Sub(sentAt))
	return tok, fail
}

// exchange sends the token request and interprets the answer.
func (c *connection) exchange(ctx context.Context, req *retryablehttp.Request, src *bodySource, sentAt time.Time, now func() time.Time) (*cachedToken, *grantFailure) {
	resp, err := c.client().Do(req)
	c = c.redactingAlso(src.assertions())
	if err != nil {
		return nil, transient(transportError(c.name, err, c.red))
	}
	defer resp.Body.Close()
	body, err := readCapped(resp.Body)
	if err != nil {
		return nil, transient(c.readError(ctx, resp.StatusCode, err))
	}
	return c.interpret(resp, body, sentAt, now())
}

// client is the retrying HTTP client of one grant, counting its requests.
func (c *connection) client() *retryablehttp.Client {
	cl := c.b.vendorClient(c.tr, c.name)
	c.m.countRequests(cl)
	return cl
}

// redactingAlso is c with a redactor that also cuts out this request's
// assertions (a vendor may echo the body); c itself when there are none.
func (c *connection) redactingAlso(extra []string) *connection {
	if len(extra) == 0 {
		return c
	}
	cc := *c
	cc.red = c.red.with(extra)
	return &cc
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
func (c *connection) readError(ctx context.Context, status int, err error) error {
	if ctx.Err() != nil {
		return transportError(c.name, ctx.Err(), c.red)
	}
	if status >= 200 && status < 300 {
		return vendorGarbageError(c.name, status, c.redacted(err))
	}
	return vendorStatusError(c.name, status, c.red.String(err.Error()))
}

// interpret turns the vendor's answer into a token or a clear failure.
func (c *connection) interpret(resp *http.Response, body []byte, sentAt, arrived time.Time) (*cachedToken, *grantFailure) {
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return nil, transient(vendorStatusError(c.name, resp.StatusCode,
			fmt.Sprintf("redirect to %s not followed (credentials are only sent to token_url; check its path, e.g. a missing trailing slash)", redirectTarget(resp, c.cfg.TokenURL))))
	case resp.StatusCode < 200 || resp.StatusCode >= 300:
		return nil, c.statusFailure(resp, body)
	}
	parsed, err := parseTokenResponse(body, c.cfg.TokenField, c.cfg.ExpiresInField, c.cfg.TokenTypeField, sentAt)
	if err != nil {
		return nil, transient(vendorGarbageError(c.name, resp.StatusCode, c.redacted(err)))
	}
	lifetime := parsed.Lifetime
	if lifetime == 0 {
		lifetime = c.cfg.DefaultTTL
	}
	tok := &cachedToken{
		AccessToken: parsed.AccessToken,
		TokenType:   parsed.TokenType,
		MintedAt:    sentAt,
		ExpiresAt:   sentAt.Add(lifetime),
		Generation:  c.cfg.Generation,
	}
	if !tok.servable(arrived) {
		return nil, transient(vendorGarbageError(c.name, resp.StatusCode, fmt.Errorf(
			"the token's %s lifetime was nearly over when the answer arrived %s after the request",
			lifetime.Truncate(time.Second), arrived.Sub(sentAt).Truncate(time.Millisecond))))
	}
	return tok, nil
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
	to := originOf(loc)
	if to == origin(tokenURL) {
		return "another path on token_url's host"
	}
	port := to[strings.LastIndexByte(to, ':')+1:]
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		port = "invalid"
	}
	return fmt.Sprintf("another host or port (%s, port %s)", loc.Scheme, port)
}

// redacted: every string that reaches an error passes the redactor, even
// the parser's own words (they never quote the body, but a field name the
// vendor chose could).
func (c *connection) redacted(err error) error { return errors.New(c.red.String(err.Error())) }
