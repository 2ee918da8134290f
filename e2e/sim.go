//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/vendorsim"
)

// simClient drives the simulator process through its /_sim/ control
// endpoints, and calls its protected APIs the way an application would.
type simClient struct {
	base string
	http *http.Client
}

func newSimClient(base string) *simClient {
	return &simClient{base: base, http: httpClient(10 * time.Second)}
}

func httpClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout}
}

// tokenURL is where a vendor's token endpoint lives on the simulator.
func (s *simClient) tokenURL(vendor string) string { return s.base + vendorsim.TokenPath(vendor) }

func (s *simClient) stats(t testing.TB, vendor string) vendorsim.Stats {
	t.Helper()
	var st vendorsim.Stats
	s.getJSON(t, "/_sim/stats/"+vendor, &st)
	return st
}

// tokenRequests counts the requests that reached vendor's token endpoint.
func (s *simClient) tokenRequests(t testing.TB, vendor string) int {
	t.Helper()
	return s.stats(t, vendor).TokenRequests
}

// valid asks the simulator whether it issued token for vendor and the token
// has not expired.
func (s *simClient) valid(t testing.TB, vendor, token string) bool {
	t.Helper()
	var v struct {
		Valid bool `json:"valid"`
	}
	s.getJSON(t, "/_sim/valid/"+vendor+"?token="+url.QueryEscape(token), &v)
	return v.Valid
}

// setKnobs replaces vendor's knobs (see vendorsim.Knobs: lifetime,
// latency, fault, fault_count, ...) and restores the defaults when the test
// ends, so that no fault leaks into the next test.
func (s *simClient) setKnobs(t testing.TB, vendor string, knobs map[string]any) {
	t.Helper()
	s.postKnobs(t, vendor, knobs)
	t.Cleanup(func() { s.postKnobs(t, vendor, map[string]any{}) })
}

func (s *simClient) postKnobs(t testing.TB, vendor string, knobs map[string]any) {
	t.Helper()
	body, err := json.Marshal(knobs)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.http.Post(s.base+"/_sim/knobs/"+vendor, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("setting %s knobs: %v", vendor, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("setting %s knobs %s: HTTP %d: %s", vendor, body, resp.StatusCode, msg)
	}
}

// callAPI GETs vendor's protected endpoint with the token and the headers
// its API wants on every call, and returns the status and body.
func (s *simClient) callAPI(t testing.TB, vendor, token string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.base+vendorsim.APIPath(vendor), nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := s.http.Do(req)
	if err != nil {
		t.Fatalf("calling the %s API: %v", vendor, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (s *simClient) getJSON(t testing.TB, path string, out any) {
	t.Helper()
	if err := s.getJSONErr(path, out); err != nil {
		t.Fatal(err)
	}
}

func (s *simClient) getJSONErr(path string, out any) error {
	resp, err := s.http.Get(s.base + path)
	if err != nil {
		return fmt.Errorf("simulator %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("simulator %s: HTTP %d: %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("simulator %s: %w", path, err)
	}
	return nil
}

// lastRequest is what the simulator tells about the last request that
// reached vendor's token endpoint: header and parameter names, values as
// digests (vendorsim.Digest).
func (s *simClient) lastRequest(t testing.TB, vendor string) vendorsim.LastRequestDigest {
	t.Helper()
	var d vendorsim.LastRequestDigest
	s.getJSON(t, "/_sim/last/"+vendor, &d)
	return d
}
