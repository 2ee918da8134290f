//go:build e2e

package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/vendorsim"
)

// The failure paths of API.md ("Failures and back-off", "Writes") seen
// through a real Vault: back-off after rejected credentials, the token's
// clock starting when the request was sent, a delete racing a grant, a
// failed rotate, concurrent partial writes.

var nextAttemptRE = regexp.MustCompile(`next attempt at (\S+)`)

// vendorFailure checks that err is Vault's answer to a vendor failure:
// HTTP status, a message naming the config, and when the next attempt is
// due (returned parsed).
func vendorFailure(t *testing.T, err error, status int, name string) (string, time.Time) {
	t.Helper()
	if err == nil {
		t.Fatalf("want HTTP %d for config %s, got success", status, name)
	}
	re := responseError(t, err)
	msg := strings.Join(re.Errors, "; ")
	if re.StatusCode != status {
		t.Errorf("HTTP %d (%s), want %d", re.StatusCode, msg, status)
	}
	if !strings.Contains(msg, name) {
		t.Errorf("error does not name config %s: %s", name, msg)
	}
	m := nextAttemptRE.FindStringSubmatch(msg)
	if m == nil {
		return msg, time.Time{}
	}
	at, perr := time.Parse(time.RFC3339, m[1])
	if perr != nil {
		t.Errorf("next attempt at %q: %v", m[1], perr)
	}
	return msg, at
}

// statusTime parses an RFC 3339 time out of status/<name>.
func statusTime(t *testing.T, st map[string]any, key string) time.Time {
	t.Helper()
	raw, _ := st[key].(string)
	at, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		t.Fatalf("status %s %q: %v", key, raw, err)
	}
	return at
}

// statusCode is the HTTP status Vault answers a GET of mountPath/path with.
func statusCode(t *testing.T, path string) int {
	t.Helper()
	code, _ := rawRequest(t, http.MethodGet, mountPath+"/"+path, nil)
	return code
}

