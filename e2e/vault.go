//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// writeConfig writes config/<name> through Vault's HTTP API, as an
// operator's `vault write` does, and deletes it when the test ends. Unless
// data says otherwise it writes verify=false: most tests count the read
// path's token requests or set the vendor's knobs after the write (the
// verify tests write verify=true).
func writeConfig(t testing.TB, name string, data map[string]any) {
	t.Helper()
	data = withVerify(data, false)
	if _, err := env.vault.Logical().Write(mountPath+"/config/"+name, data); err != nil {
		t.Fatalf("writing config/%s: %v", name, err)
	}
	t.Cleanup(func() {
		if _, err := env.vault.Logical().Delete(mountPath + "/config/" + name); err != nil {
			t.Errorf("deleting config/%s: %v", name, err)
		}
	})
}

// withVerify sets verify unless data already does.
func withVerify(data map[string]any, verify bool) map[string]any {
	out := map[string]any{"verify": verify}
	for k, v := range data {
		out[k] = v
	}
	return out
}

// configureVendor writes the operator's config for vendor under name, with
// extra fields on top.
func configureVendor(t testing.TB, name, vendor string, extra map[string]any) {
	t.Helper()
	data := operatorConfig(t, vendor)
	for k, v := range extra {
		data[k] = v
	}
	writeConfig(t, name, data)
}

// readCreds reads creds/<name> and fails the test on an error.
func readCreds(t testing.TB, name string) *api.Secret {
	t.Helper()
	s, err := env.vault.Logical().Read(mountPath + "/creds/" + name)
	if err != nil {
		t.Fatalf("reading creds/%s: %v", name, err)
	}
	if s == nil {
		t.Fatalf("reading creds/%s: no answer", name)
	}
	return s
}

// accessToken is the token in a creds answer.
func accessToken(t testing.TB, s *api.Secret) string {
	t.Helper()
	tok, _ := s.Data["access_token"].(string)
	if tok == "" {
		t.Fatalf("creds answer without access_token: keys %v", keys(s.Data))
	}
	return tok
}

// expiresAt is the creds answer's expires_at.
func expiresAt(t testing.TB, s *api.Secret) time.Time {
	t.Helper()
	raw, _ := s.Data["expires_at"].(string)
	at, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		t.Fatalf("creds expires_at %q: %v", raw, err)
	}
	return at
}

// readStatus reads status/<name>.
func readStatus(t testing.TB, name string) map[string]any {
	t.Helper()
	return readStatusVia(t, env.vault, name)
}

// readStatusVia reads status/<name> through c (a cluster node).
func readStatusVia(t testing.TB, c *api.Client, name string) map[string]any {
	t.Helper()
	s, err := c.Logical().Read(mountPath + "/status/" + name)
	if err != nil || s == nil {
		t.Fatalf("reading status/%s: %v", name, err)
	}
	return s.Data
}

// rawRequest sends method to /v1/<path> and returns the status and the raw
// body, whatever the status: for checks on exactly what Vault answers
// (error texts, write-only fields).
func rawRequest(t testing.TB, method, path string, data map[string]any) (int, string) {
	t.Helper()
	return rawRequestVia(t, env.vault, method, path, data)
}

// rawRequestVia is rawRequest through c (a cluster node).
func rawRequestVia(t testing.TB, c *api.Client, method, path string, data map[string]any) (int, string) {
	t.Helper()
	req := c.NewRequest(method, "/v1/"+path)
	if data != nil {
		if err := req.SetJSONBody(data); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := c.RawRequestWithContext(context.Background(), req)
	if resp == nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// responseError unwraps the HTTP status and messages of a failed call.
func responseError(t testing.TB, err error) *api.ResponseError {
	t.Helper()
	var re *api.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("want a Vault error response, got %v", err)
	}
	return re
}

// jsonNumber reads an int out of response data (the api client decodes
// numbers as json.Number).
func jsonNumber(t testing.TB, v any) int64 {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("want a number, got %T %v", v, v)
	}
	i, err := n.Int64()
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// eventually retries f every 250ms until it returns nil or limit passes.
func eventually(limit time.Duration, f func() error) (int, error) {
	deadline := time.Now().Add(limit)
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return attempt, err
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
