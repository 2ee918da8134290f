package oauthvendor

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
)

const testCA = `-----BEGIN CERTIFICATE-----
MIIBdzCCAR2gAwIBAgIUWrpBsq8A0QWzPQ9yoW7i6RkDDGIwCgYIKoZIzj0EAwIw
ETEPMA0GA1UEAwwGdGVzdGNhMB4XDTI0MDEwMTAwMDAwMFoXDTM0MDEwMTAwMDAw
MFowETEPMA0GA1UEAwwGdGVzdGNhMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE
-----END CERTIFICATE-----`

func genericConfig() map[string]interface{} {
	return map[string]interface{}{
		"token_url":     "https://auth.example.com/oauth/token",
		"client_id":     "id-1",
		"client_secret": "generic-secret-value",
	}
}

// patchedConfig is genericConfig with patch applied over it.
func patchedConfig(patch map[string]interface{}) map[string]interface{} {
	data := genericConfig()
	for k, v := range patch {
		data[k] = v
	}
	return data
}

func TestConfigWriteOnlyFields(t *testing.T) {
	env := newTestEnv(t)
	env.write("config/as", map[string]interface{}{
		"preset": "alphasense", "client_id": "cid", "client_secret": "cs-VALUE-1",
		"username": "u@example.com", "password": "pw-VALUE-2", "api_key": "ak-VALUE-3",
	})
	resp := env.read("config/as")
	raw, _ := json.Marshal(resp.Data)
	for _, secret := range []string{"cs-VALUE-1", "pw-VALUE-2", "ak-VALUE-3"} {
		if strings.Contains(string(raw), secret) {
			t.Fatalf("config read leaks %q: %s", secret, raw)
		}
	}
	for _, k := range []string{"client_secret_set", "password_set", "api_key_set"} {
		if resp.Data[k] != true {
			t.Errorf("%s = %v, want true", k, resp.Data[k])
		}
	}
	for _, k := range []string{"client_secret", "password", "api_key"} {
		if _, ok := resp.Data[k]; ok {
			t.Errorf("read returned write-only field %s", k)
		}
	}
	if resp.Data["token_url"] != "https://api.alpha-sense.com/auth" || resp.Data["grant_type"] != "password" {
		t.Errorf("preset defaults not applied: %v", resp.Data)
	}
	list := env.mustOK(logical.ListOperation, "config/", nil)
	if keys := list.Data["keys"].([]string); len(keys) != 1 || keys[0] != "as" {
		t.Fatalf("list = %v", list.Data)
	}
}

func TestConfigPartialUpdateKeepsOmittedFields(t *testing.T) {
	env := newTestEnv(t)
	env.write("config/g", genericConfig())
	env.write("config/g", map[string]interface{}{"scopes": "read,write", "max_ttl": "10m"})
	resp := env.read("config/g")
	if resp.Data["client_id"] != "id-1" || resp.Data["client_secret_set"] != true {
		t.Fatalf("partial update lost fields: %v", resp.Data)
	}
	if resp.Data["max_ttl"] != int64(600) {
		t.Fatalf("max_ttl = %v", resp.Data["max_ttl"])
	}
	if got := resp.Data["scopes"].([]string); len(got) != 2 || got[1] != "write" {
		t.Fatalf("scopes = %v", got)
	}
}

func TestConfigExplicitFieldBeatsPreset(t *testing.T) {
	env := newTestEnv(t)
	env.write("config/sync", map[string]interface{}{
		"preset": "agentsync", "token_url": "https://auth.sandbox.agentsync.io/oauth/token",
		"client_id": "c", "client_secret": "s", "client_auth": "basic",
	})
	resp := env.read("config/sync")
	if resp.Data["token_url"] != "https://auth.sandbox.agentsync.io/oauth/token" || resp.Data["client_auth"] != "basic" {
		t.Fatalf("explicit fields lost to the preset: %v", resp.Data)
	}
	if len(resp.Warnings) != 0 {
		t.Fatalf("sandbox host is published, no warning expected: %v", resp.Warnings)
	}
}

