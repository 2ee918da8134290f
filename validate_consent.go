package oauthvendor

import "fmt"

// authorizeReserved are the authorize URL's parameters the plugin sets
// itself (RFC 6749 4.1.1, RFC 7636 4.3): authorize_params cannot replace
// them, least of all the state and the code challenge.
var authorizeReserved = map[string]bool{
	"response_type": true, "client_id": true, "redirect_uri": true, "scope": true, "state": true,
	"code_challenge": true, "code_challenge_method": true,
}

// validateConsent checks what the authorization_code grant needs (its
// URLs follow token_url's rule: https, except loopback hosts), and that
// the others do not carry its fields.
func validateConsent(eff *vendorConfig) error {
	if !eff.userDelegated() {
		switch {
		case eff.AuthURL != "":
			return fieldErr("auth_url", "is for grant_type %s only", grantAuthorizationCode)
		case len(eff.AuthorizeParams) > 0:
			return fieldErr("authorize_params", "are for grant_type %s only", grantAuthorizationCode)
		case eff.scopeOnRefresh():
			return fieldErr("scope_on_refresh", "is for grant_type %s only", grantAuthorizationCode)
		}
		return nil
	}
	if eff.ClientAuth == authNone && eff.ClientSecret != "" {
		return fieldErr("client_secret", "is never sent with client_auth none (a public client): give client_secret= to remove it, or choose body or basic")
	}
	// A device-only connection (GitHub, Entra ID or Google devices) has
	// no redirect: it consents with method=device alone, and an auth_url
	// (an issuer's metadata fills one) is never used.
	deviceOnly := eff.RedirectURL == "" && eff.DeviceAuthURL != ""
	if eff.AuthURL == "" && !deviceOnly {
		return fieldErr("auth_url", "required for grant_type %s (the vendor's authorization endpoint; with device_auth_url and no redirect_url, the connection consents with method=device only)", grantAuthorizationCode)
	}
	if err := checkConsentURL("auth_url", eff.AuthURL); err != nil {
		return err
	}
	if eff.RedirectURL == "" && !deviceOnly {
		return fieldErr("redirect_url", "required for grant_type %s: the redirect URI registered with the vendor, such as https://vault.example.com/v1/<mount>/callback", grantAuthorizationCode)
	}
	if err := checkConsentURL("redirect_url", eff.RedirectURL); err != nil {
		return err
	}
	return validateAuthorizeParams(eff.AuthorizeParams)
}

// checkConsentURL: a given URL of the consent is bounded and follows
// token_url's rule; "" is the caller's to refuse.
func checkConsentURL(field, u string) error {
	if u == "" {
		return nil
	}
	if len(u) > maxTokenURL {
		return fieldErr(field, "longer than %d bytes", maxTokenURL)
	}
	return validateEndpoint(field, u)
}

func validateAuthorizeParams(p map[string]string) error {
	if err := validateParamMap("authorize_params", p); err != nil {
		return err
	}
	for name := range p {
		if authorizeReserved[name] {
			return fieldErr("authorize_params", "%s is set by the plugin (%s)", quote(name), authorizeReservedWhy(name))
		}
	}
	return nil
}

func authorizeReservedWhy(name string) string {
	switch name {
	case "state", "code_challenge", "code_challenge_method":
		return "a fresh one per consent, RFC 6749 10.12 and RFC 7636"
	}
	return fmt.Sprintf("from its own field; %s is RFC 6749 4.1.1's", name)
}
