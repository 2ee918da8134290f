package oauthvendor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

// callbackPath is the redirect target of the mount's consents
// (https://<vault>/v1/<mount>/callback), readable without a Vault token:
// the vendor redirects the user's browser there.
const callbackPath = "callback"

func pathConsent(b *backend) *framework.Path {
	return &framework.Path{
		Pattern: consentPrefix + framework.GenericNameRegex("name"),
		Fields:  consentPathFields(),
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.UpdateOperation: &framework.PathOperation{
				Callback:  b.pathConsentWrite,
				Summary:   "Start a user's consent (answers authorize_url), or finish it with code.",
				Responses: okResponse(consentResponseFields),
			},
			logical.ReadOperation: &framework.PathOperation{
				Callback:  b.pathConsentRead,
				Summary:   "Where the consent in progress (or the last device consent) stands; never a secret.",
				Responses: okResponse(consentStateFields),
			},
		},
		HelpSynopsis:    "Consent of a user to a user-delegated (authorization_code) connection.",
		HelpDescription: pathConsentHelpDesc,
	}
}

// consentPathFields is consent/<name>'s schema (writeonly_guard.go
// checks a request against it before the SDK could quote a code).
func consentPathFields() map[string]*framework.FieldSchema {
	return map[string]*framework.FieldSchema{
		"name":  {Type: framework.TypeString, Description: "Name of the vendor connection (grant_type authorization_code).", Required: true},
		"code":  {Type: framework.TypeString, Description: "The authorization code the vendor's redirect carried, to finish the consent by hand where the vendor cannot redirect to Vault. Write-only.", DisplayAttrs: &framework.DisplayAttributes{Sensitive: true}},
		"state": {Type: framework.TypeString, Description: "The state of the redirect that carried code; checked when given."},
		"method": {Type: framework.TypeString, Description: "How the user consents: authorization_code (the default: a browser redirect) or device (RFC 8628: a code the user types at the vendor's page).",
			AllowedValues: []interface{}{consentByCode, consentByDevice}},
	}
}

// The consent methods of consent/<name>.
const (
	consentByCode   = "authorization_code"
	consentByDevice = "device"
)

var consentResponseFields = map[string]*framework.FieldSchema{
	"authorize_url":             {Type: framework.TypeString, Description: "The vendor's authorize URL to open in a browser, with a one-time state and a PKCE S256 challenge."},
	"state":                     {Type: framework.TypeString, Description: "The consent's one-time state (also in authorize_url)."},
	"redirect_url":              {Type: framework.TypeString, Description: "Where the vendor sends the browser back."},
	"expires_at":                {Type: framework.TypeString, Description: "RFC 3339: the consent's end (started), or the new access token's expiry (finished)."},
	"refresh_token_set":         {Type: framework.TypeBool, Description: "Finished: a refresh token is held."},
	"user_code":                 {Type: framework.TypeString, Description: "method=device: the code the user types at verification_uri."},
	"verification_uri":          {Type: framework.TypeString, Description: "method=device: the vendor's page where the user enters user_code and approves."},
	"verification_uri_complete": {Type: framework.TypeString, Description: "method=device: verification_uri with the user code in it, when the vendor gives one (for a link or a QR code)."},
	"interval":                  {Type: framework.TypeInt, Description: "method=device: seconds between polls of the token endpoint."},
}

// consentStateFields are consent/<name>'s read: where the consent stands.
var consentStateFields = map[string]*framework.FieldSchema{
	"method":                    {Type: framework.TypeString, Description: "authorization_code or device."},
	"device_state":              {Type: framework.TypeString, Description: "method=device: device-pending, slow-down, approved, denied, expired or failed."},
	"user_code":                 consentResponseFields["user_code"],
	"verification_uri":          consentResponseFields["verification_uri"],
	"verification_uri_complete": consentResponseFields["verification_uri_complete"],
	"interval":                  consentResponseFields["interval"],
	"expires_at":                {Type: framework.TypeString, Description: "RFC 3339 end of the consent."},
	"next_poll_at":              {Type: framework.TypeString, Description: "method=device: RFC 3339 time of the next poll while pending."},
	"last_error":                {Type: framework.TypeString, Description: "method=device: the error that ended the consent, or the last transient one (secrets redacted)."},
}

func (b *backend) pathConsentWrite(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.Get("name").(string)
	if code := d.Get("code").(string); code != "" {
		tok, warnings, err := b.finishConsent(ctx, req.Storage, name, d.Get("state").(string), code)
		if err != nil {
			return consentErrorResponse(err)
		}
		resp := &logical.Response{Data: map[string]interface{}{"refresh_token_set": true, "expires_at": rfc3339(tok.ExpiresAt)}}
		for _, w := range warnings {
			resp.AddWarning(w)
		}
		return resp, nil
	}
	switch method := d.Get("method").(string); method {
	case consentByDevice:
		return b.pathConsentDevice(ctx, req, name, d)
	case "", consentByCode:
	default:
		return logical.ErrorResponse("method: %q is not a consent method: authorization_code or device", printable(method)), nil
	}
	if _, ok := d.GetOk("state"); ok {
		return logical.ErrorResponse("state: given without code; write code (and its state) to finish a consent, or neither to start one"), nil
	}
	c, rec, err := b.startConsent(ctx, req.Storage, name)
	if err != nil {
		return consentErrorResponse(err)
	}
	return &logical.Response{Data: map[string]interface{}{
		"authorize_url": c.URL, "state": c.State, "redirect_url": c.RedirectURL,
		"expires_at": rfc3339(rec.ExpiresAt),
	}}, nil
}

