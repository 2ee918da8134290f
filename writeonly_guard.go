package oauthvendor

import (
	"context"
	"sort"
	"strings"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

// HandleExistenceCheck and HandleRequest refuse a config field the SDK
// cannot convert before the framework tries: the SDK's conversion error
// quotes the value (mapstructure: "value: 'map[k:<secret>]'"; TypeKVPairs:
// `invalid key pair "<the whole pair>"`; durations: `invalid duration
// "<value>"`), which would put a write-only value or a header value in the
// 400, the audit log (errors are not HMACed) and the server log, and echo a
// 1 MB value whole.
func (b *backend) HandleExistenceCheck(ctx context.Context, req *logical.Request) (bool, bool, error) {
	if conversionError(req) != "" {
		return false, false, nil // HandleRequest answers the 400
	}
	// The existence check reads storage before any handler runs: a name
	// storage refuses ("a..b") would be a 500 here. Skipping the check
	// lets the write handler answer validateName's 400.
	if name, ok := strings.CutPrefix(req.Path, configPrefix); ok && name != "" && validateName(name) != nil {
		return false, false, nil
	}
	return b.Backend.HandleExistenceCheck(ctx, req)
}

func (b *backend) HandleRequest(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	if msg := conversionError(req); msg != "" {
		return logical.ErrorResponse(msg), nil
	}
	return b.Backend.HandleRequest(ctx, req)
}

// conversionHint is what a config field must look like, by schema type. It
// replaces the SDK's message for every field, so a new field (secret_headers,
// secret_params) is covered by its schema entry alone; a field of a new type
// needs one line here, and until then gets the fallback, never the SDK text.
var conversionHint = map[framework.FieldType]string{
	framework.TypeString:           "must be a string",
	framework.TypeBool:             "must be true or false",
	framework.TypeDurationSecond:   "must be a non-negative duration: seconds, or a Go duration such as 90s",
	framework.TypeCommaStringSlice: "must be a comma-separated string or a list of strings",
	framework.TypeKVPairs:          `must be key=value pairs: a JSON object of strings, or "key=value" strings`,
}

// guardedSchemas are the paths that take write-only values, by prefix.
var guardedSchemas = map[string]func() map[string]*framework.FieldSchema{
	configPrefix:  configFields,
	"rotate-key/": rotateKeyFields,
	consentPrefix: consentPathFields,
	callbackPath:  callbackFields,
}

// conversionError runs the SDK's own conversion of each field the request
// carries on a path taking write-only values and, where it fails, answers
// "<field>: <hint>".
func conversionError(req *logical.Request) string {
	if len(req.Data) == 0 {
		return ""
	}
	var schema map[string]*framework.FieldSchema
	for prefix, fields := range guardedSchemas {
		if strings.HasPrefix(req.Path, prefix) {
			schema = fields()
		}
	}
	if schema == nil {
		return ""
	}
	fd := &framework.FieldData{Raw: req.Data, Schema: schema}
	fields := make([]string, 0, len(req.Data))
	for field := range req.Data {
		fields = append(fields, field)
	}
	sort.Strings(fields) // the same answer for the same request
	for _, field := range fields {
		s, ok := schema[field]
		if !ok || field == "name" { // unknown fields are ignored; name comes from the path
			continue
		}
		if _, _, err := fd.GetOkErr(field); err != nil {
			hint, ok := conversionHint[s.Type]
			if !ok {
				hint = "has the wrong type"
			}
			return field + ": " + hint
		}
	}
	return ""
}
