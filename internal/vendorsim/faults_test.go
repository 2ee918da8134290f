package vendorsim

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// faultCase is one fault and what every vendor must then answer.
type faultCase struct {
	name   string
	knobs  Knobs
	status int
	issued int // tokens the sim records as issued
	check  func(t *testing.T, vendor string, a answer)
}

var faultCases = []faultCase{
	{"status default", Knobs{Fault: FaultStatus}, 401, 0, func(t *testing.T, v string, a answer) {
		errorText(t, v, 401, "invalid_client", a.body)
	}},
	{"status 500", Knobs{Fault: FaultStatus, Status: 500}, 500, 0, func(t *testing.T, v string, a answer) {
		errorText(t, v, 500, "server_error", a.body)
	}},
	{"status 403", Knobs{Fault: FaultStatus, Status: 403}, 403, 0, func(t *testing.T, v string, a answer) {
		errorText(t, v, 403, "access_denied", a.body)
	}},
	{"html", Knobs{Fault: FaultHTML}, 503, 0, func(t *testing.T, v string, a answer) {
		wantType(t, a, "text/html; charset=utf-8")
		if !strings.Contains(string(a.body), "<html>") {
			t.Errorf("not HTML: %s", a.body)
		}
	}},
	{"html 500", Knobs{Fault: FaultHTML, Status: 500}, 500, 0, func(t *testing.T, v string, a answer) {
		wantType(t, a, "text/html; charset=utf-8")
	}},
	{"empty", Knobs{Fault: FaultEmpty}, 200, 0, func(t *testing.T, v string, a answer) {
		if len(a.body) != 0 {
			t.Errorf("body %q", a.body)
		}
	}},
	{"invalid json", Knobs{Fault: FaultInvalidJSON}, 200, 0, func(t *testing.T, v string, a answer) {
		wantType(t, a, "application/json")
		if json.Valid(a.body) {
			t.Errorf("valid JSON: %s", a.body)
		}
	}},
	{"no token", Knobs{Fault: FaultNoToken}, 200, 0, func(t *testing.T, v string, a answer) {
		m := members(t, a.body)
		if _, ok := m[tokenField(v)]; ok || len(m) != len(wantSuccess[v].members)-1 {
			t.Errorf("body %s", a.body)
		}
	}},
	{"nonstring token", Knobs{Fault: FaultNonStringToken}, 200, 0, func(t *testing.T, v string, a answer) {
		raw := members(t, a.body)[tokenField(v)]
		if len(raw) == 0 || raw[0] == '"' {
			t.Errorf("token member %s", raw)
		}
	}},
	{"expires_in negative", Knobs{Fault: FaultExpiresIn, ExpiresInRaw: "-5"}, 200, 1, wantRawLifetime("-5")},
	{"expires_in huge", Knobs{Fault: FaultExpiresIn, ExpiresInRaw: "1e30"}, 200, 1, wantRawLifetime("1e30")},
	{"expires_in string", Knobs{Fault: FaultExpiresIn, ExpiresInRaw: `"abc"`}, 200, 1, wantRawLifetime(`"abc"`)},
	{"huge", Knobs{Fault: FaultHuge}, 200, 0, func(t *testing.T, v string, a answer) {
		if len(a.body) != 8<<20 || !json.Valid(a.body) {
			t.Errorf("body of %d bytes, valid=%v", len(a.body), json.Valid(a.body))
		}
	}},
	{"echo", Knobs{Fault: FaultEcho}, 400, 0, checkEcho},
	{"rate limit", Knobs{Fault: FaultRateLimit, RetryAfter: "7"}, 429, 0, func(t *testing.T, v string, a answer) {
		errorText(t, v, 429, "rate_limit_exceeded", a.body)
		if got := a.header.Get("Retry-After"); got != "7" {
			t.Errorf("Retry-After %q", got)
		}
	}},
	{"rate limit no retry-after", Knobs{Fault: FaultRateLimit}, 429, 0, func(t *testing.T, v string, a answer) {
		if _, ok := a.header["Retry-After"]; ok {
			t.Error("Retry-After sent although unset")
		}
	}},
	{"redirect", Knobs{Fault: FaultRedirect, RedirectTo: "https://evil.example/steal"}, 307, 0, func(t *testing.T, v string, a answer) {
		if got := a.header.Get("Location"); got != "https://evil.example/steal" {
			t.Errorf("Location %q", got)
		}
	}},
}

