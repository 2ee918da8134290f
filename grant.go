package oauthvendor

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// maxBodyBytes caps what is read from a token endpoint (1 MiB).
const maxBodyBytes = 1 << 20

// connection is a config ready to run: the effective settings, its HTTP
// client and its redactor, built once per config version, not per read.
type connection struct {
	name      string
	cfg       *vendorConfig
	client    *retryablehttp.Client
	red       *redactor
	userAgent string
}

// grant runs the vendor's token request once (with bounded retries) and
// returns the token to cache. Every error is a CodedError (502/504) with
// the config's secrets redacted.
func (c *connection) grant(ctx context.Context, now func() time.Time) (*cachedToken, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := newTokenRequest(ctx, c.cfg, c.userAgent)
	if err != nil {
		return nil, transportError(c.name, err, c.red)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, transportError(c.name, err, c.red)
	}
	defer resp.Body.Close()
	body, err := readCapped(resp.Body)
	if err != nil {
		return nil, c.readError(resp.StatusCode, err)
	}
	return c.interpret(resp, body, now())
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

func (c *connection) readError(status int, err error) error {
	if status >= 200 && status < 300 {
		return vendorGarbageError(c.name, status, err)
	}
	return vendorStatusError(c.name, status, err.Error())
}

// interpret turns the vendor's answer into a token or a clear error.
func (c *connection) interpret(resp *http.Response, body []byte, now time.Time) (*cachedToken, error) {
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return nil, vendorStatusError(c.name, resp.StatusCode,
			fmt.Sprintf("redirect to %s not followed (credentials are only sent to token_url; check its path, e.g. a missing trailing slash)", redirectHost(resp)))
	case resp.StatusCode < 200 || resp.StatusCode >= 300:
		return nil, vendorStatusError(c.name, resp.StatusCode, vendorErrorDetail(body, c.red))
	}
	parsed, err := parseTokenResponse(body, c.cfg.TokenField, c.cfg.ExpiresInField, c.cfg.TokenTypeField, now)
	if err != nil {
		return nil, vendorGarbageError(c.name, resp.StatusCode, err)
	}
	lifetime := parsed.Lifetime
	if lifetime == 0 {
		lifetime = c.cfg.DefaultTTL
	}
	return &cachedToken{
		AccessToken: parsed.AccessToken,
		TokenType:   parsed.TokenType,
		MintedAt:    now,
		ExpiresAt:   now.Add(lifetime),
		Generation:  c.cfg.Generation,
	}, nil
}

func redirectHost(resp *http.Response) string {
	loc, err := resp.Location()
	if err != nil {
		return "an unreadable location"
	}
	return loc.Scheme + "://" + loc.Host
}
