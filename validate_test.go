package oauthvendor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hashicorp/vault/sdk/logical"
)

// echoForbidden lists what no config error may contain: every string under a
// write-only field, headers or params (values, at any depth), long enough
// not to match by chance.
func echoForbidden(data map[string]interface{}) []string {
	var out []string
	var walk func(v interface{})
	walk = func(v interface{}) {
		switch v := v.(type) {
		case string:
			if len(v) >= 6 {
				out = append(out, v)
			}
		case map[string]interface{}:
			for _, x := range v {
				walk(x)
			}
		case []interface{}:
			for _, x := range v {
				walk(x)
			}
		}
	}
	for field, v := range data {
		if writeOnly[field] || field == "headers" || field == "params" {
			walk(v)
		}
	}
	return out
}

func TestValidateName(t *testing.T) {
	bad := []string{"", "a..b", "a...b", "x..", "..", "a/b", "-a", "a-", ".a", "a b", "é", strings.Repeat("n", maxNameLen+1)}
	for _, name := range bad {
		err := validateName(name)
		var fe *fieldError
		if !errors.As(err, &fe) || fe.field != "name" {
			t.Errorf("validateName(%.20q) = %v, want a fieldError on name", name, err)
		}
	}
	good := []string{"a", "alphasense", "agent.sync-prod_2", "a.b.c", "_", strings.Repeat("n", maxNameLen)}
	for _, name := range good {
		if err := validateName(name); err != nil {
			t.Errorf("validateName(%q) = %v", name, err)
		}
	}
}

// A name Vault's storage refuses is a 400 naming it, nothing stored, through
// the existence check and the write as Vault runs them: over a StorageView,
// which refuses ".." as Vault's barrier view does.
func TestConfigNameStorageRefusesIs400(t *testing.T) {
	view := logical.NewStorageView(&logical.InmemStorage{}, "")
	if _, err := view.Get(context.Background(), configPrefix+"a..b"); err == nil {
		t.Fatal("the storage view accepts a..b; this test proves nothing")
	}
	env := newTestEnvWith(t, view, newFakeClock())
	for _, name := range []string{"a..b", "x...y", "prod..eu"} {
		req := &logical.Request{Operation: logical.CreateOperation, Path: configPrefix + name, Data: genericConfig(), Storage: view}
		if _, _, err := env.b.HandleExistenceCheck(context.Background(), req); err != nil {
			t.Fatalf("%s: existence check: %v", name, err)
		}
		resp, err := env.b.HandleRequest(context.Background(), req)
		if err != nil || resp == nil || !resp.IsError() || !strings.HasPrefix(resp.Error().Error(), "name:") {
			t.Fatalf("%s: got %v, %v; want a 400 on name", name, resp, err)
		}
	}
	if keys, _ := view.List(context.Background(), configPrefix); len(keys) != 0 {
		t.Fatalf("stored %v", keys)
	}
	env.write("config/a.b", genericConfig()) // one dot is a fine name
}

func TestQuoteCutsOnARuneBoundary(t *testing.T) {
	if got := quote("short"); got != `"short"` {
		t.Fatalf("quote(short) = %s", got)
	}
	exact := strings.Repeat("a", maxQuoted)
	if got := quote(exact); got != `"`+exact+`"` {
		t.Fatalf("a value of exactly maxQuoted bytes was cut: %s", got)
	}
	// 63 ASCII bytes then a 3-byte rune straddling byte 64.
	s := strings.Repeat("a", maxQuoted-1) + "€" + strings.Repeat("b", 1<<20)
	p, cut := prefix(s)
	if !cut || len(p) > maxQuoted || !utf8.ValidString(p) || p != strings.Repeat("a", maxQuoted-1) {
		t.Fatalf("prefix = %q (cut %v)", p, cut)
	}
	if got := quote(s); got != `"`+p+`"...` {
		t.Fatalf("quote = %s", got)
	}
	if got := clip(s); got != p+"..." {
		t.Fatalf("clip = %s", got)
	}
}

func TestHasCTL(t *testing.T) {
	for _, s := range []string{"a\x00", "\x01", "a\nb", "a\rb", "\x1f", "\x7f", "x\x1b[0m"} {
		if !hasCTL(s) {
			t.Errorf("hasCTL(%q) = false", s)
		}
	}
	for _, s := range []string{"", "abc", "a b", "a\tb", "application/json; version=1.0.0", "é€", "\x80\xff"} {
		if hasCTL(s) {
			t.Errorf("hasCTL(%q) = true", s)
		}
	}
}

