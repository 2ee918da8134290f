package oauthvendor

import (
	"context"
	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
)

// FuzzConfigValidate: any write either stores a config that validates, or
// is refused with nothing stored; never a panic.
func FuzzConfigValidate(f *testing.F) {
	f.Add("alphasense", "https://api.alpha-sense.com/auth", "password", "form", "body", "cid", "sec", "u", "p", "key", "x-api-key", "Accept", "application/json", "read", 3600)
	f.Add("", "http://127.0.0.1:9/oauth/token", "client_credentials", "json", "body", "cid", "sec", "", "", "", "", "Accept", "application/json; version=1.0.0", "", 0) // page 001
	f.Add("alertsite", "https://api.alertsite.com/api/v3/access-tokens", "login", "json", "", "", "", "u", "passw0rd", "", "", "", "", "", 0)                           // page 002
	f.Add("alation", "https://acme.alationcloud.com", "", "", "basic", "cid", "sec", "", "", "", "", "", "", "", -1)                                                    // page 003
	f.Add("agentsync", "https://auth.sandbox.agentsync.io/oauth/token", "", "", "", "cid", "sec", "", "", "", "", "X-A", "a\r\nb", "a b", 0)                            // page 004
	f.Fuzz(func(t *testing.T, preset, tokenURL, grant, format, auth, cid, secret, user, pass, key, keyHeader, hName, hValue, scope string, ttl int) {
		env := newTestEnv(t)
		data := map[string]interface{}{
			"preset": preset, "token_url": tokenURL, "grant_type": grant, "body_format": format, "client_auth": auth,
			"client_id": cid, "client_secret": secret, "username": user, "password": pass, "api_key": key,
			"api_key_header": keyHeader, "headers": map[string]interface{}{hName: hValue}, "scopes": scope, "default_ttl": ttl,
		}
		for k, v := range data {
			if v == "" {
				delete(data, k)
			}
		}
		// What is fuzzed is validation: a real grant against a random URL
		// would make this a network test.
		data["verify"] = false
		resp, err := env.b.HandleRequest(context.Background(), &logical.Request{
			Operation: logical.CreateOperation, Path: "config/f", Data: data, Storage: env.storage,
		})
		stored, _ := loadConfig(context.Background(), env.storage, "f")
		refused := err != nil || (resp != nil && resp.IsError())
		if refused && stored != nil {
			t.Fatalf("refused write stored a config: %v %v", err, resp)
		}
		if !refused {
			if stored == nil {
				t.Fatal("accepted write stored nothing")
			}
			if verr := validate(stored, stored.effective()); verr != nil {
				t.Fatalf("stored config does not validate: %v", verr)
			}
			client, cerr := oauth.NewClient(oauthConfigOf("f", stored.effective()), oauth.NewPool())
			if cerr != nil {
				t.Fatalf("stored config cannot build a client: %v", cerr)
			}
			client.Close()
		}
	})
}
