package oauthvendor

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/vendorsim"
)

// TestTokenURLRefusedAtWrite: a literal IP the guard refuses is a 400
// naming token_url, and nothing is stored; private and loopback stay.
func TestTokenURLRefusedAtWrite(t *testing.T) {
	env := newTestEnv(t)
	base := map[string]interface{}{"client_id": "id", "client_secret": "s3cret-value"}
	with := func(tokenURL string) map[string]interface{} {
		d := map[string]interface{}{"token_url": tokenURL}
		for k, v := range base {
			d[k] = v
		}
		return d
	}
	for _, c := range []struct{ url, want string }{
		{"https://169.254.169.254/token", `host "169.254.169.254" is a link-local/cloud metadata address`},
		{"http://169.254.169.254/token", "link-local/cloud metadata"},
		{"https://[::ffff:169.254.169.254]/token", "link-local/cloud metadata"},
		{"https://[fd00:ec2::254]/token", "AWS instance metadata"},
		{"https://[fe80::1%25eth0]/token", "link-local"},
		{"https://100.100.100.200/token", "Alibaba"},
		{"https://0.0.0.0/token", "unspecified"},
		{"https://[::]:8443/token", "unspecified"},
		{"https://239.1.2.3/token", "multicast"},
		{"https://255.255.255.255/token", "broadcast"},
	} {
		resp, err := env.do(logical.UpdateOperation, "config/corp", with(c.url))
		if err != nil {
			t.Fatalf("%s: %v", c.url, err)
		}
		if resp == nil || !resp.IsError() {
			t.Fatalf("%s: accepted", c.url)
		}
		msg := resp.Error().Error()
		if !strings.HasPrefix(msg, "token_url: ") || !strings.Contains(msg, c.want) || !strings.Contains(msg, "never sends credentials there") {
			t.Fatalf("%s: error %q, want token_url: ... %q", c.url, msg, c.want)
		}
		if cfg, err := loadConfig(context.Background(), env.storage, "corp"); err != nil || cfg != nil {
			t.Fatalf("%s: stored %+v, %v", c.url, cfg, err)
		}
	}
	for _, u := range []string{"https://10.0.0.5/token", "https://172.16.0.1/oauth", "https://192.168.10.10/t", "https://[fd12::1]/t",
		"https://100.64.1.1/t", "http://127.0.0.1:8080/token", "http://[::1]:8080/token", "https://metadata.google.internal/token"} {
		env.write("config/ok", with(u))
	}
}

// TestStoredMetadataURLRefusedAtGrant: a config stored before write
// validation refused its token_url (here 0.0.0.0, which Linux would
// deliver to the vendor's loopback listener) is refused at dial time,
// through the backend: a 502 naming the config and the address class,
// no request reaches the vendor, and nothing secret is in the error.
func TestStoredMetadataURLRefusedAtGrant(t *testing.T) {
	env := newSimEnv(t)
	env.configure(vendorsim.AgentSync, nil)
	ctx := context.Background()
	cfg, err := loadConfig(ctx, env.storage, vendorsim.AgentSync)
	if err != nil || cfg == nil {
		t.Fatalf("load: %v, %v", cfg, err)
	}
	if !strings.Contains(cfg.TokenURL, "127.0.0.1") {
		t.Fatalf("token_url %q is not on 127.0.0.1", cfg.TokenURL)
	}
	cfg.TokenURL = strings.Replace(cfg.TokenURL, "127.0.0.1", "0.0.0.0", 1)
	if err := storeConfig(ctx, env.storage, vendorsim.AgentSync, cfg); err != nil {
		t.Fatal(err)
	}
	env.b.invalidate(ctx, configPrefix+vendorsim.AgentSync)

	err = env.readErr(vendorsim.AgentSync)
	msg := err.Error()
	if codedStatus(err) != http.StatusBadGateway ||
		!strings.Contains(msg, `vendor config "agentsync": token_url resolves to 0.0.0.0, an unspecified address; the plugin never sends credentials there`) {
		t.Fatalf("error %q (status %d), want a 502 naming the config and the address class", msg, codedStatus(err))
	}
	if n := env.tokenRequests(vendorsim.AgentSync); n != 0 {
		t.Fatalf("the vendor saw %d token requests", n)
	}
	assertNoSecret(t, msg, secretsOf(vendorsim.AgentSync))
	assertNoSecret(t, env.logs.String(), secretsOf(vendorsim.AgentSync))
}
