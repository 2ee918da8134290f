//go:build e2e

package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/vendorsim"
)

// mTLS (RFC 8705) against the simulator in mTLS mode: a token endpoint
// (AgentSync's paths) that wants a client certificate signed by the test's
// CA whose subject CN is the client_id.
func TestMTLS(t *testing.T) {
	sim := startMTLSSim(t)
	var c vendorsim.Credentials
	sim.getJSON(t, "/_sim/credentials/"+vendorsim.AgentSync, &c)
	good := sim.ca.clientCert(t, c.ClientID)
	base := func(extra map[string]any) map[string]any {
		data := map[string]any{"token_url": sim.tokenURL(vendorsim.AgentSync), "grant_type": "client_credentials",
			"client_id": c.ClientID, "ca_cert": string(sim.ca.PEM)}
		for k, v := range extra {
			data[k] = v
		}
		return data
	}

	t.Run("tls_client_auth", func(t *testing.T) {
		writeConfig(t, "mtls-cert", base(map[string]any{"client_auth": "tls_client_auth",
			"tls_client_cert": string(good.CertPEM), "tls_client_key": string(good.KeyPEM), "verify": true}))
		tok := accessToken(t, readCreds(t, "mtls-cert"))
		if !sim.valid(t, vendorsim.AgentSync, tok) {
			t.Fatal("the served token is not one the mTLS vendor issued")
		}
		// RFC 8705 2: client_id alone; the certificate is the credential.
		last := sim.lastRequest(t, vendorsim.AgentSync)
		if last.Params["client_id"] != vendorsim.Digest(c.ClientID) {
			t.Errorf("token request without client_id: params %v", last.Params)
		}
		for _, p := range []string{"client_secret", "client_assertion"} {
			if _, ok := last.Params[p]; ok {
				t.Errorf("tls_client_auth sent %s", p)
			}
		}
		if _, ok := last.Headers["Authorization"]; ok {
			t.Error("tls_client_auth sent an Authorization header")
		}
		data := mustReadConfigFlag(t, "mtls-cert", "tls_client_key_set", true)
		if data["tls_client_cert"] != string(good.CertPEM) {
			t.Errorf("read config: tls_client_cert is not the written certificate")
		}
	})

	t.Run("with client_auth=body", func(t *testing.T) {
		addSecret("mtls sim agentsync client_secret", c.ClientSecret, c.ClientID)
		writeConfig(t, "mtls-body", base(map[string]any{"client_auth": "body", "client_secret": c.ClientSecret,
			"tls_client_cert": string(good.CertPEM), "tls_client_key": string(good.KeyPEM), "verify": true}))
		tok := accessToken(t, readCreds(t, "mtls-body"))
		if !sim.valid(t, vendorsim.AgentSync, tok) {
			t.Fatal("the served token is not one the mTLS vendor issued")
		}
		if sim.lastRequest(t, vendorsim.AgentSync).Params["client_secret"] != vendorsim.Digest(c.ClientSecret) {
			t.Error("client_auth=body with mTLS did not send the client secret in the body")
		}
	})

	t.Run("wrong CN", func(t *testing.T) {
		other := sim.ca.clientCert(t, "someone-else")
		writeConfig(t, "mtls-wrong-cn", base(map[string]any{"client_auth": "tls_client_auth",
			"tls_client_cert": string(other.CertPEM), "tls_client_key": string(other.KeyPEM)}))
		mustFailRead(t, "mtls-wrong-cn", http.StatusBadGateway, "invalid_client")
	})

	t.Run("no client certificate", func(t *testing.T) {
		// The vendor wants a certificate the config does not have: its
		// 401 invalid_client, passed on as a 502.
		writeConfig(t, "mtls-none", base(map[string]any{"client_auth": "body", "client_secret": c.ClientSecret}))
		mustFailRead(t, "mtls-none", http.StatusBadGateway, "invalid_client")
		// tls_client_auth without a certificate cannot authenticate at
		// all: refused at write, naming the field.
		_, err := env.vault.Logical().Write(mountPath+"/config/mtls-no-cert", base(map[string]any{
			"client_auth": "tls_client_auth", "verify": false}))
		mustBeRefused(t, "mtls-no-cert", err, "tls_client_cert")
	})

	t.Run("key that is not the certificate's", func(t *testing.T) {
		other := sim.ca.clientCert(t, c.ClientID)
		_, err := env.vault.Logical().Write(mountPath+"/config/mtls-mismatch", base(map[string]any{
			"client_auth": "tls_client_auth", "tls_client_cert": string(good.CertPEM),
			"tls_client_key": string(other.KeyPEM), "verify": false}))
		mustBeRefused(t, "mtls-mismatch", err, "tls_client_key")
	})
}

// mustFailRead reads creds/<name> and wants status with want in the error.
func mustFailRead(t *testing.T, name string, status int, want string) {
	t.Helper()
	_, err := env.vault.Logical().Read(mountPath + "/creds/" + name)
	if err == nil {
		t.Fatalf("creds/%s: a token was served", name)
	}
	re := responseError(t, err)
	if re.StatusCode != status || !strings.Contains(re.Error(), want) {
		t.Fatalf("creds/%s: want %d naming %s, got %d: %v", name, status, want, re.StatusCode, err)
	}
	noSecrets(t, "creds/"+name+"'s error", re.Error())
}

// mustBeRefused wants a config write's err to be a 400 naming field, with
// nothing stored.
func mustBeRefused(t *testing.T, name string, err error, field string) {
	t.Helper()
	if err == nil {
		t.Cleanup(func() { _, _ = env.vault.Logical().Delete(mountPath + "/config/" + name) })
		t.Fatalf("config/%s was stored; want a 400 naming %s", name, field)
	}
	re := responseError(t, err)
	if re.StatusCode != http.StatusBadRequest || !strings.Contains(re.Error(), field) {
		t.Fatalf("config/%s: want 400 naming %s, got %d: %v", name, field, re.StatusCode, err)
	}
	noSecrets(t, "config/"+name+"'s refusal", re.Error())
}
