package oauthvendor

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
	"golang.org/x/sync/errgroup"
)

func pathStatus(b *backend) *framework.Path {
	return &framework.Path{
		Pattern: "status/" + framework.GenericNameRegex("name"),
		Fields:  nameFields(),
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.ReadOperation: &framework.PathOperation{
				Callback:  b.pathStatusRead,
				Summary:   "Health of a vendor connection: cached token times, grant counts, last error.",
				Responses: okResponse(statusResponseFields),
			},
		},
		HelpSynopsis: "Health of a vendor connection, never the token.",
		HelpDescription: `Shows when the cached token was minted and expires, how many grants and
failures there were, and the last vendor error (secrets redacted).`,
	}
}

var statusResponseFields = map[string]*framework.FieldSchema{
	"token_cached":            {Type: framework.TypeBool, Description: "A valid token for the current config is cached."},
	"grants":                  {Type: framework.TypeInt64, Description: "Successful grants."},
	"failures":                {Type: framework.TypeInt64, Description: "Failed grants."},
	"last_grant_at":           {Type: framework.TypeString, Description: "RFC 3339 time of the last successful grant."},
	"last_failure_at":         {Type: framework.TypeString, Description: "RFC 3339 time of the last failed grant."},
	"last_error":              {Type: framework.TypeString, Description: "The last vendor error, secrets redacted."},
	"minted_at":               {Type: framework.TypeString, Description: "RFC 3339 time the cached token was minted."},
	"expires_at":              {Type: framework.TypeString, Description: "RFC 3339 time the cached token expires."},
	"refresh_at":              {Type: framework.TypeString, Description: "RFC 3339 time from which a read mints a new token."},
	"state":                   {Type: framework.TypeString, Description: "ok, refreshing, serving-stale, backing-off, failing or needs-consent."},
	"consecutive_failures":    {Type: framework.TypeInt, Description: "Failed grants since the last success."},
	"next_attempt_at":         {Type: framework.TypeString, Description: "RFC 3339 time before which readers get the last error (or the still-valid token) without a vendor request."},
	"grant_started_at":        {Type: framework.TypeString, Description: "RFC 3339 start of the grant in flight, if any."},
	"device_state":            {Type: framework.TypeString, Description: "The last device consent (consent/<name> method=device): device-pending, slow-down, approved, denied, expired or failed."},
	"device_verification_uri": {Type: framework.TypeString, Description: "Where the user enters the device consent's user code."},
	"device_expires_at":       {Type: framework.TypeString, Description: "RFC 3339 end of the device consent."},
	"device_next_poll_at":     {Type: framework.TypeString, Description: "RFC 3339 time of the device consent's next poll while pending."},
	"device_error":            {Type: framework.TypeString, Description: "The error that ended the device consent, or its last transient one (secrets redacted)."},
}

