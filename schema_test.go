package oauthvendor

import (
	"testing"

	"github.com/hashicorp/vault/sdk/helper/testhelpers/schema"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/vendorsim"
)

// TestResponsesMatchDeclaredSchemas holds each answer to the Responses its
// path declares (what OpenAPI and `vault path-help` publish).
func TestResponsesMatchDeclaredSchemas(t *testing.T) {
	env := newSimEnv(t)
	env.configure(vendorsim.AlphaSense, map[string]interface{}{"api_key_in_creds": true})
	check := func(path string, op logical.Operation, resp *logical.Response) {
		t.Helper()
		schema.ValidateResponse(t, schema.GetResponseSchema(t, env.b.Route(path), op), resp, true)
	}
	check("config/alphasense", logical.ReadOperation, env.read("config/alphasense"))
	check("creds/alphasense", logical.ReadOperation, env.read("creds/alphasense"))
	check("rotate/alphasense", logical.UpdateOperation, env.write("rotate/alphasense", nil))
	check("status/alphasense", logical.ReadOperation, env.read("status/alphasense"))
	env.write("config/alphasense", map[string]interface{}{"lease": false})
	check("creds/alphasense", logical.ReadOperation, env.read("creds/alphasense"))

	jwt, _, _ := jwtEnv(t)
	jwt.write("config/app", jwtConfig("app", nil))
	jcheck := func(path string, op logical.Operation, resp *logical.Response) {
		t.Helper()
		schema.ValidateResponse(t, schema.GetResponseSchema(t, jwt.b.Route(path), op), resp, true)
	}
	jcheck("config/app", logical.ReadOperation, jwt.read("config/app"))
	jcheck("rotate-key/app", logical.UpdateOperation, jwt.write("rotate-key/app", map[string]interface{}{"step": "publish"}))
	jcheck("rotate-key/app", logical.UpdateOperation, jwt.write("rotate-key/app", map[string]interface{}{"step": "switch"}))
}