func wantType(t *testing.T, a answer, ct string) {
	t.Helper()
	if got := a.header.Get("Content-Type"); got != ct {
		t.Errorf("Content-Type %q, want %q", got, ct)
	}
}

// wantRawLifetime checks the lifetime member's raw text and that the token
// is real.
func wantRawLifetime(raw string) func(t *testing.T, v string, a answer) {
	return func(t *testing.T, v string, a answer) {
		name := specFor(v).lifetimeField
		if name == "" {
			name = "expires_in"
		}
		if got := string(members(t, a.body)[name]); got != raw {
			t.Errorf("%s = %s, want %s", name, got, raw)
		}
		tokenOf(t, v, a.body)
	}
}

// checkEcho verifies the error description carries the request, secrets
// included: that is the point of the fault (the plugin must not repeat it).
func checkEcho(t *testing.T, v string, a answer) {
	text := errorText(t, v, 400, "invalid_request", a.body)
	var e echoed
	mustDecode(t, []byte(text), &e)
	c := DefaultCredentials(v)
	if got := e.Headers["Authorization"]; len(got) != 1 || got[0] != "Bearer echo-me" {
		t.Errorf("headers %v", e.Headers)
	}
	if v == AlphaSense && e.Headers["X-Api-Key"][0] != c.APIKey {
		t.Errorf("x-api-key not echoed: %v", e.Headers)
	}
	secret := c.ClientSecret
	if secret == "" {
		secret = c.Password
	}
	if specFor(v).body == bodyForm {
		if e.Form["client_secret"][0] != secret {
			t.Errorf("form %v", e.Form)
		}
		return
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(e.Body), &body); err != nil || (body["client_secret"] != secret && body["password"] != secret) {
		t.Errorf("body %q", e.Body)
	}
}

func TestFaults(t *testing.T) {
	for _, fc := range faultCases {
		for _, vendor := range Vendors {
			t.Run(fc.name+"/"+vendor, func(t *testing.T) {
				sim, srv, _ := newTestSim(t)
				sim.SetKnobs(vendor, fc.knobs)
				req := goodTokenReq(vendor, DefaultCredentials(vendor)).build(t, srv.URL)
				req.Header.Set("Authorization", "Bearer echo-me")
				a := do(t, noRedirect, req)
				if a.status != fc.status {
					t.Fatalf("status %d, want %d: %.300s", a.status, fc.status, a.body)
				}
				fc.check(t, vendor, a)
				if got := sim.Stats(vendor); got.TokenRequests != 1 || got.TokensIssued != fc.issued {
					t.Errorf("stats %+v, want 1 request, %d issued", got, fc.issued)
				}
			})
		}
	}
}

func TestExpiresInFaultStillChecksCredentials(t *testing.T) {
	sim, srv, _ := newTestSim(t)
	sim.SetKnobs(AgentSync, Knobs{Fault: FaultExpiresIn, ExpiresInRaw: "0"})
	tr := goodTokenReq(AgentSync, DefaultCredentials(AgentSync))
	tr.params["client_secret"] = "nope"
	if a := do(t, http.DefaultClient, tr.build(t, srv.URL)); a.status != 401 {
		t.Fatalf("%d %s", a.status, a.body)
	}
}

