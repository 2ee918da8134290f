package oauthvendor

import (
	"context"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
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
	"token_cached":         {Type: framework.TypeBool, Description: "A valid token for the current config is cached."},
	"grants":               {Type: framework.TypeInt64, Description: "Successful grants."},
	"failures":             {Type: framework.TypeInt64, Description: "Failed grants."},
	"last_grant_at":        {Type: framework.TypeString, Description: "RFC 3339 time of the last successful grant."},
	"last_failure_at":      {Type: framework.TypeString, Description: "RFC 3339 time of the last failed grant."},
	"last_error":           {Type: framework.TypeString, Description: "The last vendor error, secrets redacted."},
	"minted_at":            {Type: framework.TypeString, Description: "RFC 3339 time the cached token was minted."},
	"expires_at":           {Type: framework.TypeString, Description: "RFC 3339 time the cached token expires."},
	"refresh_at":           {Type: framework.TypeString, Description: "RFC 3339 time from which a read mints a new token."},
	"state":                {Type: framework.TypeString, Description: "ok, refreshing, serving-stale, backing-off or failing."},
	"consecutive_failures": {Type: framework.TypeInt, Description: "Failed grants since the last success."},
	"next_attempt_at":      {Type: framework.TypeString, Description: "RFC 3339 time before which readers get the last error (or the still-valid token) without a vendor request."},
	"grant_started_at":     {Type: framework.TypeString, Description: "RFC 3339 start of the grant in flight, if any."},
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
		"state":                st.state(now, cfg, tok),
		"consecutive_failures": st.ConsecutiveFailures,
		"next_attempt_at":      rfc3339(st.NextAttemptAt),
		"grant_started_at":     rfc3339(st.GrantStartedAt),
	}
	if tok != nil && tok.Generation == cfg.Generation {
		data["minted_at"] = rfc3339(tok.MintedAt)
		data["expires_at"] = rfc3339(tok.ExpiresAt)
		data["refresh_at"] = rfc3339(tok.ExpiresAt.Add(-tok.refreshWindow(cfg.RefreshBefore)))
	}
	return data
}

// state sums a connection up for an operator. A grant start older than the
// timeout is a node that died mid-grant, not a grant in flight.
func (st *grantStatus) state(now time.Time, cfg *vendorConfig, tok *cachedToken) string {
	usable := tok.usable(now, cfg.Generation)
	switch {
	case !st.GrantStartedAt.IsZero() && now.Sub(st.GrantStartedAt) < cfg.Timeout:
		return "refreshing"
	case st.ConsecutiveFailures > 0 && usable:
		return "serving-stale"
	case st.backingOff(now):
		return "backing-off"
	case st.ConsecutiveFailures > 0:
		return "failing"
	}
	return "ok"
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
