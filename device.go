package oauthvendor

import (
	"context"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
)

// The device flow's consent (RFC 8628) through a config's connection, for
// consent/<name> method=device: startDevice asks the vendor for a user
// code to show and a device code to keep (write-only, like a refresh
// token); pollDevice is one step of polling, driven by the periodic
// function on the active node one due authorization at a time, with the
// polling state (oauth.DevicePoll: plain data, no secret) stored between
// steps. Neither stores anything: what the consent keeps, and where, is
// the consent path's.

// startDevice asks name's vendor for a device authorization. The answer's
// DeviceCode is a credential; its UserCode and VerificationURI(Complete)
// are for the user; its Poller() is the state to store for pollDevice. A
// config without device_auth_url is a 400 naming it; a vendor's refusal a
// 502/504 naming the config, the status and the OAuth error. The caller
// holds the name lock (device_consent.go).
func (b *backend) startDevice(ctx context.Context, s logical.Storage, name string) (*oauth.DeviceAuthorization, error) {
	e, err := orNotFound(name)(b.entryLocked(ctx, s, name))
	if err != nil {
		return nil, err
	}
	return e.conn.startDevice(ctx, b.now)
}

// pollDevice is one polling step of name's device authorization: a
// device_code grant when p is due at b.now(), none otherwise, and none
// once the authorization has expired. It returns the next state to
// store, the token once approved (its RefreshToken is the consent's
// result), and the error of a step that ended the authorization or failed
// transiently (nil while the user has not answered). The caller holds the
// name lock: grants for one connection never run concurrently.
func (b *backend) pollDevice(ctx context.Context, s logical.Storage, name, deviceCode string, p oauth.DevicePoll) (oauth.DevicePoll, *oauth.Token, error) {
	e, err := orNotFound(name)(b.entryLocked(ctx, s, name))
	if err != nil {
		return p, nil, err
	}
	return e.conn.pollDevice(ctx, deviceCode, p, b.now)
}

func (c *connection) startDevice(ctx context.Context, now func() time.Time) (*oauth.DeviceAuthorization, error) {
	if c.cfg.DeviceAuthURL == "" {
		return nil, logical.CodedError(400, fieldErr("device_auth_url",
			"config %q has none: write device_auth_url, or an issuer whose metadata lists device_authorization_endpoint", c.name).Error())
	}
	if err := c.guarded(ctx); err != nil {
		return nil, err
	}
	d, err := c.client.AuthorizeDevice(ctx, c.deviceConfig(ctx), now, c.b.hooks(c.name, nil))
	if err != nil {
		return nil, failureOf(withHint(c.cfg, err)).err
	}
	return d, nil
}

// pollDevice's polls are not counted as the config's grants: a pending
// answer every 5 s for 15 minutes is no vendor failure.
// A poll's JWT is guarded by the supplier itself (assertion_source.go):
// its refusal is a failed poll, backed off by DevicePoll like any other.
func (c *connection) pollDevice(ctx context.Context, deviceCode string, p oauth.DevicePoll, now func() time.Time) (oauth.DevicePoll, *oauth.Token, error) {
	p, tok, err := c.client.PollDevice(ctx, c.deviceConfig(ctx), deviceCode, p, now, c.b.hooks(c.name, nil))
	if err != nil {
		f := failureOf(withHint(c.cfg, err))
		if f.refreshToken != "" {
			// The approval's access token was refused (too short to
			// serve) but its refresh token is good, and the vendor has
			// spent the device code: the token carries it alone.
			return p, &oauth.Token{RefreshToken: f.refreshToken}, f.err
		}
		return p, nil, f.err
	}
	return p, tok, nil
}

// deviceConfig is the connection's description for a device flow request.
func (c *connection) deviceConfig(ctx context.Context) *oauth.Config {
	oc := oauthConfigOf(c.name, c.cfg)
	oc.UserAgent = c.b.pluginUserAgent(ctx)
	oc.AssertionSupplier = c.supplier
	return oc
}
