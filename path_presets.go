package oauthvendor

import (
	"context"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

func pathPresets() []*framework.Path {
	return []*framework.Path{
		{
			Pattern: "presets/?$",
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.ListOperation: &framework.PathOperation{Callback: pathPresetsList, Summary: "List the built-in vendor presets."},
			},
			HelpSynopsis:    "List the built-in vendor presets.",
			HelpDescription: "Each preset fills the defaults of one vendor's token endpoint.",
		},
		{
			Pattern: "presets/" + framework.GenericNameRegex("name"),
			Fields: map[string]*framework.FieldSchema{
				"name": {Type: framework.TypeString, Description: "Preset name.", Required: true},
			},
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.ReadOperation: &framework.PathOperation{Callback: pathPresetRead, Summary: "Read the defaults a preset sets."},
			},
			HelpSynopsis:    "Read the defaults a preset sets.",
			HelpDescription: "Shows the fields a preset fills; any field given in config/<name> wins.",
		},
	}
}

func pathPresetsList(context.Context, *logical.Request, *framework.FieldData) (*logical.Response, error) {
	info := map[string]interface{}{}
	for name, p := range presets {
		info[name] = map[string]interface{}{"vendor": p.Vendor, "docs": p.Docs}
	}
	return logical.ListResponseWithInfo(presetNames(), info), nil
}

func pathPresetRead(_ context.Context, _ *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.Get("name").(string)
	p, ok := presets[name]
	if !ok {
		return nil, logical.CodedError(404, "no preset named "+name)
	}
	defaults := map[string]interface{}{}
	for k, v := range readableFields(&p.Defaults) {
		if !isZeroish(v) {
			defaults[k] = v
		}
	}
	data := map[string]interface{}{
		"vendor":      p.Vendor,
		"docs":        p.Docs,
		"defaults":    defaults,
		"token_path":  p.TokenPath,
		"requires":    p.Requires,
		"known_hosts": p.KnownHosts,
	}
	if p.Defaults.GrantType == grantJWTBearer {
		data["assertion"] = presetAssertion(p)
	}
	return &logical.Response{Data: data}, nil
}

// presetAssertion shows how the preset's vendor reads a jwt_bearer
// assertion: where aud comes from, where the scopes go, the longest
// assertion it takes, the claims it requires, and the errors it explains.
func presetAssertion(p preset) map[string]interface{} {
	aud := map[string]string{audTokenURL: "token_url", audOrigin: "token_url's origin (scheme://host)", audHost: "token_url's host"}[p.Audience]
	scope := "body"
	if p.ScopeInAssertion {
		scope = "assertion scope claim"
	}
	hints := map[string]string{}
	for code, h := range p.ErrorHints {
		hints[code] = h.Message
	}
	return map[string]interface{}{
		"audience":          aud,
		"scope":             scope,
		"max_assertion_ttl": int64(p.maxAssertionTTL() / time.Second),
		"claim_values":      p.ClaimValues,
		"error_hints":       hints,
	}
}

// isZeroish leaves out the fields a preset does not set.
func isZeroish(v interface{}) bool {
	switch x := v.(type) {
	case string:
		return x == ""
	case int64:
		return x == 0
	case bool:
		return !x
	case []string:
		return len(x) == 0
	case map[string]string:
		return len(x) == 0
	}
	return v == nil
}
