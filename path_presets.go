package oauthvendor

import (
	"context"

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
	return &logical.Response{Data: map[string]interface{}{
		"vendor":      p.Vendor,
		"docs":        p.Docs,
		"defaults":    defaults,
		"token_path":  p.TokenPath,
		"requires":    p.Requires,
		"known_hosts": p.KnownHosts,
	}}, nil
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