// pathConsentDevice starts a device consent (RFC 8628): the answer is what
// the user needs, never the device code.
func (b *backend) pathConsentDevice(ctx context.Context, req *logical.Request, name string, d *framework.FieldData) (*logical.Response, error) {
	if _, ok := d.GetOk("state"); ok {
		return logical.ErrorResponse("state: not taken with method=device (the vendor answers the plugin's polls, not a redirect)"), nil
	}
	da, err := b.startDeviceConsent(ctx, req.Storage, name)
	if err != nil {
		return consentErrorResponse(err)
	}
	b.kickDevicePoller(req.Storage)
	data := map[string]interface{}{
		"user_code": da.UserCode, "verification_uri": da.VerificationURI,
		"expires_at": rfc3339(da.ExpiresAt), "interval": int(da.Interval / time.Second),
	}
	if da.VerificationURIComplete != "" {
		data["verification_uri_complete"] = da.VerificationURIComplete
	}
	return &logical.Response{Data: data}, nil
}

// pathConsentRead: the last device consent's progress, else the code
// consent in progress; none is a 404.
func (b *backend) pathConsentRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.Get("name").(string)
	if _, err := mustLoadConfig(ctx, req.Storage, name); err != nil {
		return nil, err
	}
	st, err := loadStatus(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	now := b.now()
	if dp := st.Device; dp != nil {
		return &logical.Response{Data: map[string]interface{}{
			"method": consentByDevice, "device_state": dp.stateAt(now), "user_code": dp.UserCode,
			"verification_uri": dp.VerificationURI, "verification_uri_complete": dp.VerificationURIComplete,
			"expires_at": rfc3339(dp.ExpiresAt), "interval": int(dp.Interval / time.Second),
			"next_poll_at": rfc3339(dp.NextPollAt), "last_error": dp.Error,
		}}, nil
	}
	rec, err := loadConsent(ctx, req.Storage, name)
	if err != nil || rec == nil || !now.Before(rec.ExpiresAt) {
		return nil, err
	}
	return &logical.Response{Data: map[string]interface{}{"method": consentByCode, "expires_at": rfc3339(rec.ExpiresAt)}}, nil
}

// consentErrorResponse: the caller's mistake is a 400 naming the field;
// a vendor failure or a storage error stays an error (logical.ErrReadOnly
// must reach Vault so a standby forwards).
func consentErrorResponse(err error) (*logical.Response, error) {
	var refused *consentRefused
	if errors.As(err, &refused) {
		return logical.ErrorResponse(refused.msg), nil
	}
	return nil, err
}

func pathCallback(b *backend) *framework.Path {
	return &framework.Path{
		Pattern: callbackPath + "$",
		Fields:  callbackFields(),
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.ReadOperation: &framework.PathOperation{
				Callback: b.pathCallbackRead,
				Summary:  "The vendor's redirect after a user's consent; no Vault token needed.",
			},
			// response_mode=form_post (OpenID Form Post Response Mode): the
			// code arrives in a form body, which Vault's audit log HMACs,
			// rather than in the query string, which it records as it is.
			logical.UpdateOperation: &framework.PathOperation{
				Callback: b.pathCallbackRead,
				Summary:  "The vendor's form_post redirect after a user's consent; no Vault token needed.",
			},
		},
		HelpSynopsis: "Redirect target of consent/<name>: finishes the consent; no Vault token needed.",
		HelpDescription: `The vendor redirects the user's browser here with ?code=...&state=... (or
?error=...&state=...), or posts them as a form (response_mode=form_post). The state is checked and spent, then the code is exchanged; the answer is a
short text page saying whether the consent finished. Nothing secret is shown.`,
	}
}

// callbackFields is the redirect's query (writeonly_guard.go checks it).
func callbackFields() map[string]*framework.FieldSchema {
	str := func(desc string) *framework.FieldSchema {
		return &framework.FieldSchema{Type: framework.TypeString, Description: desc}
	}
	return map[string]*framework.FieldSchema{
		"code":              str("The authorization code (RFC 6749 4.1.2)."),
		"state":             str("The consent's state."),
		"error":             str("The vendor's OAuth error (RFC 6749 4.1.2.1)."),
		"error_description": str("The vendor's description of the error."),
		"error_uri":         str("The vendor's page about the error."),
		// What vendors add to the redirect (Google: scope, authuser,
		// prompt, hd; Entra ID and Xero: session_state; Intuit: realmId,
		// the company the user picked; RFC 9207: iss).
		"scope": str("Ignored."), "session_state": str("Ignored."), "iss": str("Ignored."),
		"authuser": str("Ignored."), "prompt": str("Ignored."), "hd": str("Ignored."),
		"realmId": str("Ignored (Intuit's company ID: put it in your app's API base URL)."),
	}
}

