//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/testproc"
)

// promServer is a real Prometheus server (Debian's package, unpacked by
// scripts/prometheus-bin.sh) scraping the mount's metrics through Vault.
type promServer struct {
	addr string
	http *http.Client
}

// scrapeConfig is the README's scrape job: the metrics path through
// Vault's API, a Vault token (with the metrics-only policy) as the bearer
// token. The interval is short so that the test waits seconds.
const scrapeConfig = `global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: oauthvendor
    metrics_path: /v1/oauthvendor/metrics
    authorization:
      credentials_file: %s
    static_configs:
      - targets: [%q]
`

// startPrometheus runs Prometheus scraping Vault with token; it stops when
// the test ends.
func startPrometheus(t *testing.T, token string) *promServer {
	t.Helper()
	bin := os.Getenv("PROMETHEUS_BIN")
	if bin == "" {
		out, err := exec.Command(filepath.Join("..", "scripts", "prometheus-bin.sh")).Output()
		if err != nil {
			t.Fatalf("scripts/prometheus-bin.sh (it prints what to do on stderr): %v", err)
		}
		bin = strings.TrimSpace(string(out))
	}
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "vault-token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	vault, err := url.Parse(env.vaultAddr)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, scrapeConfig, tokenFile, vault.Host), 0o600); err != nil {
		t.Fatal(err)
	}
	port, err := testproc.FreePortPair()
	if err != nil {
		t.Fatal(err)
	}
	p := &promServer{addr: "http://127.0.0.1:" + strconv.Itoa(port), http: httpClient(10 * time.Second)}
	proc, err := testproc.Start(env.dir, "prometheus.log", bin, "--config.file="+cfg,
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address=127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatalf("starting prometheus: %v", err)
	}
	t.Cleanup(proc.Stop)
	if err := proc.WaitHTTP(p.addr+"/-/ready", 60*time.Second); err != nil {
		t.Fatalf("prometheus: %v (see prometheus.log in %s)", err, env.dir)
	}
	return p
}

// promSample is one series of an instant query's answer.
type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"` // [unix time, "value"]
}

func (s promSample) value() float64 {
	v, _ := strconv.ParseFloat(fmt.Sprint(s.Value[1]), 64)
	return v
}

// query runs an instant query through Prometheus's HTTP API.
func (p *promServer) query(q string) ([]promSample, error) {
	resp, err := p.http.Get(p.addr + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var doc struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []promSample `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.Status != "success" {
		return nil, fmt.Errorf("query %s: HTTP %d %s %v", q, resp.StatusCode, body, err)
	}
	return doc.Data.Result, nil
}

// waitFor polls until every query answers one series with its value (the
// scrape interval is 1 s; a loaded machine gets a minute), and returns
// the last answers for the log.
func (p *promServer) waitFor(t *testing.T, want map[string]float64) map[string]float64 {
	t.Helper()
	got := map[string]float64{}
	_, err := eventually(time.Minute, func() error {
		for q, w := range want {
			res, err := p.query(q)
			if err != nil {
				return err
			}
			if len(res) != 1 {
				return fmt.Errorf("%s: %d series, want 1: %v", q, len(res), res)
			}
			if got[q] = res[0].value(); got[q] != w {
				return fmt.Errorf("%s = %v, want %v", q, got[q], w)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("prometheus never showed the expected values: %v", err)
	}
	return got
}
