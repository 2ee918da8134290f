//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/vendorsim"
)

// metricsPolicy is the README's policy for the scrape job: the metrics
// and nothing else.
const metricsPolicy = `path "oauthvendor/metrics" {
  capabilities = ["read"]
}
`

// scrapeToken creates a token holding only metricsPolicy.
func scrapeToken(t *testing.T) string {
	t.Helper()
	if err := env.vault.Sys().PutPolicy("oauthvendor-metrics", metricsPolicy); err != nil {
		t.Fatal(err)
	}
	s, err := env.vault.Auth().Token().Create(&api.TokenCreateRequest{
		Policies: []string{"oauthvendor-metrics"}, NoDefaultPolicy: true, TTL: "1h",
	})
	if err != nil {
		t.Fatal(err)
	}
	return s.Auth.ClientToken
}

// TestPrometheusScrapesTheMount: a real Prometheus scrapes
// /v1/oauthvendor/metrics through Vault with a metrics-only token, and
// what it stores equals what the vendor simulator counted, after a
// verified write, cached reads, a rotate and a vendor failure. Then
// `vault list -detailed` shows the connection's state.
func TestPrometheusScrapesTheMount(t *testing.T) {
	const name, vendor = "prom-agentsync", vendorsim.AgentSync
	token := scrapeToken(t)
	checkMetricsOnlyToken(t, token)
	prom := startPrometheus(t, token)
	before := env.sim.stats(t, vendor)

	// A stored config has its series at 0 before its first use, so that
	// its first failure is an increase() from 0.
	configureVendor(t, "prom-quiet", vendorsim.AlertSite, nil)
	prom.waitFor(t, map[string]float64{
		`oauthvendor_grants_total{config="prom-quiet",result="failure"}`: 0,
		`oauthvendor_reads_total{config="prom-quiet",source="error"}`:    0,
	})

	configureVendor(t, name, vendor, map[string]any{"verify": true})
	for range 3 {
		readCreds(t, name)
	}
	rot, err := env.vault.Logical().Write(mountPath+"/rotate/"+name, nil)
	if err != nil {
		t.Fatalf("rotate: %v", err)
	}
	exp, err := time.Parse(time.RFC3339, rot.Data["expires_at"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if got := expiresAt(t, readCreds(t, name)); !got.Equal(exp) {
		t.Fatalf("read after rotate expires at %v, rotate said %v", got, exp)
	}
	sel := fmt.Sprintf(`{config=%q}`, name)
	seen := prom.waitFor(t, map[string]float64{
		`up{job="oauthvendor"}`: 1,
		`floor(oauthvendor_token_expiry_timestamp_seconds` + sel + `)`: float64(exp.Unix()),
	})
	t.Logf("prometheus after rotate: %v", seen)

	// Rejected credentials (401, never retried): rotate tries at once and
	// fails, the next read gets the back-off's error.
	env.sim.setKnobs(t, vendor, map[string]any{"fault": string(vendorsim.FaultStatus), "status": 401})
	if _, err := env.vault.Logical().Write(mountPath+"/rotate/"+name, nil); err == nil {
		t.Fatal("rotate against a refusing vendor succeeded")
	}
	// A create the vendor refuses stores nothing and makes no series.
	ghost := operatorConfig(t, vendor)
	ghost["verify"] = true
	if _, err := env.vault.Logical().Write(mountPath+"/config/prom-ghost", ghost); err == nil {
		_, _ = env.vault.Logical().Delete(mountPath + "/config/prom-ghost")
		t.Fatal("a create against a refusing vendor was stored")
	}
	if _, err := env.vault.Logical().Read(mountPath + "/creds/" + name); err == nil {
		t.Fatal("read after a failed rotate got a token")
	}

	after := env.sim.stats(t, vendor)
	requests, issued := after.TokenRequests-before.TokenRequests, after.TokensIssued-before.TokensIssued
	if requests != 4 || issued != 2 {
		t.Fatalf("the simulator saw %d token requests and issued %d tokens, want 4 and 2 (verify, rotate, failed rotate, refused create)", requests, issued)
	}
	mine := requests - 1 // the refused create's verify grant is not the config's
	seen = prom.waitFor(t, map[string]float64{
		`oauthvendor_grants_total{config="` + name + `",result="success"}`:          float64(issued),
		`oauthvendor_grants_total{config="` + name + `",result="failure"}`:          float64(mine - issued),
		`oauthvendor_token_requests_total` + sel:                                    float64(mine),
		`oauthvendor_grant_duration_seconds_count` + sel:                            float64(mine),
		`oauthvendor_reads_total{config="` + name + `",source="cache"}`:             4,
		`oauthvendor_reads_total{config="` + name + `",source="error"}`:             1,
		`oauthvendor_reads_total{config="` + name + `",source="grant"}`:             0,
		`count(oauthvendor_token_expiry_timestamp_seconds` + sel + `) or vector(0)`: 0,
		`count({config="prom-ghost"}) or vector(0)`:                                 0,
	})
	t.Logf("prometheus after the vendor failure (simulator: %d requests, %d tokens): %v", requests, issued, seen)

	checkStatusListDetailed(t, name)
}

// checkMetricsOnlyToken: the scrape token reads the metrics, as a raw
// Prometheus text body, and nothing else; no token reads nothing.
func checkMetricsOnlyToken(t *testing.T, token string) {
	t.Helper()
	get := func(path, token string) (int, string, string) {
		req, _ := http.NewRequest(http.MethodGet, env.vaultAddr+"/v1/"+mountPath+"/"+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := httpClient(10 * time.Second).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type") + resp.Header.Get("X-Vault-Raw-Error"), string(body)
	}
	if code, ct, body := get("metrics", token); code != http.StatusOK || !strings.HasPrefix(ct, "text/plain; version=0.0.4") || !strings.Contains(body, `oauthvendor_build_info{version="`+env.version+`"} 1`) {
		t.Fatalf("metrics with the scrape token: HTTP %d %q\n%s", code, ct, body)
	}
	if code, _, _ := get("creds/any", token); code != http.StatusForbidden {
		t.Fatalf("the scrape token reads creds: HTTP %d, want 403", code)
	}
	if code, _, _ := get("metrics", ""); code != http.StatusForbidden {
		t.Fatalf("metrics without a token: HTTP %d, want 403", code)
	}
}

// checkStatusListDetailed runs the operator's `vault list -detailed
// oauthvendor/status` with the real CLI.
func checkStatusListDetailed(t *testing.T, failing string) {
	t.Helper()
	okName := "list-ok"
	configureVendor(t, okName, vendorsim.AlertSite, nil)
	readCreds(t, okName)
	cmd := exec.Command(env.vaultBin, "list", "-detailed", mountPath+"/status")
	cmd.Env = append(os.Environ(), "VAULT_ADDR="+env.vaultAddr, "VAULT_TOKEN="+env.rootToken)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("vault list -detailed: %v\n%s", err, out)
	}
	t.Logf("vault list -detailed %s/status:\n%s", mountPath, out)
	rows := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			rows[f[0]] = line
		}
	}
	if row := rows[failing]; !containsAll(row, "backing-off", "HTTP 401") {
		t.Errorf("the failing connection's row: %q", row)
	}
	f := strings.Fields(rows[okName])
	if len(f) != 4 || f[3] != "ok" || f[2] != "n/a" || !expiresInFuture(f[1]) {
		t.Errorf("the healthy connection's row: %q (want its expires_at, no error, state ok)", rows[okName])
	}
}

func expiresInFuture(raw string) bool {
	at, err := time.Parse(time.RFC3339, raw)
	return err == nil && at.After(time.Now())
}