// A rejected value is never echoed whole: each bad 1 MiB value gets a 400
// naming its field whose text is short.
func TestConfigErrorsNeverEchoAValueWhole(t *testing.T) {
	huge := strings.Repeat("v", 1<<20)
	cases := []struct {
		field string
		patch map[string]interface{}
	}{
		{"scopes", map[string]interface{}{"scopes": "a " + huge}},
		{"preset", map[string]interface{}{"preset": huge}},
		{"grant_type", map[string]interface{}{"grant_type": huge}},
		{"body_format", map[string]interface{}{"body_format": huge}},
		{"client_auth", map[string]interface{}{"client_auth": huge}},
		{"api_key_header", map[string]interface{}{"api_key_header": huge}},
		{"headers", map[string]interface{}{"headers": map[string]interface{}{huge + " x": "1"}}},
		{"headers", map[string]interface{}{"headers": []interface{}{huge}}},
		{"headers", map[string]interface{}{"headers": map[string]interface{}{huge: "1"}}},
		{"params", map[string]interface{}{"params": map[string]interface{}{huge + "\n": "1"}}},
		{"token_field", map[string]interface{}{"token_field": " " + huge}},
		{"token_url", map[string]interface{}{"token_url": "https://auth.example.com:" + huge[:1500] + "x/t"}},
		{"timeout", map[string]interface{}{"timeout": huge}},
		{"lease", map[string]interface{}{"lease": huge}},
		{"client_secret", map[string]interface{}{"client_secret": []interface{}{huge}}},
		{"api_key", map[string]interface{}{"api_key": huge}},
	}
	for _, c := range cases {
		env := newTestEnv(t)
		data := patchedConfig(c.patch)
		resp, err := env.do(logical.CreateOperation, "config/bad", data)
		if err != nil || resp == nil || !resp.IsError() {
			t.Errorf("%s: got %v, %v; want a 400", c.field, resp, err)
			continue
		}
		msg := resp.Error().Error()
		if !strings.HasPrefix(msg, c.field+":") || len(msg) > 400 {
			t.Errorf("%s: %d-byte error %.200q", c.field, len(msg), msg)
		}
		if strings.Contains(env.logs.String(), huge[:1000]) {
			t.Errorf("%s: the value reached the log", c.field)
		}
	}
}

// Every header that frames the request is refused as api_key_header.
func TestAPIKeyHeaderRefusesReservedHeaders(t *testing.T) {
	for h := range reservedHeaders {
		env := newTestEnv(t)
		data := genericConfig()
		data["api_key"], data["api_key_header"] = "ak-VALUE-9", strings.ToLower(h)
		resp, err := env.do(logical.CreateOperation, "config/bad", data)
		if err != nil || resp == nil || !resp.IsError() || !strings.HasPrefix(resp.Error().Error(), "api_key_header:") {
			t.Errorf("api_key_header=%s: %v, %v", h, resp, err)
		}
	}
}

func TestConfigValidationAccepts(t *testing.T) {
	cases := []struct {
		name  string
		patch map[string]interface{}
	}{
		{"header value with HTAB", map[string]interface{}{"headers": map[string]interface{}{"X-A": "a\tb"}}},
		{"api_key_header Authorization with body auth", map[string]interface{}{"api_key": "k", "api_key_header": "Authorization"}},
		{"secret header named as api_key_header without api_key", map[string]interface{}{"secret_headers": map[string]interface{}{"X-Api-Key": "partner"}}},
		{"Authorization secret header with body auth", map[string]interface{}{"secret_headers": map[string]interface{}{"Authorization": "Bearer x"}}},
		{"secret params", map[string]interface{}{"secret_params": map[string]interface{}{"account_key": "k"}}},
		{"token_url port 1", map[string]interface{}{"token_url": "https://auth.example.com:1/t"}},
		{"token_url port 65535", map[string]interface{}{"token_url": "https://auth.example.com:65535/t"}},
		{"token_url empty port", map[string]interface{}{"token_url": "https://auth.example.com:/t"}},
		{"timeout 60s", map[string]interface{}{"timeout": "60s"}},
		{"alphasense with all five", map[string]interface{}{"preset": "alphasense", "token_url": "", "username": "u", "password": "p", "api_key": "k"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := newTestEnv(t)
			data := patchedConfig(c.patch)
			env.write("config/ok", data)
		})
	}
}

