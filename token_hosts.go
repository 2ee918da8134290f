package oauthvendor

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/vault/sdk/logical"
)

// Where the mount's JWTs may be sent (oidc/config allowed_token_hosts).
// A config with assertion_source=issuer holds no secret, so moving it to
// another host asks for nothing (secretsFollowHost has nothing to ask
// for): whoever may write config/<name> could point its token_url at a
// server of theirs, with assertion_audience set to what the real relying
// party accepts (Entra ID's fixed api://AzureADTokenExchange), and replay
// the JWT received there. The mount's identity belongs to whoever writes
// oidc/config, a more privileged path; its allowed_token_hosts bound where
// that identity goes. Checked at the config's write (a 400) and again
// right before each JWT is made (oidc/config may have narrowed since, or
// the config been stored before the list existed): no JWT is minted for a
// host off the list. Unset, the issuer signs for any host (as before the
// list existed) and a config write says so.
//
// vault_identity's JWTs (Vault's plugin identity token, naming this
// mount) can be replayed the same way, so the same list bounds them when
// oidc/config sets one.

const (
	allowedTokenHostsField = "allowed_token_hosts"
	maxTokenHosts          = 64
	maxHostLen             = 255 + len(":65535")
)

// jwtDestination is a config field whose URL receives a JWT of the
// config's assertion_source.
type jwtDestination struct{ field, url string }

// jwtDestinations: the token endpoint (every grant: the client assertion,
// jwt_bearer's assertion, token_exchange's subject token) and, for a
// user-delegated connection (the only kind that runs a device consent),
// the device authorization endpoint (RFC 8628 3.1 takes the client's
// authentication, a private_key_jwt assertion included). Discovery fills
// device_auth_url for every grant from the server's metadata; another
// grant never sends anything there. No other request carries one:
// discovery is a GET, auth_url is the user's browser's, and exchange_urls
// name where this config's access token (not a JWT of the issuer) goes.
func jwtDestinations(eff *vendorConfig) []jwtDestination {
	out := []jwtDestination{{"token_url", eff.TokenURL}}
	if eff.DeviceAuthURL != "" && eff.userDelegated() {
		out = append(out, jwtDestination{"device_auth_url", eff.DeviceAuthURL})
	}
	return out
}

// normalizeTokenHosts checks and spells the list one way: lower-case
// host or host:port, no scheme, user, path, query or fragment; duplicates
// dropped.
func normalizeTokenHosts(raw []string) ([]string, error) {
	if len(raw) > maxTokenHosts {
		return nil, fieldErr(allowedTokenHostsField, "at most %d hosts", maxTokenHosts)
	}
	out := make([]string, 0, len(raw))
	for _, r := range raw {
		h := strings.ToLower(strings.TrimSpace(r))
		if h == "" {
			continue
		}
		if err := validateTokenHost(h); err != nil {
			return nil, err
		}
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out, nil
}

func validateTokenHost(h string) error {
	bad := func(why string) error {
		return fieldErr(allowedTokenHostsField, "%s is not a host or host:port (%s): e.g. login.microsoftonline.com or sts.example.com:8443", quote(h), why)
	}
	switch {
	case len(h) > maxHostLen || hasCTL(h):
		return bad(fmt.Sprintf("longer than %d bytes or has a control character", maxHostLen))
	case strings.Contains(h, "://"):
		return bad("no scheme")
	case strings.ContainsAny(h, "/?#@ \\"):
		return bad("no path, query, fragment, user or space")
	}
	u, err := url.Parse("//" + h)
	if err != nil || u.Host != h || u.Hostname() == "" {
		return bad("unparsable")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return bad("port must be 1-65535")
		}
	} else if strings.HasSuffix(h, ":") {
		return bad("empty port")
	}
	return nil
}

// tokenHostOf is how a destination URL's host is shown and compared:
// lower-case host[:port] as the URL has it, its host name, its port (the
// scheme's default when the URL has none) and whether that is the
// scheme's default.
func tokenHostOf(raw string) (shown, name, port string, defaultPort bool) {
	u, err := url.Parse(raw)
	if err != nil {
		return raw, "", "", false
	}
	def := map[string]string{"https": "443", "http": "80"}[strings.ToLower(u.Scheme)]
	port = u.Port()
	if port == "" {
		port = def
	}
	return strings.ToLower(u.Host), strings.ToLower(u.Hostname()), port, port == def
}