// listKeys is `vault list mountPath/path`.
func listKeys(t *testing.T, path string) []string {
	t.Helper()
	s, err := env.vault.Logical().List(mountPath + "/" + path)
	if err != nil {
		t.Fatalf("listing %s: %v", path, err)
	}
	if s == nil {
		return nil
	}
	raw, _ := s.Data["keys"].([]any)
	out := make([]string, 0, len(raw))
	for _, k := range raw {
		if s, ok := k.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// A vendor that rejects the credentials, and no token cached: one vendor
// request, then 20 readers over ~5 s get the same 502 with when to try
// again and the vendor is not asked (password grants lock accounts). A
// fixed vendor is not asked either until rotate, which tries at once.
func TestFailureRejectedCredentialsBackOff(t *testing.T) {
	const (
		name   = "alation-rejected"
		vendor = vendorsim.Alation
		reads  = 20
	)
	env.sim.setKnobs(t, vendor, map[string]any{"fault": "status", "status": 401})
	// verify=false: the vendor is asked first by a reader, not the write.
	configureVendor(t, name, vendor, map[string]any{"verify": false})
	before := env.sim.tokenRequests(t, vendor)

	first := time.Now()
	var firstDone time.Time
	var next time.Time
	for i := range reads {
		if i > 0 {
			time.Sleep(250 * time.Millisecond)
		}
		s, err := env.vault.Logical().Read(mountPath + "/creds/" + name)
		if err == nil {
			t.Fatalf("read %d: got a secret (keys %v) from a vendor that rejects the credentials", i, keys(dataOf(s)))
		}
		msg, at := vendorFailure(t, err, http.StatusBadGateway, name)
		if i == 0 {
			firstDone = time.Now()
			next = at
			t.Logf("first reader got: %s", msg)
		}
		if at.IsZero() {
			t.Errorf("read %d: error without \"next attempt at\": %s", i, msg)
		} else if !at.Equal(next) {
			t.Errorf("read %d: next attempt at %s, the first reader was told %s", i, at.Format(time.RFC3339), next.Format(time.RFC3339))
		}
	}
	spent := time.Since(first)
	if n := env.sim.tokenRequests(t, vendor) - before; n != 1 {
		t.Errorf("%d reads over %s made %d token requests at the vendor, want 1", reads, spent.Round(time.Millisecond), n)
	}

	st := readStatus(t, name)
	if st["state"] != "backing-off" {
		t.Errorf("status state = %v, want backing-off", st["state"])
	}
	if n := jsonNumber(t, st["consecutive_failures"]); n != 1 {
		t.Errorf("status consecutive_failures = %d, want 1", n)
	}
	if cached, _ := st["token_cached"].(bool); cached {
		t.Errorf("status token_cached = true after only failures")
	}
	stNext := statusTime(t, st, "next_attempt_at")
	// 30 s from the failed grant, which ran during the first read; RFC 3339
	// drops the fraction.
	lo, hi := first.Add(29*time.Second), firstDone.Add(30*time.Second)
	if stNext.Before(lo) || stNext.After(hi) {
		t.Errorf("status next_attempt_at %s, want 30 s after the first read: in [%s, %s]",
			stNext.Format(time.RFC3339), lo.Format(time.RFC3339), hi.Format(time.RFC3339))
	}
	if !stNext.Equal(next) {
		t.Errorf("status next_attempt_at %s, readers were told %s", stNext.Format(time.RFC3339), next.Format(time.RFC3339))
	}

	// The vendor is fixed, but the back-off still holds for readers.
	env.sim.postKnobs(t, vendor, map[string]any{})
	before = env.sim.tokenRequests(t, vendor)
	_, err := env.vault.Logical().Read(mountPath + "/creds/" + name)
	vendorFailure(t, err, http.StatusBadGateway, name)
	if n := env.sim.tokenRequests(t, vendor) - before; n != 0 {
		t.Errorf("a read during the back-off asked the vendor %d times, want 0", n)
	}

	// rotate tries at once.
	began := time.Now()
	rot, err := env.vault.Logical().Write(mountPath+"/rotate/"+name, nil)
	took := time.Since(began)
	if err != nil {
		t.Fatalf("rotate/%s with the vendor fixed: %v", name, err)
	}
	if took > 5*time.Second {
		t.Errorf("rotate took %s: it waited for the back-off", took)
	}
	if rot == nil || rot.Data["expires_at"] == nil {
		t.Errorf("rotate answer has no expires_at: %v", dataOf(rot))
	} else if _, ok := rot.Data["access_token"]; ok {
		t.Errorf("rotate answer holds the token")
	}
	if n := env.sim.tokenRequests(t, vendor) - before; n != 1 {
		t.Errorf("rotate made %d token requests, want 1", n)
	}
	tok := accessToken(t, readCreds(t, name))
	if !env.sim.valid(t, vendor, tok) {
		t.Errorf("the token served after rotate is not valid at the simulator")
	}
	if n := env.sim.tokenRequests(t, vendor) - before; n != 1 {
		t.Errorf("the read after rotate asked the vendor again: %d token requests in all, want 1", n)
	}
	st = readStatus(t, name)
	if st["state"] != "ok" || jsonNumber(t, st["consecutive_failures"]) != 0 {
		t.Errorf("status after rotate: state %v consecutive_failures %v, want ok 0", st["state"], st["consecutive_failures"])
	}
	t.Logf("%d reads in %s: 1 token request; next attempt %s; rotate %s", reads, spent.Round(time.Millisecond),
		next.Format(time.RFC3339), took.Round(time.Millisecond))
}

// A slow vendor (3 s) issuing 12 s tokens: the token's clock starts when the
// request was sent, so expires_at and the lease end are never later than
// the vendor's own expiry. Alation reports expires_in only; AgentSync's
// token is a JWT whose exp is the simulator's own expiry of that token.
func TestFailureTokenAgeCountsFromSend(t *testing.T) {
	const (
		latency  = 3 * time.Second
		lifetime = 12 * time.Second
	)
	cases := []struct{ name, vendor string }{
		{"alation-age", vendorsim.Alation},
		{"agentsync-age", vendorsim.AgentSync},
	}
	for _, c := range cases {
		env.sim.setKnobs(t, c.vendor, map[string]any{"latency": latency.String(), "lifetime": lifetime.String()})
		configureVendor(t, c.name, c.vendor, map[string]any{"verify": false})
	}
	type result struct {
		sent, got time.Time
		sec       *api.Secret
		err       error
	}
	results := make([]result, len(cases))
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &results[i]
			r.sent = time.Now()
			r.sec, r.err = env.vault.Logical().Read(mountPath + "/creds/" + c.name)
			r.got = time.Now()
		}()
	}
	wg.Wait()

	for i, c := range cases {
		t.Run(c.vendor, func(t *testing.T) {
			r := results[i]
			if r.err != nil || r.sec == nil {
				t.Fatalf("creds/%s: %v", c.name, r.err)
			}
			took := r.got.Sub(r.sent)
			if took < latency {
				t.Fatalf("the read took %s, less than the vendor latency %s: the knob did not apply", took, latency)
			}
			tok := accessToken(t, r.sec)
			exp := expiresAt(t, r.sec)
			// The plugin sent its request after r.sent; 1 s of slack for
			// Vault's routing. Counting from the answer would be +3 s.
			if limit := r.sent.Add(lifetime + time.Second); exp.After(limit) {
				t.Errorf("expires_at %s is later than request start + %s (%s): counted from the answer (took %s)",
					exp.Format(time.RFC3339), lifetime, limit.Format(time.RFC3339), took.Round(time.Millisecond))
			}
			if floor := r.sent.Add(lifetime - 2*time.Second); exp.Before(floor) {
				t.Errorf("expires_at %s is more than 2 s before request start + %s", exp.Format(time.RFC3339), lifetime)
			}
			// The sim mints after its latency: its expiry is at least this.
			vendorExp := r.sent.Add(latency + lifetime)
			if c.vendor == vendorsim.AgentSync {
				vendorExp = jwtExp(t, tok)
				if minted := r.sent.Add(latency + lifetime - time.Second); vendorExp.Before(minted) {
					t.Errorf("JWT exp %s: the simulator did not mint after its latency", vendorExp.Format(time.RFC3339))
				}
			}
			if exp.After(vendorExp) {
				t.Errorf("expires_at %s is later than the vendor's expiry %s", exp.Format(time.RFC3339), vendorExp.Format(time.RFC3339))
			}
			if !env.sim.valid(t, c.vendor, tok) {
				t.Errorf("the served token is not valid at the simulator")
			}

			ttl := time.Duration(r.sec.LeaseDuration) * time.Second
			if r.sec.LeaseDuration < 1 {
				t.Fatalf("lease TTL %d, want >= 1", r.sec.LeaseDuration)
			}
			// The lease started at the latest when the answer arrived.
			end := r.got.Add(ttl)
			if !end.Before(exp) {
				t.Errorf("lease (TTL %s) ends at %s, not before expires_at %s", ttl, end.Format(time.RFC3339Nano), exp.Format(time.RFC3339))
			}
			if !end.Before(vendorExp) {
				t.Errorf("lease ends at %s, not before the vendor's expiry %s", end.Format(time.RFC3339Nano), vendorExp.Format(time.RFC3339))
			}
			t.Logf("read took %s; expires_at = request start + %s; lease TTL %s; vendor expiry %s later",
				took.Round(time.Millisecond), exp.Sub(r.sent).Round(time.Millisecond), ttl, vendorExp.Sub(exp).Round(time.Millisecond))
		})
	}
}

