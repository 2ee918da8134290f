package oauth

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/go-cleanhttp"
	"github.com/hashicorp/go-retryablehttp"
)

// Retry policy for 429 and 5xx (AlphaSense and AgentSync rate-limit their
// token endpoints; AlphaSense says "retry after a brief delay" on 500).
// Bounded by the per-request timeout, which covers all attempts.
const (
	// MaxRetryAfter caps how long a vendor's Retry-After is taken to ask.
	MaxRetryAfter = time.Hour

	retryMax     = 3
	retryWaitMin = 100 * time.Millisecond
	retryWaitMax = time.Second
)

// maxResponseHeaderBytes caps a token endpoint's response headers, which
// net/http would otherwise read up to 10 MB of, per attempt. A token answer
// needs a content type and perhaps Retry-After (RFC 9110 10.2.3); 64 KiB
// still leaves room for the cookies and security headers a gateway adds.
// Beyond it the transport fails the request, which surfaces as a 502.
const maxResponseHeaderBytes = 64 << 10

// newTransport builds the transport shared by the configs of one
// transportKey (transport.go): pooled, the config's extra CA, capped
// response headers, no connection to a link-local or metadata address
// (dialguard.go), and the proxy guard. Idle connections are capped per
// host; the number of connections is not (MaxConnsPerHost 0): a cap would
// queue the requests of every config at a host behind the requests of one
// config whose endpoint stalls, and concurrency is already bounded by one
// grant per config and node, and by the periodic pass's workers.
func newTransport(cfg *Config) (*http.Transport, error) {
	tr := cleanhttp.DefaultPooledTransport()
	tr.MaxIdleConns = maxIdleConns
	tr.MaxIdleConnsPerHost = maxIdleConnsPerHost
	tr.MaxConnsPerHost = 0
	tr.MaxResponseHeaderBytes = maxResponseHeaderBytes
	tr.DialContext = guardedDialer().DialContext
	tr.Proxy = guardProxy(tr.Proxy)
	tc, err := tlsConfigFor(cfg)
	if err != nil {
		return nil, err
	}
	if tc != nil {
		tr.TLSClientConfig = tc
	}
	return tr, nil
}

// newHTTPClient builds the client for one config over a shared transport:
// no redirects (credentials are never re-sent to another host), jittered
// retries that honour Retry-After, the config's own logger.
func newHTTPClient(tr http.RoundTripper, logger retryablehttp.LeveledLogger) *retryablehttp.Client {
	base := &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &retryablehttp.Client{
		HTTPClient:   base,
		Logger:       logger,
		RetryWaitMin: retryWaitMin,
		RetryWaitMax: retryWaitMax,
		RetryMax:     retryMax,
		CheckRetry:   checkRetry,
		Backoff:      backoff,
		// Hand back the last response when retries run out, so the error
		// can say what the vendor said.
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
}

// checkRetry is retryablehttp's default policy (connection errors, 429,
// 5xx; never other 4xx), except that it stops when the next wait would
// not fit in the request's timeout: the reader then gets the vendor's own
// answer (a 429 with its Retry-After, a 503 page) instead of a bare timeout.
// A dial the guard refused is a connection error that no retry changes.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	var refused *dialRefusedError
	if errors.As(err, &refused) {
		return false, nil
	}
	retry, rerr := retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	if !retry {
		return retry, rerr
	}
	deadline, has := ctx.Deadline()
	if !has {
		return retry, rerr
	}
	wait := retryWaitMax
	if resp != nil {
		if ra, ok := retryAfter(resp, time.Now()); ok {
			wait = ra
		}
	}
	if time.Now().Add(wait).After(deadline) {
		return false, nil
	}
	return retry, rerr
}

// backoff waits what the vendor's Retry-After asks (checkRetry made sure it
// fits), else a linear jitter capped at retryWaitMax so that checkRetry's
// estimate of the next wait holds.
func backoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil {
		if ra, ok := retryAfter(resp, time.Now()); ok {
			return ra
		}
	}
	return min(retryablehttp.LinearJitterBackoff(minWait, maxWait, attempt, nil), maxWait)
}

// retryAfter parses Retry-After as seconds or an HTTP date (RFC 9110 10.2.3).
func retryAfter(resp *http.Response, now time.Time) (time.Duration, bool) {
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs >= 0 {
		// Clamped before the multiplication, which would overflow.
		return time.Duration(min(secs, int64(MaxRetryAfter/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