// hostAllowed: an entry host:port matches that port; a bare host only the
// scheme's default port (another port of the same name may be another
// service, run by someone else).
func hostAllowed(allowed []string, raw string) bool {
	_, name, port, defaultPort := tokenHostOf(raw)
	if name == "" {
		return false
	}
	for _, a := range allowed {
		aName, aPort, err := net.SplitHostPort(a)
		if err != nil { // no port
			aName, aPort = strings.Trim(a, "[]"), ""
		}
		if aName == name && ((aPort == "" && defaultPort) || (aPort != "" && aPort == port)) {
			return true
		}
	}
	return false
}

// offListDestination is eff's first JWT destination whose host is not on
// the list, if any; none when the list is empty (unrestricted).
func offListDestination(allowed []string, eff *vendorConfig) (jwtDestination, bool) {
	if len(allowed) == 0 {
		return jwtDestination{}, false
	}
	for _, d := range jwtDestinations(eff) {
		if !hostAllowed(allowed, d.url) {
			return d, true
		}
	}
	return jwtDestination{}, false
}

// checkTokenHosts is the write's check: a 400 naming the config's field,
// the host and oidc/config allowed_token_hosts; else, when no list bounds
// the JWTs, the warning the write answers with. st is the mount's issuer
// (nil when oidc/config is not set: vault_identity without an issuer).
func checkTokenHosts(st *issuerState, eff *vendorConfig) (string, error) {
	var allowed []string
	if st != nil {
		allowed = st.rec.AllowedTokenHosts
	}
	if len(allowed) == 0 {
		return unboundedWarning(eff), nil
	}
	if d, off := offListDestination(allowed, eff); off {
		shown, _, _, _ := tokenHostOf(d.url)
		discovered := ""
		if (d.field == "token_url" && eff.TokenURLDiscovered) || (d.field == "device_auth_url" && eff.DeviceAuthURLDiscovered) {
			discovered = " (discovered from issuer)"
		}
		return "", fieldErr(d.field, "host %s%s is not in oidc/config %s (%s): the mount signs assertion_source=%s JWTs only for requests to those hosts; add it there, or use an allowed host",
			quote(shown), discovered, allowedTokenHostsField, strings.Join(allowed, ", "), eff.AssertionSource)
	}
	return "", nil
}

func unboundedWarning(eff *vendorConfig) string {
	return fmt.Sprintf("oidc/config %s is not set: whoever may write this config can send its assertion_source=%s JWTs (which a relying party trusts as this mount) to any host by changing token_url or issuer; "+
		"restrict them with vault write <mount>/oidc/config %s=<host>[,<host:port>...] (oidc/config needs issuer= the first time: it also makes the mount an OIDC issuer)", allowedTokenHostsField, eff.AssertionSource, allowedTokenHostsField)
}

// tokenHostRefusal is the grant's check, right before a JWT is made: nil
// when the mount's list allows every destination of eff (or there is no
// list). Its error names the config, the host and the list; a grant
// failure like any other (back-off, a still-valid token kept serving).
func (b *backend) tokenHostRefusal(ctx context.Context, s logical.Storage, name string, eff *vendorConfig) error {
	st, err := b.issuerState(ctx, s)
	if err != nil || st == nil {
		return err
	}
	return st.refuseOffList(name, eff)
}

func (st *issuerState) refuseOffList(name string, eff *vendorConfig) error {
	d, off := offListDestination(st.rec.AllowedTokenHosts, eff)
	if !off {
		return nil
	}
	shown, _, _, _ := tokenHostOf(d.url)
	return logical.CodedError(http.StatusBadGateway, fmt.Sprintf(
		"vendor config %q: no %s JWT is made for host %s (its %s): the host is not in oidc/config %s (%s)",
		name, eff.AssertionSource, quote(shown), d.field, allowedTokenHostsField, strings.Join(st.rec.AllowedTokenHosts, ", ")))
}

// hostGuard is tokenHostRefusal for one connection (nil when its config
// has no JWT of a source): its grants and device authorizations ask it
// before the vendor is asked, so a refusal sends no request at all.
func (b *backend) hostGuard(s logical.Storage, name string, eff *vendorConfig) func(context.Context) error {
	if !eff.fromSource() {
		return nil
	}
	return func(ctx context.Context) error { return b.tokenHostRefusal(ctx, s, name, eff) }
}