func TestFaultCountRecovery(t *testing.T) {
	for _, vendor := range Vendors {
		t.Run(vendor, func(t *testing.T) {
			sim, srv, _ := newTestSim(t)
			sim.SetKnobs(vendor, Knobs{Fault: FaultStatus, Status: 503, FaultCount: 2})
			good := goodTokenReq(vendor, DefaultCredentials(vendor))
			for i := 0; i < 2; i++ {
				if a := do(t, http.DefaultClient, good.build(t, srv.URL)); a.status != 503 {
					t.Fatalf("request %d: %d, want 503", i, a.status)
				}
				if left := sim.Knobs(vendor).FaultCount; left != 1-i {
					t.Errorf("after %d faults FaultCount %d", i+1, left)
				}
			}
			if k := sim.Knobs(vendor); k.Fault != FaultNone {
				t.Errorf("fault not cleared: %+v", k)
			}
			for i := 0; i < 2; i++ {
				getToken(t, srv.URL, vendor)
			}
			if s := sim.Stats(vendor); s.TokenRequests != 4 || s.TokensIssued != 2 {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

func TestFaultCountZeroMeansAlways(t *testing.T) {
	sim, srv, _ := newTestSim(t)
	sim.SetKnobs(AlertSite, Knobs{Fault: FaultEmpty})
	for i := 0; i < 5; i++ {
		if a := do(t, http.DefaultClient, goodTokenReq(AlertSite, DefaultCredentials(AlertSite)).build(t, srv.URL)); len(a.body) != 0 {
			t.Fatalf("request %d answered %s", i, a.body)
		}
	}
}

func TestHangUntilClientGivesUp(t *testing.T) {
	sim, srv, _ := newTestSim(t)
	sim.SetKnobs(AgentSync, Knobs{Fault: FaultHang})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req := goodTokenReq(AgentSync, DefaultCredentials(AgentSync)).build(t, srv.URL).WithContext(ctx)
	start := time.Now()
	_, err := http.DefaultClient.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("answered after %s", d)
	}
}

func TestHangReleasedByReset(t *testing.T) {
	sim, srv, _ := newTestSim(t)
	sim.SetKnobs(Alation, Knobs{Fault: FaultHang})
	done := make(chan int, 1)
	go func() {
		resp, err := http.DefaultClient.Do(goodTokenReq(Alation, DefaultCredentials(Alation)).build(t, srv.URL))
		if err != nil {
			done <- -1
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	for sim.Stats(Alation).TokenRequests == 0 {
		time.Sleep(time.Millisecond)
	}
	sim.Reset()
	select {
	case status := <-done:
		if status != 503 {
			t.Fatalf("released with %d", status)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Reset did not release the hanging request")
	}
}

func TestLatency(t *testing.T) {
	sim, srv, _ := newTestSim(t)
	sim.SetKnobs(ModelPortfolio, Knobs{Latency: 80 * time.Millisecond})
	start := time.Now()
	getToken(t, srv.URL, ModelPortfolio)
	if d := time.Since(start); d < 80*time.Millisecond {
		t.Fatalf("answered after %s", d)
	}
}

func TestRetryAfterHTTPDate(t *testing.T) {
	sim, srv, _ := newTestSim(t)
	date := "Wed, 21 Oct 2015 07:28:00 GMT"
	sim.SetKnobs(AlphaSense, Knobs{Fault: FaultRateLimit, RetryAfter: date})
	a := do(t, http.DefaultClient, goodTokenReq(AlphaSense, DefaultCredentials(AlphaSense)).build(t, srv.URL))
	if a.status != 429 || a.header.Get("Retry-After") != date {
		t.Fatalf("%d %v", a.status, a.header)
	}
}

func TestRedirectDefaultsToAnotherHost(t *testing.T) {
	sim, srv, _ := newTestSim(t)
	sim.SetKnobs(AgentSync, Knobs{Fault: FaultRedirect})
	a := do(t, noRedirect, goodTokenReq(AgentSync, DefaultCredentials(AgentSync)).build(t, srv.URL))
	if a.status != 307 || !strings.HasPrefix(a.header.Get("Location"), "https://redirect.invalid/") {
		t.Fatalf("%d %q", a.status, a.header.Get("Location"))
	}
}
