package oauthvendor

import (
	"strings"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
)

func TestNonStringSecretIsRefusedWithoutEcho(t *testing.T) {
	env := newTestEnv(t)
	data := genericConfig()
	data["client_secret"] = map[string]interface{}{"k": "nested-secret-value"}
	resp, err := env.do(logical.CreateOperation, "config/x", data)
	if err != nil || !resp.IsError() || resp.Error().Error() != "client_secret: must be a string" {
		t.Fatalf("got %v %v", resp, err)
	}
	if strings.Contains(env.logs.String(), "nested-secret-value") {
		t.Fatal("the secret reached the log")
	}
}
