package oauthvendor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/hashicorp/vault/sdk/framework"
)

// serverMetadata is what the plugin reads of an authorization server's
// metadata (OpenID Connect Discovery 1.0 section 3, RFC 8414 section 2).
type serverMetadata struct {
	Issuer        string   `json:"issuer"`
	TokenEndpoint string   `json:"token_endpoint"`
	AuthMethods   []string `json:"token_endpoint_auth_methods_supported"`
	// RFC 8705 5: where a client presenting a certificate sends its
	// token requests, when that differs from token_endpoint.
	MTLSAliases struct {
		TokenEndpoint string `json:"token_endpoint"`
	} `json:"mtls_endpoint_aliases"`
}

// authMethodNames: the registered names (RFC 8414 2, OIDC Core 9) of each
// client_auth.
var authMethodNames = map[string]string{
	authBody:            "client_secret_post",
	authBasic:           "client_secret_basic",
	authPrivateKeyJWT:   "private_key_jwt",
	authClientSecretJWT: "client_secret_jwt",
	authTLSClient:       "tls_client_auth",
}

// discoveryFields: a write giving any of them asks the issuer again (what
// the server supports, and which endpoint a certificate goes to).
var discoveryFields = []string{"issuer", "client_auth", "tls_client_cert", "token_url", "ca_cert"}

// needsDiscovery: the config has an issuer and the write touched what
// discovery decides.
func needsDiscovery(cfg *vendorConfig, d *framework.FieldData) bool {
	_, given := firstGiven(d, discoveryFields...)
	return cfg.Issuer != "" && given
}

// discover fetches the issuer's metadata: OpenID Connect Discovery first,
// then RFC 8414's path. Through the config's own client: the same CA,
// client certificate, dial guard and no redirects as its token requests.
func (b *backend) discover(ctx context.Context, name string, eff *vendorConfig) (*serverMetadata, error) {
	tr, release, err := b.transports.acquire(eff)
	if err != nil {
		return nil, err
	}
	defer release()
	client := b.vendorClient(tr, name)
	ctx, cancel := context.WithTimeout(ctx, eff.Timeout)
	defer cancel()
	// Either document may be the one a server publishes, and a server
	// without OIDC may answer its path with anything (a 403, an HTML
	// page): the RFC 8414 path is asked whenever the first gives nothing.
	var tried []string
	for _, u := range metadataURLs(eff.Issuer) {
		md, err := fetchMetadata(ctx, client, u)
		if err == nil {
			return md, checkIssuer(eff.Issuer, md)
		}
		tried = append(tried, clip(u)+": "+err.Error())
	}
	return nil, fieldErr("issuer", "no metadata (%s)", strings.Join(tried, "; "))
}

// redactedField: discovery's refusals quote what the server said (its
// issuer, endpoints, methods, TLS errors naming its certificate's hosts),
// and a vendor may echo a secret of the config there, lower-cased in a host
// name: they pass HostText like every vendor text.
func redactedField(err error, eff *vendorConfig) error {
	var fe *fieldError
	if !errors.As(err, &fe) {
		return err
	}
	return &fieldError{field: fe.field, reason: newRedactor(eff).HostText(fe.reason)}
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

func fetchMetadata(ctx context.Context, client *retryablehttp.Client, u string) (*serverMetadata, error) {
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
	var md serverMetadata
	if err := json.Unmarshal(body, &md); err != nil {
		return nil, fmt.Errorf("HTTP 200 but not a JSON metadata document")
	}
	return &md, nil
}

// checkIssuer: OIDC Discovery 4.3 and RFC 8414 3.3 require the document's
// issuer to be identical to the one asked for, or an attacker's metadata
// could be served for it. Identical means byte for byte, a trailing slash
// included: Auth0 publishes "https://<tenant>.auth0.com/" and is asked by
// that spelling; oidc-provider publishes its issuer exactly as configured.
// When only a trailing slash differs, the error says which to write.
func checkIssuer(issuer string, md *serverMetadata) error {
	if md.Issuer != issuer {
		hint := ""
		if strings.TrimSuffix(md.Issuer, "/") == strings.TrimSuffix(issuer, "/") {
			hint = " (the issuer must be identical, trailing slash included: OIDC Discovery 4.3, RFC 8414 3.3; write issuer=" + quote(md.Issuer) + ")"
		}
		return fieldErr("issuer", "the metadata names issuer %s, not %s%s", quote(md.Issuer), quote(issuer), hint)
	}
	if md.TokenEndpoint == "" {
		return fieldErr("issuer", "the metadata has no token_endpoint")
	}
	return nil
}

// applyDiscovery fills token_url from the metadata (unless the operator
// set one) and refuses a client_auth the server does not list.
func applyDiscovery(cfg, eff *vendorConfig, md *serverMetadata) error {
	endpoint := md.TokenEndpoint
	if eff.TLSClientCert != "" && md.MTLSAliases.TokenEndpoint != "" {
		endpoint = md.MTLSAliases.TokenEndpoint
	}
	if err := validateEndpoint("token_url", endpoint); err != nil {
		return fieldErr("issuer", "the metadata's token endpoint %s is not usable: %s", quote(endpoint), err.Error())
	}
	if cfg.TokenURL == "" || cfg.TokenURLDiscovered {
		cfg.TokenURL, cfg.TokenURLDiscovered = endpoint, true
	}
	methods := md.AuthMethods
	if len(methods) == 0 {
		methods = []string{"client_secret_basic"} // the default of RFC 8414 2 and OIDC Discovery 3
	}
	if want := authMethodNames[eff.ClientAuth]; !slices.Contains(methods, want) {
		return fieldErr("client_auth", "%s (%s) is not among the methods the issuer supports: %s",
			eff.ClientAuth, want, vendorList(methods))
	}
	return nil
}

// vendorList shows a list the server wrote as other vendor text is shown:
// each item quoted (a control character or a newline in it cannot print a
// line of its own, such as a fake "Success!" in the CLI) and the whole
// clipped to one bounded line (a server listing 360 KB of methods).
func vendorList(items []string) string {
	quoted := make([]string, 0, len(items))
	size := 0
	for _, it := range items {
		if size > maxVendorMessage {
			break // clean cuts here anyway; no need to quote the rest
		}
		q := quote(it)
		quoted = append(quoted, q)
		size += len(q) + 2
	}
	return clean(strings.Join(quoted, ", "))
}
