package oauthvendor

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/hashicorp/vault/sdk/logical"
)

// HandleExistenceCheck and HandleRequest refuse a write-only field sent as
// a JSON object or list before the framework converts it: the SDK's
// conversion error quotes the value ("value: 'map[k:<secret>]'"), which
// would put the secret in the 400, the audit log (errors are not HMACed)
// and the server log.
func (b *backend) HandleExistenceCheck(ctx context.Context, req *logical.Request) (bool, bool, error) {
	if writeOnlyTypeError(req) != "" {
		return false, false, nil // HandleRequest answers the 400
	}
	return b.Backend.HandleExistenceCheck(ctx, req)
}

func (b *backend) HandleRequest(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	if msg := writeOnlyTypeError(req); msg != "" {
		return logical.ErrorResponse(msg), nil
	}
	return b.Backend.HandleRequest(ctx, req)
}

func writeOnlyTypeError(req *logical.Request) string {
	if !strings.HasPrefix(req.Path, configPrefix) {
		return ""
	}
	for field := range writeOnly {
		switch req.Data[field].(type) {
		case nil, string, json.Number, float64, int, int64, bool:
		default:
			return field + ": must be a string"
		}
	}
	return ""
}
