package oauthvendor

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/hashicorp/go-retryablehttp"
)

// bodyFields are the token request's parameters, by grant.
func bodyFields(cfg *vendorConfig) map[string]string {
	f := map[string]string{}
	for _, m := range []map[string]string{cfg.Params, cfg.SecretParams} {
		for k, v := range m {
			f[k] = v
		}
	}
	if cfg.GrantType != grantLogin {
		f["grant_type"] = cfg.GrantType
	}
	if cfg.GrantType != grantClientCredentials {
		f["username"], f["password"] = cfg.Username, cfg.Password
	}
	if cfg.ClientAuth == authBody && cfg.GrantType != grantLogin {
		setIf(f, "client_id", cfg.ClientID)
		setIf(f, "client_secret", cfg.ClientSecret)
	}
	if len(cfg.Scopes) > 0 {
		f["scope"] = strings.Join(cfg.Scopes, " ")
	}
	return f
}

func setIf(m map[string]string, k, v string) {
	if v != "" {
		m[k] = v
	}
}

func encodeBody(cfg *vendorConfig) ([]byte, string, error) {
	fields := bodyFields(cfg)
	if cfg.BodyFormat == bodyJSON {
		b, err := json.Marshal(fields)
		return b, "application/json", err
	}
	form := url.Values{}
	for k, v := range fields {
		form.Set(k, v)
	}
	return []byte(form.Encode()), "application/x-www-form-urlencoded", nil
}

// newTokenRequest builds the vendor's token request from an effective config.
func newTokenRequest(ctx context.Context, cfg *vendorConfig, userAgent string) (*retryablehttp.Request, error) {
	body, contentType, err := encodeBody(cfg)
	if err != nil {
		return nil, err
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, cfg.TokenURL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	if userAgent != "" {
		req.Header.Set("User-Agent", userAgent)
	}
	if cfg.APIKey != "" {
		req.Header.Set(cfg.APIKeyHeader, cfg.APIKey)
	}
	for _, m := range []map[string]string{cfg.Headers, cfg.SecretHeaders} {
		for k, v := range m {
			req.Header.Set(k, v)
		}
	}
	if cfg.ClientAuth == authBasic {
		// RFC 6749 2.3.1: form-encode each part before Basic encoding.
		req.SetBasicAuth(url.QueryEscape(cfg.ClientID), url.QueryEscape(cfg.ClientSecret))
	}
	return req, nil
}