func TestTimeoutErrorNamesItsLimit(t *testing.T) {
	env := newTestEnv(t)
	data := genericConfig()
	data["timeout"] = "5m"
	resp, err := env.do(logical.CreateOperation, "config/bad", data)
	if err != nil || resp == nil || !resp.IsError() {
		t.Fatalf("got %v, %v", resp, err)
	}
	if msg := resp.Error().Error(); !strings.Contains(msg, "1m0s") || !strings.Contains(msg, "90s") {
		t.Fatalf("error %q does not name the 60s limit and why", msg)
	}
}

// The SDK's conversion errors quote the value (TypeKVPairs: the whole pair;
// mapstructure: the whole object; durations: the string). The guard answers
// by type instead, before the existence check and before the handler.
func TestConversionGuardNeverQuotesTheValue(t *testing.T) {
	cases := map[string]interface{}{
		"headers":       []interface{}{"X-Partner-Key:hv-VALUE-1"},
		"params":        map[string]interface{}{"k": []interface{}{"pv-VALUE-2"}},
		"scopes":        map[string]interface{}{"k": "sv-VALUE-3"},
		"timeout":       "tv-VALUE-4",
		"lease":         "lv-VALUE-5",
		"client_id":     map[string]interface{}{"k": "cv-VALUE-6"},
		"password":      []interface{}{"pw-VALUE-7"},
		"api_key":       map[string]interface{}{"k": "ak-VALUE-8"},
		"client_secret": map[string]interface{}{"k": "cs-VALUE-9"},
	}
	for field, v := range cases {
		env := newTestEnv(t)
		data := genericConfig()
		data[field] = v
		req := &logical.Request{Operation: logical.CreateOperation, Path: "config/bad", Data: data, Storage: env.storage}
		if _, _, err := env.b.HandleExistenceCheck(context.Background(), req); err != nil {
			t.Errorf("%s: the existence check answered %v", field, err)
		}
		resp, err := env.b.HandleRequest(context.Background(), req)
		if err != nil || resp == nil || !resp.IsError() {
			t.Errorf("%s: got %v, %v", field, resp, err)
			continue
		}
		msg := resp.Error().Error()
		if !strings.HasPrefix(msg, field+": ") || strings.Contains(msg, "VALUE") {
			t.Errorf("%s: %q", field, msg)
		}
	}
}

// TestHeaderNamesDifferingInCaseAreOneHeader: two names differing only in
// case are one header on the wire (RFC 9110 5.1); which value was sent
// varied with map order. Refused in headers, in secret_headers, across
// them, and against api_key_header, naming the field and both spellings.
func TestHeaderNamesDifferingInCaseAreOneHeader(t *testing.T) {
	cases := []struct {
		name  string
		patch map[string]interface{}
		field string
		says  []string
	}{
		{"headers", map[string]interface{}{"headers": map[string]interface{}{"X-Partner": "hv-VALUE-1", "x-partner": "hv-VALUE-2"}},
			"headers", []string{`"X-Partner"`, `"x-partner"`, "case-insensitive"}},
		{"secret_headers", map[string]interface{}{"secret_headers": map[string]interface{}{"X-Partner-Key": "sv-VALUE-1", "X-PARTNER-KEY": "sv-VALUE-2"}},
			"secret_headers", []string{`"X-PARTNER-KEY"`, `"X-Partner-Key"`, "case-insensitive"}},
		{"across", map[string]interface{}{"headers": map[string]interface{}{"X-Tenant": "hv-VALUE-1"}, "secret_headers": map[string]interface{}{"x-tenant": "sv-VALUE-2"}},
			"secret_headers", []string{`"x-tenant"`, "also in headers"}},
		{"api_key_header", map[string]interface{}{"api_key": "ak-VALUE-1", "api_key_header": "X-Key", "secret_headers": map[string]interface{}{"x-KEY": "sv-VALUE-2"}},
			"secret_headers", []string{`"x-KEY"`, "api_key_header"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := newTestEnv(t)
			data := patchedConfig(c.patch)
			resp, err := env.do(logical.CreateOperation, "config/dup", data)
			if err != nil || resp == nil || !resp.IsError() {
				t.Fatalf("accepted: %v %v", resp, err)
			}
			msg := resp.Error().Error()
			if !strings.HasPrefix(msg, c.field+":") {
				t.Fatalf("%q does not name %s", msg, c.field)
			}
			for _, s := range c.says {
				if !strings.Contains(msg, s) {
					t.Errorf("%q does not say %s", msg, s)
				}
			}
			for _, v := range echoForbidden(data) {
				if strings.Contains(msg, v) {
					t.Errorf("%q echoes %q", msg, v)
				}
			}
		})
	}
}