func (b *backend) pathCallbackRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	state := d.Get("state").(string)
	name := consentName(state)
	if name == "" {
		return callbackPage(http.StatusBadRequest, "Consent failed: the link's state is missing or not one this Vault made. Start again with consent/<name>."), nil
	}
	if oauthErr := d.Get("error").(string); oauthErr != "" {
		return b.callbackError(ctx, req.Storage, name, state, oauthErr, d.Get("error_description").(string))
	}
	code := d.Get("code").(string)
	if code == "" {
		return callbackPage(http.StatusBadRequest, "Consent failed: the redirect carried no code."), nil
	}
	tok, _, err := b.finishConsent(ctx, req.Storage, name, state, code)
	var refused *consentRefused
	switch {
	case errors.As(err, &refused):
		return callbackPage(http.StatusBadRequest, "Consent failed: "+refused.msg+"."), nil
	case err == logical.ErrReadOnly:
		return nil, err // Vault forwards it to the node that can write
	case err != nil:
		b.Logger().Warn("consent callback failed", "config", name, "error", err.Error())
		return callbackPage(http.StatusBadGateway, fmt.Sprintf("Consent for %q failed: the code was not exchanged (HTTP %d): %s. Start again with consent/%s.", name, codeOr(err), printable(err.Error()), name)), nil
	}
	return callbackPage(http.StatusOK, fmt.Sprintf("Consent for %q done: Vault holds its refresh token (access token valid until %s). You can close this page.", name, rfc3339(tok.ExpiresAt))), nil
}

// callbackError: the user (or the vendor) refused; the consent is spent
// when the state is right, so its link cannot be used again.
func (b *backend) callbackError(ctx context.Context, s logical.Storage, name, state, oauthErr, desc string) (*logical.Response, error) {
	if b.readOnly() {
		return nil, logical.ErrReadOnly
	}
	unlock := b.locks.lock(name)
	_, _, err := b.spendConsent(ctx, s, name, state)
	unlock()
	var refused *consentRefused
	switch {
	case errors.As(err, &refused):
		return callbackPage(http.StatusBadRequest, "Consent failed: "+refused.msg+"."), nil
	case err != nil:
		return nil, err
	}
	why := printable(oauthErr)
	if desc = printable(desc); desc != "" {
		why += ": " + desc
	}
	b.Logger().Warn("consent refused at the vendor", "config", name, "error", why)
	return callbackPage(http.StatusBadRequest, fmt.Sprintf("Consent for %q failed at the vendor: %s. Start again with consent/%s.", name, why, name)), nil
}

func codeOr(err error) int {
	if c := codeOf(err); c != 0 {
		return c
	}
	return http.StatusInternalServerError
}

// printable keeps a vendor's (or anyone's: the callback is open) text
// to printable ASCII and 400 bytes: it goes into a page and a log line.
func printable(s string) string {
	var out strings.Builder
	for _, r := range s {
		if out.Len() >= 400 {
			break
		}
		if r >= 0x20 && r < 0x7f {
			out.WriteRune(r)
		}
	}
	return out.String()
}

// callbackPage is the browser's answer: plain text (no markup a vendor's
// text could inject into), never a token or the code.
func callbackPage(status int, text string) *logical.Response {
	return &logical.Response{Data: map[string]interface{}{
		logical.HTTPContentType: "text/plain; charset=utf-8",
		logical.HTTPRawBody:     []byte(text + "\n"),
		logical.HTTPStatusCode:  status,
	}}
}

const pathConsentHelpDesc = `
A user-delegated connection (grant_type authorization_code) needs a user's
consent once. Writing consent/<name> with no field answers authorize_url:
open it in a browser, sign in at the vendor and approve. The vendor then
redirects to redirect_url: when that is this mount's callback path, the
consent finishes there; otherwise copy the code (and state) from the
address bar and write them here (consent/<name> code=... state=...). The
consent expires after 10 minutes and can finish once. Afterwards creds/<name>
serves access tokens from refresh grants; the refresh token is never shown.

Where the vendor cannot redirect (a device flow vendor, RFC 8628), write
method=device: the answer is user_code and verification_uri (and
verification_uri_complete when the vendor gives one). Tell the user to open
the page, enter the code and approve before expires_at; the active node
polls the vendor every interval until it answers. Reading consent/<name>
(or status/<name>) shows where it stands: device-pending, slow-down,
approved, denied, expired or failed. The device code is never shown.
`
