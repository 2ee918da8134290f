package oauthvendor

import (
	"net/url"
	"strings"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
)

// errorHint is what a preset's vendor means by one of its OAuth error
// codes, and what the operator does about it: a row of data per vendor
// quirk (DocuSign's consent_required), not code in the grant path.
type errorHint struct {
	// Message says what happened and what to do; {url} in it is URL,
	// filled.
	Message string
	// URL, when set, is a link to open, filled from the config: {host}
	// (token_url's host), and {client_id}, {scopes}, {redirect_url}, each
	// query-escaped. A placeholder whose field is empty makes the message
	// name that field instead of the link.
	URL string
}

// hintFields are the readable fields a hint URL may name, by placeholder.
// Never a write-only one: a hint is part of an error, which is returned,
// logged and stored.
func hintFields(eff *vendorConfig) map[string]string {
	return map[string]string{
		"client_id": eff.ClientID, "scopes": strings.Join(eff.Scopes, " "), "redirect_url": eff.RedirectURL,
	}
}

// render is the hint for eff.
func (h errorHint) render(eff *vendorConfig) string {
	return strings.ReplaceAll(h.Message, "{url}", h.link(eff))
}

// link is URL filled from eff, or which field to set to get it.
func (h errorHint) link(eff *vendorConfig) string {
	link := h.URL
	if u, err := url.Parse(eff.TokenURL); err == nil {
		link = strings.ReplaceAll(link, "{host}", u.Host)
	}
	fields := hintFields(eff)
	for _, name := range sortedKeys(fields) {
		ph := "{" + name + "}"
		if !strings.Contains(link, ph) {
			continue
		}
		if fields[name] == "" {
			return "the URL (set " + name + " in the config to have it here)"
		}
		// RFC 3986 query escaping, spaces as %20 (DocuSign's examples).
		link = strings.ReplaceAll(link, ph, strings.ReplaceAll(url.QueryEscape(fields[name]), "+", "%20"))
	}
	return link
}

// withHint adds the preset's hint for the vendor's OAuth error code to
// the error's message; any other error is returned as it is.
func withHint(eff *vendorConfig, err error) error {
	e, ok := err.(*oauth.Error)
	if !ok || e.Code == "" {
		return err
	}
	h, ok := presets[eff.Preset].ErrorHints[e.Code]
	if !ok {
		return err
	}
	hinted := *e
	hinted.Message = e.Message + "; " + h.render(eff)
	return &hinted
}
