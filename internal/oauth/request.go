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
// scope; assertion is this attempt's assertion, if the grant or client_auth
// signs one (never both: NewClient refuses that).
func bodyFields(cfg *Config, g grant, auth clientAuth, assertion string) map[string]string {
	f := map[string]string{}
	for _, m := range []map[string]string{cfg.Params, cfg.SecretParams} {
		for k, v := range m {
			f[k] = v
		}
	}
	g.fields(f, cfg, assertion)
	if g.clientAuthenticates(cfg) && auth.fields != nil {
		auth.fields(f, cfg, assertion)
	}
	if len(cfg.Scopes) > 0 && !(g.signs && cfg.ScopeInAssertion) && (g.scopeless == nil || !g.scopeless(cfg)) {
		f["scope"] = strings.Join(cfg.Scopes, " ")
	}
	return f
}

func encodeBody(cfg *Config, g grant, auth clientAuth, assertion string) ([]byte, error) {
	fields := bodyFields(cfg, g, auth, assertion)
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
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, cfg.TokenURL, body.read)
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