// jwtExp is the exp claim of a JWT access token: when its issuer says it
// expires.
func jwtExp(t *testing.T, tok string) time.Time {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token is not a JWT (%d parts)", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("JWT claims: %v", err)
	}
	var claims struct {
		Exp int64 `json:"exp"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil || claims.Exp == 0 {
		t.Fatalf("JWT claims without exp: %v", err)
	}
	return time.Unix(claims.Exp, 0)
}

// A config deleted while a reader's grant is in flight: the delete waits
// for the grant, and nothing of the old config survives it (not the token,
// not the counts); re-created under the name it starts clean.
func TestFailureDeleteDuringGrant(t *testing.T) {
	const (
		name   = "agentsync-delete-race"
		vendor = vendorsim.AgentSync
	)
	env.sim.setKnobs(t, vendor, map[string]any{"latency": "2s"})
	configureVendor(t, name, vendor, map[string]any{"verify": false})
	before := env.sim.tokenRequests(t, vendor)

	type result struct {
		sec *api.Secret
		err error
		at  time.Time
	}
	done := make(chan result, 1)
	go func() {
		s, err := env.vault.Logical().Read(mountPath + "/creds/" + name)
		done <- result{s, err, time.Now()}
	}()
	time.Sleep(300 * time.Millisecond)
	if st := readStatus(t, name); st["state"] != "refreshing" || st["grant_started_at"] == "" {
		t.Errorf("status during the grant: state %v grant_started_at %q, want refreshing and a time", st["state"], st["grant_started_at"])
	}
	delStart := time.Now()
	_, delErr := env.vault.Logical().Delete(mountPath + "/config/" + name)
	delEnd := time.Now()
	r := <-done
	if delErr != nil {
		t.Fatalf("deleting config/%s during a grant: %v", name, delErr)
	}
	delTook := delEnd.Sub(delStart)
	// The grant had ~1.7 s to go when the delete arrived.
	if delTook < time.Second {
		t.Errorf("the delete returned after %s, before the grant in flight finished", delTook.Round(time.Millisecond))
	}
	var raced string
	if r.err == nil && r.sec != nil {
		raced, _ = r.sec.Data["access_token"].(string)
	}
	t.Logf("delete took %s; the racing read ended %s after the delete and got: token=%v err=%v",
		delTook.Round(time.Millisecond), r.at.Sub(delEnd).Round(time.Millisecond), raced != "", r.err)
	if n := env.sim.tokenRequests(t, vendor) - before; n != 1 {
		t.Errorf("%d token requests for one racing read, want 1", n)
	}

	for _, p := range []string{"config/" + name, "status/" + name, "creds/" + name} {
		if code := statusCode(t, p); code != http.StatusNotFound {
			t.Errorf("GET %s after the delete: HTTP %d, want 404", p, code)
		}
	}
	for _, p := range []string{"config/", "status/"} {
		if slices.Contains(listKeys(t, p), name) {
			t.Errorf("vault list %s still shows %s after the delete", p, name)
		}
	}

	// Re-created: counts start at zero, and its first read is a new grant
	// (the raced token did not survive the delete).
	env.sim.postKnobs(t, vendor, map[string]any{})
	configureVendor(t, name, vendor, map[string]any{"verify": false})
	st := readStatus(t, name)
	if g, f := jsonNumber(t, st["grants"]), jsonNumber(t, st["failures"]); g != 0 || f != 0 {
		t.Errorf("re-created config: status grants %d failures %d, want 0 0", g, f)
	}
	if cached, _ := st["token_cached"].(bool); cached {
		t.Errorf("re-created config: status token_cached = true before any read")
	}
	before = env.sim.tokenRequests(t, vendor)
	tok := accessToken(t, readCreds(t, name))
	if n := env.sim.tokenRequests(t, vendor) - before; n != 1 {
		t.Errorf("first read of the re-created config made %d token requests, want 1", n)
	}
	if raced != "" && tok == raced {
		t.Errorf("the re-created config served the token of the deleted one")
	}
	if g := jsonNumber(t, readStatus(t, name)["grants"]); g != 1 {
		t.Errorf("re-created config after one read: status grants %d, want 1", g)
	}
}

// A rotate whose grant fails drops the cached token anyway: it answers the
// vendor's error (502), and readers get that failure with the back-off,
// never the old token.
func TestFailureRotateFailsServesNoOldToken(t *testing.T) {
	const (
		name   = "agentsync-rotate-fail"
		vendor = vendorsim.AgentSync
	)
	configureVendor(t, name, vendor, nil)
	faults := []struct {
		label string
		knobs map[string]any
		text  string // in the rotate error
	}{
		{"status-503", map[string]any{"fault": "status", "status": 503}, "503"},
		{"html-503", map[string]any{"fault": "html"}, "503"},
	}
	for _, f := range faults {
		t.Run(f.label, func(t *testing.T) {
			// A good token first, from rotate with the vendor healthy.
			env.sim.postKnobs(t, vendor, map[string]any{})
			if _, err := env.vault.Logical().Write(mountPath+"/rotate/"+name, nil); err != nil {
				t.Fatalf("rotate with a healthy vendor: %v", err)
			}
			old := accessToken(t, readCreds(t, name))
			if !env.sim.valid(t, vendor, old) {
				t.Fatalf("the token before the fault is not valid at the simulator")
			}

			env.sim.setKnobs(t, vendor, f.knobs)
			before := env.sim.tokenRequests(t, vendor)
			_, err := env.vault.Logical().Write(mountPath+"/rotate/"+name, nil)
			rotated := time.Now()
			msg, _ := vendorFailure(t, err, http.StatusBadGateway, name)
			if !strings.Contains(msg, f.text) {
				t.Errorf("rotate error does not carry the vendor's %s: %s", f.text, msg)
			}
			// One grant; the HTTP client retries a 5xx within it (1 + 3
			// attempts, httpclient.go retryMax).
			grant := env.sim.tokenRequests(t, vendor) - before
			if grant < 1 || grant > 4 {
				t.Errorf("the failed rotate made %d token requests, want 1 to 4", grant)
			}

			s, err := env.vault.Logical().Read(mountPath + "/creds/" + name)
			readAt := time.Now()
			if err == nil {
				if got, _ := dataOf(s)["access_token"].(string); got == old {
					t.Fatalf("after a failed rotate the reader got the old token")
				}
				t.Fatalf("after a failed rotate the read succeeded (keys %v), want 502", keys(dataOf(s)))
			}
			rmsg, next := vendorFailure(t, err, http.StatusBadGateway, name)
			if next.IsZero() {
				t.Errorf("read after the failed rotate: no \"next attempt at\": %s", rmsg)
			}
			if strings.Contains(rmsg, old) {
				t.Errorf("the error holds the old token")
			}
			// The transient back-off is 1 s: a read that soon is answered
			// without asking the vendor.
			if n := env.sim.tokenRequests(t, vendor) - before - grant; readAt.Sub(rotated) < 900*time.Millisecond && n != 0 {
				t.Errorf("the read during the back-off asked the vendor %d times, want 0", n)
			}
			st := readStatus(t, name)
			if cached, _ := st["token_cached"].(bool); cached {
				t.Errorf("status token_cached = true after a failed rotate")
			}
			if s := st["state"]; s != "backing-off" && s != "failing" {
				t.Errorf("status state %v after a failed rotate, want backing-off or failing", s)
			}
			if n := jsonNumber(t, st["consecutive_failures"]); n != 1 {
				t.Errorf("status consecutive_failures %d, want 1", n)
			}
			t.Logf("rotate: %s | read: %s", msg, rmsg)
		})
	}
}

// Two partial writes of one config at once, ten times: one sets max_ttl,
// the other scopes (a request field: verified against a slowed vendor
// first). Both are there afterwards, and the credentials too.
func TestFailureConcurrentPartialWrites(t *testing.T) {
	const (
		name   = "alation-partial-writes"
		vendor = vendorsim.Alation
		rounds = 10
	)
	configureVendor(t, name, vendor, nil)
	// The scopes write's verification grant (API.md "Writes") takes 200 ms,
	// a window for the max_ttl write to land in.
	env.sim.setKnobs(t, vendor, map[string]any{"latency": "200ms"})
	began := time.Now()
	for i := range rounds {
		ttl := 600 + i
		scopes := []string{fmt.Sprintf("read-%d", i), fmt.Sprintf("write-%d", i)}
		var (
			wg   sync.WaitGroup
			errs [2]error
		)
		start := make(chan struct{})
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			if i%2 == 1 {
				time.Sleep(50 * time.Millisecond) // while the scopes write verifies
			}
			_, errs[0] = env.vault.Logical().Write(mountPath+"/config/"+name, map[string]any{"max_ttl": fmt.Sprintf("%ds", ttl)})
		}()
		go func() {
			defer wg.Done()
			<-start
			_, errs[1] = env.vault.Logical().Write(mountPath+"/config/"+name, map[string]any{"scopes": strings.Join(scopes, ",")})
		}()
		close(start)
		wg.Wait()
		for j, err := range errs {
			if err != nil {
				t.Fatalf("round %d: write %d: %v", i, j, err)
			}
		}
		s, err := env.vault.Logical().Read(mountPath + "/config/" + name)
		if err != nil || s == nil {
			t.Fatalf("round %d: reading config/%s: %v", i, name, err)
		}
		if got := jsonNumber(t, s.Data["max_ttl"]); got != int64(ttl) {
			t.Errorf("round %d: max_ttl = %d, want %d (lost to the concurrent scopes write)", i, got, ttl)
		}
		var got []string
		raw, _ := s.Data["scopes"].([]any)
		for _, v := range raw {
			str, _ := v.(string)
			got = append(got, str)
		}
		if !slices.Equal(got, scopes) {
			t.Errorf("round %d: scopes = %v, want %v (lost to the concurrent max_ttl write)", i, s.Data["scopes"], scopes)
		}
		if set, _ := s.Data["client_secret_set"].(bool); !set {
			t.Errorf("round %d: client_secret_set = %v", i, s.Data["client_secret_set"])
		}
	}
	took := time.Since(began)
	// The config the writes left still gets a token, with the last scopes.
	sec := readCreds(t, name)
	if !env.sim.valid(t, vendor, accessToken(t, sec)) {
		t.Errorf("the token after the writes is not valid at the simulator")
	}
	if limit := 600 + rounds - 1; sec.LeaseDuration > limit {
		t.Errorf("lease TTL %d exceeds the written max_ttl %d", sec.LeaseDuration, limit)
	}
	t.Logf("%d rounds of concurrent max_ttl + scopes writes in %s", rounds, took.Round(time.Millisecond))
}

// API.md "Writes": with verify (the default) a write that changes a
// credential runs the grant first. A refused grant fails the write with
// 400 naming the config and the vendor's status, nothing is stored, and
// the old config's token keeps serving; an accepted one is the token
// readers get.
func TestFailureWriteVerifiesWithVendor(t *testing.T) {
	const (
		name   = "agentsync-verify"
		vendor = vendorsim.AgentSync
	)
	t.Cleanup(func() { _, _ = env.vault.Logical().Delete(mountPath + "/config/" + name) })
	path := mountPath + "/config/" + name

	// A new config the vendor refuses is not stored.
	env.sim.setKnobs(t, vendor, map[string]any{"fault": "status", "status": 401})
	before := env.sim.tokenRequests(t, vendor)
	_, err := env.vault.Logical().Write(path, operatorConfig(t, vendor))
	if err == nil {
		t.Errorf("writing a new config/%s the vendor refuses (401) succeeded, want HTTP 400", name)
	} else if re := responseError(t, err); re.StatusCode != http.StatusBadRequest ||
		!containsAll(strings.Join(re.Errors, "; "), name, "401") {
		t.Errorf("refused write: HTTP %d %v, want 400 naming %s and the vendor's 401", re.StatusCode, re.Errors, name)
	}
	if n := env.sim.tokenRequests(t, vendor) - before; n != 1 {
		t.Errorf("the write made %d token requests, want 1 (the verification grant)", n)
	}
	if code := statusCode(t, "config/"+name); code != http.StatusNotFound {
		t.Errorf("config/%s after a refused first write: HTTP %d, want 404 (nothing stored)", name, code)
	}

	// An accepted write: its verified token is what readers get.
	env.sim.postKnobs(t, vendor, map[string]any{})
	before = env.sim.tokenRequests(t, vendor)
	if _, err := env.vault.Logical().Write(path, operatorConfig(t, vendor)); err != nil {
		t.Fatalf("writing config/%s: %v", name, err)
	}
	if n := env.sim.tokenRequests(t, vendor) - before; n != 1 {
		t.Errorf("the accepted write made %d token requests, want 1 (the verification grant)", n)
	}
	tok := accessToken(t, readCreds(t, name))
	if n := env.sim.tokenRequests(t, vendor) - before; n != 1 {
		t.Errorf("the first read after a verified write asked the vendor again (%d requests in all, want 1)", n)
	}

	// A wrong client_secret is refused and changes nothing.
	before = env.sim.tokenRequests(t, vendor)
	_, err = env.vault.Logical().Write(path, map[string]any{"client_secret": "not-the-secret-" + randomHex(8)})
	if err == nil {
		t.Errorf("writing a client_secret the vendor refuses succeeded, want HTTP 400")
	} else if re := responseError(t, err); re.StatusCode != http.StatusBadRequest {
		t.Errorf("refused client_secret write: HTTP %d %v, want 400", re.StatusCode, re.Errors)
	}
	s, err := env.vault.Logical().Read(mountPath + "/creds/" + name)
	if err != nil {
		t.Fatalf("creds/%s after a refused write: %v (the old config should keep serving)", name, err)
	}
	if got := accessToken(t, s); got != tok {
		t.Errorf("after a refused write the reader got another token, want the old config's cached one")
	}
	if !env.sim.valid(t, vendor, accessToken(t, s)) {
		t.Errorf("the token served after a refused write is not valid at the simulator")
	}
	if n := env.sim.tokenRequests(t, vendor) - before; n != 1 {
		t.Errorf("refused write + read made %d token requests, want 1 (the verification grant)", n)
	}
}

// dataOf is a secret's data, nil-safe.
func dataOf(s *api.Secret) map[string]any {
	if s == nil {
		return nil
	}
	return s.Data
}
