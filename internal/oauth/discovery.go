package oauth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/hashicorp/go-retryablehttp"
)

// Metadata is what is read of an authorization server's metadata (OpenID
// Connect Discovery 1.0 section 3, RFC 8414 section 2).
type Metadata struct {
	Issuer        string   `json:"issuer"`
	TokenEndpoint string   `json:"token_endpoint"`
	AuthMethods   []string `json:"token_endpoint_auth_methods_supported"`
	// RFC 8628 4: where a device authorization starts, when the server
	// offers the device flow ("" otherwise).
	DeviceAuthorizationEndpoint string `json:"device_authorization_endpoint"`
	// AuthorizationEndpoint is where a user consents (RFC 8414 2): the
	// authorization_code grant's auth_url.
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	// RFC 8705 5: where a client presenting a certificate sends its
	// requests, when that differs from the endpoints above.
	MTLSAliases struct {
		TokenEndpoint               string `json:"token_endpoint"`
		DeviceAuthorizationEndpoint string `json:"device_authorization_endpoint"`
	} `json:"mtls_endpoint_aliases"`
}

// NoMetadataError: no metadata URL gave a document; Tried says what each
// answered ("<url, clipped>: <why>").
type NoMetadataError struct{ Tried []string }

func (e *NoMetadataError) Error() string { return "no metadata (" + strings.Join(e.Tried, "; ") + ")" }

// FetchMetadata fetches issuer's metadata: OpenID Connect Discovery first,
// then RFC 8414's path. Through cfg's own transport: the same CA, client
// certificate, dial guard and no redirects as its token requests, within
// cfg.Timeout. The issuer it names is not checked here: that is the
// caller's (OIDC Discovery 4.3, RFC 8414 3.3).
func FetchMetadata(ctx context.Context, pool *Pool, cfg *Config, issuer string, h Hooks) (*Metadata, error) {
	tr, release, err := pool.acquire(cfg)
	if err != nil {
		return nil, err
	}
	defer release()
	client := newRequestClient(tr, h)
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	// Either document may be the one a server publishes, and a server
	// without OIDC may answer its path with anything (a 403, an HTML
	// page): the RFC 8414 path is asked whenever the first gives nothing.
	var tried []string
	for _, u := range metadataURLs(issuer) {
		md, err := fetchMetadata(ctx, client, u)
		if err == nil {
			return md, nil
		}
		tried = append(tried, Clip(u)+": "+err.Error())
	}
	return nil, &NoMetadataError{Tried: tried}
}

// metadataURLs: OIDC appends its well-known path to the issuer; RFC 8414
// 3.1 puts its well-known path between the host and the issuer's path.
func metadataURLs(issuer string) []string {
	oidc := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	u, err := url.Parse(issuer)
	if err != nil {
		return []string{oidc}
	}
	u.Path = "/.well-known/oauth-authorization-server" + strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return []string{oidc, u.String()}
}

func fetchMetadata(ctx context.Context, client *retryablehttp.Client, u string) (*Metadata, error) {
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	body, err := readCapped(resp.Body)
	if err != nil {
		return nil, err
	}
	var md Metadata
	if err := json.Unmarshal(body, &md); err != nil {
		return nil, fmt.Errorf("HTTP 200 but not a JSON metadata document")
	}
	return &md, nil
}
