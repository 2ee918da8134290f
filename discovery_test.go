package oauthvendor

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
)

// metadataServer serves authorization server metadata at path, naming
// issuer (its own URL + issuerPath unless lie is set).
type metadataServer struct {
	*httptest.Server
	path, issuerPath, lie string
	methods               []string
	mtlsAlias             string
	device                string // device_authorization_endpoint, when set
	hits                  atomic.Int32
}

func newMetadataServer(t *testing.T, path, issuerPath string, methods []string) *metadataServer {
	m := &metadataServer{path: path, issuerPath: issuerPath, methods: methods}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"access_token":"discovered-token","token_type":"Bearer","expires_in":3600}`))
			return
		}
		if r.URL.Path != m.path {
			http.NotFound(w, r)
			return
		}
		m.hits.Add(1)
		issuer := m.URL + m.issuerPath
		if m.lie != "" {
			issuer = m.lie
		}
		doc := map[string]interface{}{"issuer": issuer, "token_endpoint": m.URL + "/token", "authorization_endpoint": m.URL + "/authorize"}
		if m.methods != nil {
			doc["token_endpoint_auth_methods_supported"] = m.methods
		}
		if m.mtlsAlias != "" {
			doc["mtls_endpoint_aliases"] = map[string]string{"token_endpoint": m.mtlsAlias}
		}
		if m.device != "" {
			doc["device_authorization_endpoint"] = m.device
		}
		_ = json.NewEncoder(w).Encode(doc)
	}))
	t.Cleanup(m.Close)
	return m
}

// TestDiscoveryFillsTokenURL: OIDC discovery fills token_url, the read
// shows it, and the grant goes there.
func TestDiscoveryFillsTokenURL(t *testing.T) {
	env := newTestEnv(t)
	srv := newMetadataServer(t, "/.well-known/openid-configuration", "", []string{"client_secret_basic", "client_secret_post", "private_key_jwt"})
	env.write("config/idp", map[string]interface{}{"issuer": srv.URL, "client_id": "c", "client_secret": "s3cret-value"})
	if got := env.read("config/idp").Data["token_url"]; got != srv.URL+"/token" {
		t.Fatalf("token_url %v, want the discovered %s/token", got, srv.URL)
	}
	if tok := env.read("creds/idp").Data["access_token"]; tok != "discovered-token" {
		t.Fatalf("creds %v", tok)
	}
	// A write that touches nothing discovery decides does not ask again.
	hits := srv.hits.Load()
	env.write("config/idp", map[string]interface{}{"max_ttl": "10m"})
	if srv.hits.Load() != hits {
		t.Fatal("a max_ttl write fetched the metadata again")
	}
	// An explicit token_url wins and stays the operator's.
	env.write("config/idp", map[string]interface{}{"token_url": srv.URL + "/token?x=1"})
	env.write("config/idp", map[string]interface{}{"issuer": srv.URL})
	if got := env.read("config/idp").Data["token_url"]; got != srv.URL+"/token?x=1" {
		t.Fatalf("token_url %v: discovery replaced the operator's", got)
	}
}

// TestDiscoveryRFC8414: without OIDC metadata, RFC 8414's path (the
// well-known part before the issuer's path) is asked.
func TestDiscoveryRFC8414(t *testing.T) {
	env := newTestEnv(t)
	srv := newMetadataServer(t, "/.well-known/oauth-authorization-server/tenant", "/tenant", []string{"client_secret_post"})
	env.write("config/as", map[string]interface{}{"issuer": srv.URL + "/tenant", "client_id": "c", "client_secret": "s3cret-value"})
	if got := env.read("config/as").Data["token_url"]; got != srv.URL+"/token" {
		t.Fatalf("token_url %v", got)
	}
}

// TestDiscoveryRefusals: a client_auth the server does not list, an
// issuer the document disowns, and no metadata at all are 400s naming
// the field.
func TestDiscoveryRefusals(t *testing.T) {
	cases := []struct {
		name    string
		methods []string
		lie     string
		path    string
		data    map[string]interface{}
		want    string
	}{
		{"unlisted method", []string{"client_secret_basic"}, "", "/.well-known/openid-configuration",
			map[string]interface{}{"client_auth": "private_key_jwt"}, `client_auth: private_key_jwt (private_key_jwt) is not among the methods the issuer supports: "client_secret_basic"`},
		{"default is basic", nil, "", "/.well-known/openid-configuration",
			map[string]interface{}{"client_secret": "s3cret-value"}, `client_auth: body (client_secret_post) is not among the methods the issuer supports: "client_secret_basic"`},
		{"issuer mismatch", []string{"client_secret_post"}, "https://evil.example", "/.well-known/openid-configuration",
			map[string]interface{}{"client_secret": "s3cret-value"}, `issuer: the metadata names issuer "https://evil.example"`},
		{"no metadata", nil, "", "/elsewhere", map[string]interface{}{"client_secret": "s3cret-value"}, "issuer: no metadata (" + "http"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := newTestEnv(t)
			srv := newMetadataServer(t, c.path, "", c.methods)
			srv.lie = c.lie
			data := map[string]interface{}{"issuer": srv.URL, "client_id": "c"}
			for k, v := range c.data {
				data[k] = v
			}
			resp, err := env.do(logical.UpdateOperation, "config/x", data)
			if err != nil || resp == nil || !resp.IsError() || !strings.Contains(resp.Error().Error(), c.want) {
				t.Fatalf("resp %v err %v, want %q", resp, err, c.want)
			}
			if _, err := env.do(logical.ReadOperation, "config/x", nil); codedStatus(err) != 404 {
				t.Fatal("a refused discovery stored the config")
			}
		})
	}
}

// TestDiscoveryIssuerIdentical: OIDC Discovery 4.3 and RFC 8414 3.3 want
// the document's issuer identical to the one asked for; a trailing slash
// is a difference (the error says which spelling to write), and an issuer
// given with the slash its server publishes (Auth0's style) is accepted.
func TestDiscoveryIssuerIdentical(t *testing.T) {
	env := newTestEnv(t)
	srv := newMetadataServer(t, "/.well-known/openid-configuration", "/", []string{"client_secret_post"})
	data := map[string]interface{}{"issuer": srv.URL, "client_id": "c", "client_secret": "s3cret-value", "client_auth": "body"}
	resp, err := env.do(logical.UpdateOperation, "config/x", data)
	want := `issuer: the metadata names issuer "` + srv.URL + `/", not "` + srv.URL + `"`
	if err != nil || resp == nil || !resp.IsError() || !strings.Contains(resp.Error().Error(), want) ||
		!strings.Contains(resp.Error().Error(), "trailing slash") {
		t.Fatalf("an issuer differing by a trailing slash: resp %v err %v, want %q and the hint", resp, err, want)
	}
	data["issuer"] = srv.URL + "/"
	env.write("config/x", data)
	if got := env.read("config/x").Data["token_url"]; got != srv.URL+"/token" {
		t.Fatalf("token_url %v after discovery with the published issuer", got)
	}

	// The other way round: the server publishes no slash, the operator adds one.
	plain := newMetadataServer(t, "/.well-known/openid-configuration", "", []string{"client_secret_post"})
	data["issuer"] = plain.URL + "/"
	if resp, err := env.do(logical.UpdateOperation, "config/y", data); err != nil || resp == nil || !resp.IsError() {
		t.Fatalf("an issuer with a slash the server does not publish: resp %v err %v", resp, err)
	}
}

// TestDiscoveryMethodListClippedAndQuoted: the server's
// token_endpoint_auth_methods_supported reaches the 400 as vendor text:
// quoted, one line, bounded (it was echoed whole: 360 KB, with control
// characters that made the CLI print a fake "Success!" line).
func TestDiscoveryMethodListClippedAndQuoted(t *testing.T) {
	env := newTestEnv(t)
	methods := []string{"client_secret_basic\n\x1b[32mSuccess! Data written to: oauthvendor/config/x\x1b[0m\n"}
	for i := range 20000 {
		methods = append(methods, fmt.Sprintf("method_%05d", i))
	}
	srv := newMetadataServer(t, "/.well-known/openid-configuration", "", methods)
	resp, err := env.do(logical.UpdateOperation, "config/x",
		map[string]interface{}{"issuer": srv.URL, "client_id": "c", "client_auth": "private_key_jwt"})
	if err != nil || resp == nil || !resp.IsError() {
		t.Fatalf("resp %v err %v, want a 400", resp, err)
	}
	msg := resp.Error().Error()
	if len(msg) > 600 {
		t.Fatalf("the 400 is %d bytes: the method list is not clipped", len(msg))
	}
	if strings.ContainsAny(msg, "\n\x1b") || !strings.Contains(msg, `\x1b[32mSuccess!`) {
		t.Fatalf("the method list is not quoted: %q", msg)
	}
	if !strings.Contains(msg, "client_auth: private_key_jwt (private_key_jwt) is not among the methods the issuer supports: ") {
		t.Fatalf("the 400 does not name client_auth: %q", msg)
	}
}

// TestDiscoveryRefusalShowsNoSecret: a server that echoes the client
// secret into its metadata (here its issuer, lower-cased as a host name
// is) does not get it into the 400.
func TestDiscoveryRefusalShowsNoSecret(t *testing.T) {
	env := newTestEnv(t)
	const secret = "Sup3rSecretValue9"
	srv := newMetadataServer(t, "/.well-known/openid-configuration", "", nil)
	srv.lie = "https://" + strings.ToLower(secret) + ".example.com"
	resp, err := env.do(logical.UpdateOperation, "config/idp", map[string]interface{}{"issuer": srv.URL, "client_id": "c", "client_secret": secret})
	if err != nil || resp == nil || !resp.IsError() || !strings.HasPrefix(resp.Error().Error(), "issuer:") {
		t.Fatalf("a lying issuer: %v %v, want a 400 naming issuer", resp, err)
	}
	if msg := strings.ToLower(resp.Error().Error()); strings.Contains(msg, strings.ToLower(secret)[:8]) {
		t.Fatalf("the 400 holds the secret: %q", resp.Error().Error())
	}
}

// TestDiscoveryFillsAuthURL: a user-delegated config with issuer and no
// auth_url takes the metadata's authorization_endpoint, and its consent
// points there.
func TestDiscoveryFillsAuthURL(t *testing.T) {
	env := newTestEnv(t)
	srv := newMetadataServer(t, "/.well-known/openid-configuration", "", []string{"client_secret_post"})
	env.write("config/idp", map[string]interface{}{"issuer": srv.URL, "grant_type": "authorization_code", "verify": true,
		"client_id": "c", "client_secret": "s3cret-value", "redirect_url": "https://vault.example.com/v1/oauthvendor/callback"})
	cfg := env.read("config/idp").Data
	if cfg["auth_url"] != srv.URL+"/authorize" || cfg["token_url"] != srv.URL+"/token" {
		t.Fatalf("auth_url %v token_url %v, want the metadata's", cfg["auth_url"], cfg["token_url"])
	}
	if u := env.write("consent/idp", nil).Data["authorize_url"].(string); !strings.HasPrefix(u, srv.URL+"/authorize?") {
		t.Fatalf("authorize_url %s", u)
	}
}