func (b *backend) pathStatusRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.Get("name").(string)
	cfg, err := mustLoadConfig(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	tok, err := loadToken(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	st, err := loadStatus(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if st.NeedsConsent && cfg.effective().userDelegated() {
		b.metrics.forConfig(name).needsConsent.Store(true) // a new node learns it here too
	}
	return &logical.Response{Data: statusData(b.now(), cfg.effective(), tok, st)}, nil
}

func statusData(now time.Time, cfg *vendorConfig, tok *cachedToken, st *grantStatus) map[string]interface{} {
	data := map[string]interface{}{
		"token_cached":         tok.usable(now, cfg.Generation),
		"grants":               st.Grants,
		"failures":             st.Failures,
		"last_grant_at":        rfc3339(st.LastGrantAt),
		"last_failure_at":      rfc3339(st.LastFailureAt),
		"last_error":           st.LastError,
		"state":                st.state(now, cfg.Timeout, tok.usable(now, cfg.Generation)).String(),
		"consecutive_failures": st.ConsecutiveFailures,
		"next_attempt_at":      rfc3339(st.NextAttemptAt),
		"grant_started_at":     rfc3339(st.GrantStartedAt),
	}
	if dp := st.Device; dp != nil {
		// Not the user code: whoever types it first at the vendor decides
		// whose refresh token the connection gets, and status is for
		// monitors. The consent's own read and answer show it.
		data["device_state"], data["device_verification_uri"] = dp.stateAt(now), dp.VerificationURI
		data["device_expires_at"], data["device_next_poll_at"], data["device_error"] = rfc3339(dp.ExpiresAt), rfc3339(dp.NextPollAt), dp.Error
	}
	if tok != nil && tok.Generation == cfg.Generation {
		data["minted_at"] = rfc3339(tok.MintedAt)
		data["expires_at"] = rfc3339(tok.ExpiresAt)
		data["refresh_at"] = rfc3339(tok.ExpiresAt.Add(-tok.refreshWindow(cfg.RefreshBefore)))
	}
	return data
}

func pathStatusList(b *backend) *framework.Path {
	return &framework.Path{
		Pattern: "status/?$",
		Fields: map[string]*framework.FieldSchema{
			"after": {Type: framework.TypeString, Description: "List only the names after this one (paging)."},
			"limit": {Type: framework.TypeInt, Description: "List at most this many names (paging; 0: all)."},
		},
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.ListOperation: &framework.PathOperation{
				Callback: b.pathStatusList,
				Summary:  "Every vendor connection with its state, token expiry and last error.",
			},
		},
		HelpSynopsis: "Every vendor connection's state (vault list -detailed).",
		HelpDescription: `Lists the configs with, per name: state (ok, refreshing, serving-stale,
backing-off, failing, needs-consent), expires_at of the cached token and last_error
(secrets redacted), from storage, so every node lists the same. One
storage read per name; after and limit page through many configs.`,
	}
}

// statusListReaders bounds the storage reads in flight for one list: each
// is a round trip to Vault, and 10 000 of them in a row are seconds.
const statusListReaders = 8

func (b *backend) pathStatusList(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	limit := d.Get("limit").(int)
	if limit < 0 {
		return logical.ErrorResponse("limit: must not be negative"), nil
	}
	names, err := req.Storage.List(ctx, configPrefix)
	if err != nil {
		return nil, fmt.Errorf("listing configs: %w", err)
	}
	names = page(names, d.Get("after").(string), limit)
	infos := make([]map[string]interface{}, len(names))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(statusListReaders)
	now := b.now()
	for i, name := range names {
		g.Go(func() error {
			st, err := loadStatus(gctx, req.Storage, name)
			if err == nil {
				infos[i] = st.summary(now)
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	keyInfo := make(map[string]interface{}, len(names))
	for i, name := range names {
		keyInfo[name] = infos[i]
	}
	return logical.ListResponseWithInfo(names, keyInfo), nil
}

// page sorts names and keeps those after `after`, at most limit (0: all).
func page(names []string, after string, limit int) []string {
	sort.Strings(names)
	if after != "" {
		names = names[sort.SearchStrings(names, after):]
		if len(names) > 0 && names[0] == after {
			names = names[1:]
		}
	}
	if limit > 0 && len(names) > limit {
		names = names[:limit]
	}
	return names
}

// summary is a config's line in the list, by the same rules as
// status/<name>, from the status record alone: it keeps the times of the
// cached token and the timeout of the grant in flight for this.
func (st *grantStatus) summary(now time.Time) map[string]interface{} {
	tok := st.cachedTimes()
	usable := tok != nil && tok.servable(now)
	info := map[string]interface{}{
		"state":      st.state(now, st.GrantTimeout, usable).String(),
		"last_error": st.LastError,
		"expires_at": rfc3339(st.TokenExpiresAt),
	}
	if st.Device != nil {
		info["device_state"] = st.Device.stateAt(now)
	}
	return info
}
