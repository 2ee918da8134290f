package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/testproc"
	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/vendorsim"
)

const (
	ourPlugin     = "vault-plugin-secrets-oauthvendor"
	minimalPlugin = "vault-plugin-secrets-benchminimal"
	// minimalVersion is bench/minimalplugin's Version.
	minimalVersion = "v1.0.0"
	ourMount       = "oauthvendor"
	minimalMount   = "benchmin"
)

// env is the one Vault dev server and vendor simulator of a bench run.
type env struct {
	dir string

	sim    *testproc.Process
	simURL string

	vault     *testproc.Process
	vaultAddr string
	token     string
	api       *api.Client

	// load is the load generator's client: keep-alive, enough idle
	// connections per host for every concurrent reader.
	load *http.Client
	// ctl talks to the simulator's /_sim/ endpoints.
	ctl *http.Client
}

func newLoadClient(maxConns int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        maxConns,
			MaxIdleConnsPerHost: maxConns,
			IdleConnTimeout:     5 * time.Minute,
			DisableCompression:  true,
		},
		Timeout: 60 * time.Second,
	}
}

// startEnv starts the simulator and Vault and does the operator's setup.
// The returned env is never nil: stop it even when err is not nil.
func startEnv(ctx context.Context, o *options) (*env, error) {
	e := &env{dir: o.workDir, ctl: &http.Client{Timeout: 30 * time.Second}, load: newLoadClient(max(o.maxConcurrency(), o.fanin) + 16)}
	if err := e.startSim(o.simBin); err != nil {
		return e, err
	}
	if err := e.startVault(o); err != nil {
		return e, err
	}
	return e, e.setup(ctx, o)
}

func (e *env) stop() {
	if e.vault != nil {
		e.vault.StopWithin(15 * time.Second)
	}
	if e.sim != nil {
		e.sim.StopWithin(5 * time.Second)
	}
}

func (e *env) startSim(bin string) error {
	addrFile := filepath.Join(e.dir, "sim.addr")
	p, err := testproc.Start(e.dir, "sim.log", bin, "-addr-file", addrFile)
	if err != nil {
		return fmt.Errorf("vendorsim: %w", err)
	}
	e.sim = p
	if e.simURL, err = p.WaitFile(addrFile, 20*time.Second); err != nil {
		return fmt.Errorf("vendorsim: %w (see %s/sim.log)", err, e.dir)
	}
	return nil
}

func (e *env) startVault(o *options) error {
	hcl := fmt.Sprintf("plugin_directory = %q\ndisable_mlock = true\n", o.pluginDir)
	cfg := filepath.Join(e.dir, "vault.hcl")
	if err := os.WriteFile(cfg, []byte(hcl), 0o600); err != nil {
		return err
	}
	e.token = "bench-" + randomHex(12)
	var lastErr error
	for range 3 {
		port, err := testproc.FreePortPair()
		if err != nil {
			return err
		}
		e.vaultAddr = "http://127.0.0.1:" + strconv.Itoa(port)
		p, err := testproc.Start(e.dir, "vault.log", o.vaultBin, "server", "-dev", "-dev-no-store-token",
			"-dev-listen-address=127.0.0.1:"+strconv.Itoa(port), "-dev-root-token-id="+e.token, "-config="+cfg)
		if err != nil {
			return err
		}
		if lastErr = p.WaitHTTP(e.vaultAddr+"/v1/sys/health", 90*time.Second); lastErr == nil {
			e.vault = p
			return nil
		}
		p.StopWithin(5 * time.Second)
	}
	return fmt.Errorf("vault server: %w (see %s/vault.log)", lastErr, e.dir)
}

// setup does what an operator does: both plugins registered by sha256 and
// version and mounted pinned to it, a small KV secret, and the simulator's
// vendors configured.
func (e *env) setup(ctx context.Context, o *options) error {
	c, err := testproc.VaultClient(e.vaultAddr, e.token)
	if err != nil {
		return err
	}
	e.api = c
	for _, p := range []struct{ name, version, mount string }{
		{ourPlugin, o.pluginVersion, ourMount},
		{minimalPlugin, minimalVersion, minimalMount},
	} {
		sum, err := fileSHA256(filepath.Join(o.pluginDir, p.name))
		if err != nil {
			return err
		}
		if err := testproc.RegisterAndMount(ctx, c, p.name, sum, p.version, p.mount); err != nil {
			return err
		}
	}
	// The same three short strings as a creds answer.
	_, err = c.Logical().WriteWithContext(ctx, "secret/data/small", map[string]interface{}{
		"data": map[string]interface{}{
			"access_token": "kv0123456789abcdef0123456789abcd",
			"token_type":   "Bearer",
			"expires_at":   "2099-01-01T00:00:00Z",
		},
	})
	return err
}

