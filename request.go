package oauthvendor

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/hashicorp/go-retryablehttp"
)

// bodyFields are the token request's parameters, by grant and client
// authentication; assertion is the client assertion of this attempt, if
// client_auth signs one.
func bodyFields(cfg *vendorConfig, assertion string) map[string]string {
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
	if cfg.GrantType != grantLogin {
		clientAuthFields(f, cfg, assertion)
	}
	if len(cfg.Scopes) > 0 {
		f["scope"] = strings.Join(cfg.Scopes, " ")
	}
	return f
}

// clientAuthFields: what each client_auth puts in the body (API.md
// "Client authentication"). basic puts nothing there.
func clientAuthFields(f map[string]string, cfg *vendorConfig, assertion string) {
	switch cfg.ClientAuth {
	case authBody:
		setIf(f, "client_id", cfg.ClientID)
		setIf(f, "client_secret", cfg.ClientSecret)
	case authPrivateKeyJWT, authClientSecretJWT:
		// RFC 7523 2.2; client_id is optional there, but Okta and Entra ID
		// want it, and RFC 6749 2.3 lets a server require it.
		f["client_id"] = cfg.ClientID
		f["client_assertion_type"] = jwtBearerAssertion
		f["client_assertion"] = assertion
	case authTLSClient:
		f["client_id"] = cfg.ClientID // RFC 8705 2.1: the certificate does the rest
	}
}

func setIf(m map[string]string, k, v string) {
	if v != "" {
		m[k] = v
	}
}

func encodeBody(cfg *vendorConfig, assertion string) ([]byte, error) {
	fields := bodyFields(cfg, assertion)
	if cfg.BodyFormat == bodyJSON {
		return json.Marshal(fields)
	}
	form := url.Values{}
	for k, v := range fields {
		form.Set(k, v)
	}
	return []byte(form.Encode()), nil
}

func contentType(cfg *vendorConfig) string {
	if cfg.BodyFormat == bodyJSON {
		return "application/json"
	}
	return "application/x-www-form-urlencoded"
}

// newTokenRequest builds the vendor's token request from an effective
// config; body gives each attempt's body (bodySource).
func newTokenRequest(ctx context.Context, cfg *vendorConfig, userAgent string, body *bodySource) (*retryablehttp.Request, error) {
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, cfg.TokenURL, body.read)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType(cfg))
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
