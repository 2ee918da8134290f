package oauth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/hashicorp/go-retryablehttp"
)

// bodyFields are the token request's parameters: the config's own, then
// the grant's (grants), the client authentication's (clientAuths) and the
// scope; in.assertion is this attempt's assertion, if the grant or
// client_auth signs one (never both: NewClient refuses that).
func bodyFields(cfg *Config, g grant, auth clientAuth, in grantInputs) map[string]string {
	f := map[string]string{}
	for _, m := range []map[string]string{cfg.Params, cfg.SecretParams} {
		for k, v := range m {
			f[k] = v
		}
	}
	g.fields(f, cfg, in)
	if g.clientAuthenticates(cfg) && auth.fields != nil {
		auth.fields(f, cfg, in.assertion)
	}
	if len(cfg.Scopes) > 0 && !(g.signs && cfg.ScopeInAssertion) && (g.scopeless == nil || !g.scopeless(cfg)) {
		f["scope"] = strings.Join(cfg.Scopes, " ")
	}
	return f
}

func encodeBody(cfg *Config, g grant, auth clientAuth, in grantInputs) ([]byte, error) {
	fields := bodyFields(cfg, g, auth, in)
	if cfg.BodyFormat == BodyJSON {
		return json.Marshal(fields)
	}
	form := url.Values{}
	for k, v := range fields {
		form.Set(k, v)
	}
	return []byte(form.Encode()), nil
}

func contentType(cfg *Config) string {
	if cfg.BodyFormat == BodyJSON {
		return "application/json"
	}
	return "application/x-www-form-urlencoded"
}

// newTokenRequest builds the vendor's token request from a config; body
// gives each attempt's body (bodySource).
func newTokenRequest(ctx context.Context, cfg *Config, auth clientAuth, body *bodySource) (*retryablehttp.Request, error) {
	return newPost(ctx, cfg, cfg.TokenURL, auth, body)
}

// newPost is a request of cfg's client to endpoint: the token endpoint, or
// another that takes the same client authentication (RFC 8628 3.1's device
// authorization endpoint).
func newPost(ctx context.Context, cfg *Config, endpoint string, auth clientAuth, body *bodySource) (*retryablehttp.Request, error) {
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, endpoint, body.read)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType(cfg))
	req.Header.Set("Accept", "application/json")
	if cfg.UserAgent != "" {
		req.Header.Set("User-Agent", cfg.UserAgent)
	}
	if cfg.APIKey != "" {
		req.Header.Set(cfg.APIKeyHeader, cfg.APIKey)
	}
	for _, m := range []map[string]string{cfg.Headers, cfg.SecretHeaders} {
		for k, v := range m {
			req.Header.Set(k, v)
		}
	}
	if auth.header != nil {
		// Whatever the grant: the Basic header has always gone out with
		// client_auth=basic, a plain login included.
		auth.header(req, cfg)
	}
	return req, nil
}