// runningVersion is the version Vault reports for the plugin serving mount.
func (e *env) runningVersion(ctx context.Context, mount string) string {
	m, err := e.api.Sys().GetMountWithContext(ctx, mount)
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return m.RunningVersion
}

func (e *env) vaultVersion(ctx context.Context) string {
	s, err := e.api.Sys().SealStatusWithContext(ctx)
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return s.Version
}

// vendorConfig is the config/<name> body for one of the simulator's
// vendors, with its credentials as the simulator hands them out.
func (e *env) vendorConfig(vendor string, extra map[string]interface{}) (map[string]interface{}, error) {
	var creds vendorsim.Credentials
	if err := e.simCall(http.MethodGet, "/_sim/credentials/"+vendor, nil, &creds); err != nil {
		return nil, err
	}
	body := vendorsim.OperatorConfig(vendor, e.simURL, creds)
	if body == nil {
		return nil, fmt.Errorf("no bench config for vendor %q", vendor)
	}
	for k, v := range extra {
		body[k] = v
	}
	return body, nil
}

func (e *env) configure(ctx context.Context, name, vendor string, extra map[string]interface{}) error {
	body, err := e.vendorConfig(vendor, extra)
	if err != nil {
		return err
	}
	if _, err := e.api.Logical().WriteWithContext(ctx, ourMount+"/config/"+name, body); err != nil {
		return fmt.Errorf("config/%s: %w", name, err)
	}
	return nil
}

// tokenStatus is what status/<name> says about the cached token.
type tokenStatus struct {
	Grants    int
	MintedAt  time.Time
	ExpiresAt time.Time
	RefreshAt time.Time
}

func (e *env) status(ctx context.Context, name string) (*tokenStatus, error) {
	s, err := e.api.Logical().ReadWithContext(ctx, ourMount+"/status/"+name)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, fmt.Errorf("status/%s: no answer", name)
	}
	st := &tokenStatus{}
	if n, ok := s.Data["grants"].(json.Number); ok {
		g, _ := n.Int64()
		st.Grants = int(g)
	}
	for key, dst := range map[string]*time.Time{"minted_at": &st.MintedAt, "expires_at": &st.ExpiresAt, "refresh_at": &st.RefreshAt} {
		if v, _ := s.Data[key].(string); v != "" {
			if *dst, err = time.Parse(time.RFC3339, v); err != nil {
				return nil, fmt.Errorf("status/%s %s: %w", name, key, err)
			}
		}
	}
	return st, nil
}

// leaseCount lists the leases under prefix (sys/leases/lookup/<prefix>/).
func (e *env) leaseCount(ctx context.Context, prefix string) (int, error) {
	s, err := e.api.Logical().ListWithContext(ctx, "sys/leases/lookup/"+prefix+"/")
	if err != nil || s == nil {
		return 0, err
	}
	keys, _ := s.Data["keys"].([]interface{})
	return len(keys), nil
}

func (e *env) revokePrefix(ctx context.Context, prefix string) error {
	return e.api.Sys().RevokePrefixWithContext(ctx, prefix)
}

// simKnobs replaces a vendor's knobs in the simulator.
func (e *env) simKnobs(vendor string, knobs map[string]string) error {
	return e.simCall(http.MethodPost, "/_sim/knobs/"+vendor, knobs, nil)
}

// simTokenRequests is the simulator's count of requests that reached
// vendor's token endpoint.
func (e *env) simTokenRequests(vendor string) (int, error) {
	var st struct {
		TokenRequests int `json:"token_requests"`
	}
	err := e.simCall(http.MethodGet, "/_sim/stats/"+vendor, nil, &st)
	return st.TokenRequests, err
}

func (e *env) simCall(method, path string, in, out interface{}) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.simURL+path, body)
	if err != nil {
		return err
	}
	resp, err := e.ctl.Do(req)
	if err != nil {
		return fmt.Errorf("simulator %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("simulator %s: %s: %s", path, resp.Status, b)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