func TestAlationTokenURLCompletion(t *testing.T) {
	cases := map[string]string{
		"https://acme.alationcloud.com":                 "https://acme.alationcloud.com/oauth/v2/token/",
		"https://acme.alationcloud.com/":                "https://acme.alationcloud.com/oauth/v2/token/",
		"https://acme.alationcloud.com/oauth/v2/token":  "https://acme.alationcloud.com/oauth/v2/token/",
		"https://acme.alationcloud.com/oauth/v2/token/": "https://acme.alationcloud.com/oauth/v2/token/",
		"https://proxy.example.com/alation":             "https://proxy.example.com/alation/oauth/v2/token/",
	}
	for in, want := range cases {
		if got := presets["alation"].completeTokenURL(in); got != want {
			t.Errorf("%s -> %s, want %s", in, got, want)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	cases := []struct {
		name  string
		patch map[string]interface{}
		field string
	}{
		{"relative token_url", map[string]interface{}{"token_url": "/oauth/token"}, "token_url"},
		{"http to a remote host", map[string]interface{}{"token_url": "http://auth.example.com/token"}, "token_url"},
		{"ftp scheme", map[string]interface{}{"token_url": "ftp://auth.example.com/token"}, "token_url"},
		{"credentials in URL", map[string]interface{}{"token_url": "https://u:p@auth.example.com/token"}, "token_url"},
		{"oversized token_url", map[string]interface{}{"token_url": "https://a.example.com/" + strings.Repeat("a", 3000)}, "token_url"},
		{"unknown preset", map[string]interface{}{"preset": "okta"}, "preset"},
		{"unknown grant", map[string]interface{}{"grant_type": "implicit"}, "grant_type"},
		{"unknown body format", map[string]interface{}{"body_format": "xml"}, "body_format"},
		{"unknown client auth", map[string]interface{}{"client_auth": "jwt"}, "client_auth"},
		{"client_credentials without secret", map[string]interface{}{"client_secret": ""}, "client_secret"},
		{"client_credentials without id", map[string]interface{}{"client_id": ""}, "client_id"},
		{"password grant without username", map[string]interface{}{"grant_type": "password", "password": "p"}, "username"},
		{"password grant without password", map[string]interface{}{"grant_type": "password", "username": "u"}, "password"},
		{"login without password", map[string]interface{}{"grant_type": "login", "username": "u"}, "password"},
		{"negative default_ttl", map[string]interface{}{"default_ttl": -5}, "default_ttl"},
		{"negative refresh_before", map[string]interface{}{"refresh_before": "-1m"}, "refresh_before"},
		{"negative max_ttl", map[string]interface{}{"max_ttl": -1}, "max_ttl"},
		{"timeout too long", map[string]interface{}{"timeout": "1h"}, "timeout"},
		{"max_ttl not a duration", map[string]interface{}{"max_ttl": "soon"}, "max_ttl"},
		{"lease not a bool", map[string]interface{}{"lease": "maybe"}, "lease"},
		{"ca_cert not PEM", map[string]interface{}{"ca_cert": "not a certificate"}, "ca_cert"},
		{"ca_cert a key", map[string]interface{}{"ca_cert": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"}, "ca_cert"},
		{"ca_cert garbage DER", map[string]interface{}{"ca_cert": testCA}, "ca_cert"},
		{"header name with space", map[string]interface{}{"headers": map[string]interface{}{"Bad Header": "x"}}, "headers"},
		{"header value with newline", map[string]interface{}{"headers": map[string]interface{}{"X-A": "a\r\nInjected: 1"}}, "headers"},
		{"reserved header", map[string]interface{}{"headers": map[string]interface{}{"Content-Type": "text/plain"}}, "headers"},
		{"reserved param", map[string]interface{}{"params": map[string]interface{}{"client_secret": "x"}}, "params"},
		{"api_key_header invalid", map[string]interface{}{"api_key_header": "x api key"}, "api_key_header"},
		{"scope with space", map[string]interface{}{"scopes": "read write"}, "scopes"},
		{"oversized client_id", map[string]interface{}{"client_id": strings.Repeat("x", 5000)}, "client_id"},
		{"token_field with spaces", map[string]interface{}{"token_field": " access_token"}, "token_field"},
		{"alphasense without api_key", map[string]interface{}{"preset": "alphasense", "username": "u", "password": "p"}, "api_key"},
		{"alation without token_url", map[string]interface{}{"preset": "alation", "token_url": ""}, "token_url"},
		// Page 000 marks all five AlphaSense credentials required.
		{"alphasense without client_secret", map[string]interface{}{"preset": "alphasense", "client_secret": "", "username": "u", "password": "p", "api_key": "k"}, "client_secret"},
		{"alphasense without client_id", map[string]interface{}{"preset": "alphasense", "client_id": "", "username": "u", "password": "p", "api_key": "k"}, "client_id"},
		{"api_key with a control character", map[string]interface{}{"api_key": "ak-\x01-VALUE"}, "api_key"},
		{"api_key with a line break", map[string]interface{}{"api_key": "ak-VALUE\r\nX-Injected: 1"}, "api_key"},
		{"api_key with DEL", map[string]interface{}{"api_key": "ak-\x7f-VALUE"}, "api_key"},
		{"header value with ESC", map[string]interface{}{"headers": map[string]interface{}{"X-A": "hv-\x1b[31m-VALUE"}}, "headers"},
		{"header value with DEL", map[string]interface{}{"headers": map[string]interface{}{"X-A": "hv-\x7f-VALUE"}}, "headers"},
		{"api_key_header Content-Type", map[string]interface{}{"api_key": "k", "api_key_header": "content-type"}, "api_key_header"},
		{"api_key_header Host", map[string]interface{}{"api_key": "k", "api_key_header": "Host"}, "api_key_header"},
		{"api_key_header Transfer-Encoding", map[string]interface{}{"api_key": "k", "api_key_header": "Transfer-Encoding"}, "api_key_header"},
		{"api_key_header Authorization with basic", map[string]interface{}{"api_key": "k", "api_key_header": "authorization", "client_auth": "basic"}, "api_key_header"},
		{"header Authorization with basic", map[string]interface{}{"client_auth": "basic", "headers": map[string]interface{}{"Authorization": "Bearer x"}}, "headers"},
		{"header named as api_key_header", map[string]interface{}{"api_key": "k", "headers": map[string]interface{}{"X-API-KEY": "other"}}, "headers"},
		{"header named as a custom api_key_header", map[string]interface{}{"api_key": "k", "api_key_header": "A-Api-Key", "headers": map[string]interface{}{"a-api-key": "other"}}, "headers"},
		{"token_url port 0", map[string]interface{}{"token_url": "https://auth.example.com:0/token"}, "token_url"},
		{"token_url port 70000", map[string]interface{}{"token_url": "https://auth.example.com:70000/token"}, "token_url"},
		{"token_url port abc", map[string]interface{}{"token_url": "https://auth.example.com:abc/token"}, "token_url"},
		{"token_url port overflowing int", map[string]interface{}{"token_url": "https://auth.example.com:99999999999999999999/token"}, "token_url"},
		{"timeout above 60s", map[string]interface{}{"timeout": "61s"}, "timeout"},
		{"timeout above 10 years", map[string]interface{}{"timeout": "100000h"}, "timeout"},
		{"headers not pairs", map[string]interface{}{"headers": []interface{}{"X-Partner-Key: hv-VALUE"}}, "headers"},
		{"params not pairs", map[string]interface{}{"params": map[string]interface{}{"k": map[string]interface{}{"x": "pv-VALUE"}}}, "params"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := newTestEnv(t)
			data := patchedConfig(c.patch)
			resp, err := env.do(logical.CreateOperation, "config/bad", data)
			if err != nil && !strings.Contains(err.Error(), c.field) {
				t.Fatalf("error %q does not name %s", err, c.field)
			}
			if err == nil && (resp == nil || !resp.IsError()) {
				t.Fatalf("accepted: %v", resp)
			}
			// Ours, the conversion guard's included, start with "<field>:".
			if err == nil && !strings.HasPrefix(resp.Error().Error(), c.field+":") {
				t.Fatalf("error %q does not name the field %s", resp.Error(), c.field)
			}
			// Write-only values and header values never come back.
			if err == nil {
				for _, v := range echoForbidden(data) {
					if strings.Contains(resp.Error().Error(), v) {
						t.Fatalf("error %q echoes %q", resp.Error(), v)
					}
				}
			}
			if entry, _ := env.storage.Get(t.Context(), "config/bad"); entry != nil {
				t.Fatal("a rejected config was stored")
			}
		})
	}
}

func TestConfigValidationAcceptsLoopbackHTTP(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:8080/t", "http://localhost/t", "http://[::1]:9/t", "http://127.5.6.7/t"} {
		env := newTestEnv(t)
		data := genericConfig()
		data["token_url"] = u
		env.write("config/ok", data)
	}
}

func TestUnknownNameIs404(t *testing.T) {
	env := newTestEnv(t)
	for _, req := range []struct {
		op   logical.Operation
		path string
	}{{logical.ReadOperation, "creds/nope"}, {logical.ReadOperation, "config/nope"}, {logical.UpdateOperation, "rotate/nope"}, {logical.ReadOperation, "status/nope"}} {
		_, err := env.do(req.op, req.path, nil)
		if codedStatus(err) != 404 || !strings.Contains(err.Error(), `"nope"`) {
			t.Errorf("%s %s: %v (status %d), want a 404 naming it", req.op, req.path, err, codedStatus(err))
		}
	}
}

func TestPresetsListAndRead(t *testing.T) {
	env := newTestEnv(t)
	list := env.mustOK(logical.ListOperation, "presets/", nil)
	keys := list.Data["keys"].([]string)
	if strings.Join(keys, ",") != "agentsync,alation,alertsite,alphasense,box,databricks,docusign,google,google-sts,salesforce,zoom" {
		t.Fatalf("presets = %v", keys)
	}
	resp := env.read("presets/alertsite")
	defaults := resp.Data["defaults"].(map[string]interface{})
	if defaults["grant_type"] != "login" || defaults["body_format"] != "json" || defaults["default_ttl"] != int64(3600) {
		t.Fatalf("alertsite defaults = %v", defaults)
	}
	if _, err := env.do(logical.ReadOperation, "presets/nope", nil); codedStatus(err) != 404 {
		t.Fatalf("unknown preset: %v", err)
	}
}
