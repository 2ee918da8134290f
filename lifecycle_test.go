package oauthvendor

import (
	"strings"
	"testing"
	"time"
)

// Every state the lifecycle knows has a name, and status/<name> documents
// each: a state added to connState without both fails here.
func TestConnStatesNamedAndDocumented(t *testing.T) {
	doc := statusResponseFields["state"].Description
	seen := map[string]bool{}
	for s := stateOK; int(s) < len(connStateNames); s++ {
		name := s.String()
		if name == "" || seen[name] {
			t.Fatalf("state %d: name %q empty or repeated", s, name)
		}
		seen[name] = true
		if !strings.Contains(doc, name) {
			t.Errorf("status field state does not document %q: %s", name, doc)
		}
	}
	if len(seen) != 6 {
		t.Errorf("%d states, want ok, refreshing, serving-stale, backing-off, failing, needs-consent", len(seen))
	}
}

// grantStatus.state reads the stored record into exactly one state, in the
// order status/<name> has always reported them.
func TestConnStateFromRecord(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		st     grantStatus
		usable bool
		want   connState
	}{
		{"fresh", grantStatus{}, true, stateOK},
		{"no token yet", grantStatus{}, false, stateOK},
		{"grant in flight", grantStatus{GrantStartedAt: now.Add(-time.Second), ConsecutiveFailures: 2}, true, stateRefreshing},
		{"grant start older than the timeout", grantStatus{GrantStartedAt: now.Add(-time.Minute)}, false, stateOK},
		{"failed with a token", grantStatus{ConsecutiveFailures: 1, NextAttemptAt: now.Add(time.Minute)}, true, stateServingStale},
		{"failed without a token", grantStatus{ConsecutiveFailures: 1, NextAttemptAt: now.Add(time.Minute)}, false, stateBackingOff},
		{"back-off passed", grantStatus{ConsecutiveFailures: 1, NextAttemptAt: now.Add(-time.Second)}, false, stateFailing},
		{"refresh token refused, token left", grantStatus{ConsecutiveFailures: 1, NeedsConsent: true}, true, stateNeedsConsent},
		{"never consented", grantStatus{NeedsConsent: true}, false, stateNeedsConsent},
	}
	for _, c := range cases {
		if got := c.st.state(now, 30*time.Second, c.usable); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}
