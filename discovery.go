package oauthvendor

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/hashicorp/vault/sdk/framework"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
)

// serverMetadata is what the plugin reads of an authorization server's
// metadata (oauth.Metadata).
type serverMetadata = oauth.Metadata

// authMethodNames: the registered names (RFC 8414 2, OIDC Core 9) of each
// client_auth (oauth's client-auth table).
func authMethodName(clientAuth string) string { return oauth.RegisteredAuthMethod(clientAuth) }

// discoveryFields: a write giving any of them asks the issuer again (what
// the server supports, and which endpoint a certificate goes to).
var discoveryFields = []string{"issuer", "client_auth", "tls_client_cert", "token_url", "ca_cert"}

// needsDiscovery: the config has an issuer and the write touched what
// discovery decides.
func needsDiscovery(cfg *vendorConfig, d *framework.FieldData) bool {
	_, given := firstGiven(d, discoveryFields...)
	return cfg.Issuer != "" && given
}

// discover fetches the issuer's metadata (oauth.FetchMetadata: OIDC
// Discovery, then RFC 8414) through the config's own transport, and checks
// that it names the issuer asked for.
func (b *backend) discover(ctx context.Context, name string, eff *vendorConfig) (*serverMetadata, error) {
	md, err := oauth.FetchMetadata(ctx, b.transports, oauthConfigOf(name, eff), eff.Issuer, b.hooks(name, nil))
	var none *oauth.NoMetadataError
	switch {
	case errors.As(err, &none):
		return nil, fieldErr("issuer", "no metadata (%s)", strings.Join(none.Tried, "; "))
	case err != nil:
		return nil, err
	}
	return md, checkIssuer(eff.Issuer, md)
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
	return &fieldError{field: fe.field, reason: oauth.HostText(oauthConfigOf("", eff), fe.reason)}
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

// applyDiscovery fills token_url and device_auth_url from the metadata
// (unless the operator set them) and refuses a client_auth the server does
// not list.
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
	if cfg.DeviceAuthURL == "" || cfg.DeviceAuthURLDiscovered {
		cfg.DeviceAuthURL = discoveredDeviceEndpoint(eff, md)
		cfg.DeviceAuthURLDiscovered = cfg.DeviceAuthURL != ""
	}
	if eff.userDelegated() && cfg.AuthURL == "" {
		cfg.AuthURL = md.AuthorizationEndpoint // checked as auth_url by validateConsent
	}
	methods := md.AuthMethods
	if len(methods) == 0 {
		methods = []string{"client_secret_basic"} // the default of RFC 8414 2 and OIDC Discovery 3
	}
	if want := authMethodName(eff.ClientAuth); !slices.Contains(methods, want) {
		return fieldErr("client_auth", "%s (%s) is not among the methods the issuer supports: %s",
			eff.ClientAuth, want, vendorList(methods))
	}
	return nil
}

// discoveredDeviceEndpoint is the metadata's device_authorization_endpoint
// (RFC 8628 4; its RFC 8705 5 mTLS alias when a client certificate is
// set), or "" when it has none or one the plugin would not send
// credentials to: the device flow is optional, so an unusable one does not
// refuse the write; the consent that needs it says it is missing.
func discoveredDeviceEndpoint(eff *vendorConfig, md *serverMetadata) string {
	endpoint := md.DeviceAuthorizationEndpoint
	if eff.TLSClientCert != "" && md.MTLSAliases.DeviceAuthorizationEndpoint != "" {
		endpoint = md.MTLSAliases.DeviceAuthorizationEndpoint
	}
	if endpoint == "" || validateDeviceAuthURL(endpoint) != nil {
		return ""
	}
	return endpoint
}

// vendorList shows a list the server wrote as other vendor text is shown:
// each item quoted (a control character or a newline in it cannot print a
// line of its own, such as a fake "Success!" in the CLI) and the whole
// clipped to one bounded line (a server listing 360 KB of methods).
func vendorList(items []string) string {
	quoted := make([]string, 0, len(items))
	size := 0
	for _, it := range items {
		if size > oauth.MaxVendorMessage {
			break // clean cuts here anyway; no need to quote the rest
		}
		q := quote(it)
		quoted = append(quoted, q)
		size += len(q) + 2
	}
	return oauth.Clean(strings.Join(quoted, ", "))
}
