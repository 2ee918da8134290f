package oauth

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/testkit"
)

func TestParseTokenResponseRefusesHostileText(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name      string
		token     interface{}
		tokenType interface{}
		want      []string
	}{
		{"LF in token", testkit.SecretPart + "\n", "Bearer", []string{`"access_token"`, "control character (U+000A)", "RFC 6749 A.12"}},
		{"header injection in token", testkit.SecretPart + "\r\nX-Evil: 1", "Bearer", []string{`"access_token"`, "control character (U+000D)"}},
		{"NUL in token", testkit.SecretPart + "\x00", "Bearer", []string{"control character (U+0000)"}},
		{"tab in token", "\t" + testkit.SecretPart, "Bearer", []string{"control character (U+0009) at byte 0"}},
		{"DEL in token", testkit.SecretPart + "\x7f", "Bearer", []string{"control character (U+007F)"}},
		{"C1 control in token", testkit.SecretPart + "\u0085", "Bearer", []string{"control character (U+0085)"}},
		{"line separator in token", testkit.SecretPart + "\u2028", "Bearer", []string{"line-separator character (U+2028)"}},
		{"bidi override in token", "\u202e" + testkit.SecretPart, "Bearer", []string{"format or line-separator character (U+202E)"}},
		{"zero-width space in token", testkit.SecretPart + "\u200b", "Bearer", []string{"(U+200B)"}},
		{"non-ASCII token", testkit.SecretPart + "é", "Bearer", []string{"non-ASCII character (U+00E9)"}},
		{"token too long", strings.Repeat("a", maxAccessTokenBytes) + testkit.SecretPart, "Bearer",
			[]string{`"access_token"`, fmt.Sprintf("%d bytes", maxAccessTokenBytes+len(testkit.SecretPart)), fmt.Sprintf("more than the %d bytes", maxAccessTokenBytes)}},
		{"LF in token_type", testkit.SecretPart, "Bearer\n", []string{`"token_type"`, "control character (U+000A)", "RFC 6749 A.13"}},
		{"header injection in token_type", testkit.SecretPart, "Bearer\r\nX-Evil: " + testkit.SecretPart, []string{`"token_type"`, "control character (U+000D) at byte 6"}},
		{"line separator in token_type", testkit.SecretPart, "Bearer\u2028", []string{`"token_type"`, "(U+2028)"}},
		{"space inside token_type", testkit.SecretPart, "Bearer " + testkit.SecretPart, []string{`"token_type"`, "the character U+0020"}},
		{"number token_type", testkit.SecretPart, 1, []string{`"token_type" is a number, not a string`}},
		{"object token_type", testkit.SecretPart, map[string]interface{}{"v": testkit.SecretPart}, []string{`"token_type" is a object`}},
		{"token_type too long", testkit.SecretPart, strings.Repeat("B", maxTokenTypeBytes) + testkit.SecretPart, []string{`"token_type"`, "bytes of a token type"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := testkit.AnswerBody(t, map[string]interface{}{"access_token": c.token, "token_type": c.tokenType, "expires_in": 3600})
			got, err := ParseTokenResponse(body, Fields{Token: "access_token", ExpiresIn: "expires_in", TokenType: "token_type"}, now)
			if err == nil {
				t.Fatalf("accepted %+v", got)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), testkit.SecretPart) {
				t.Errorf("error quotes the answer: %q", err)
			}
		})
	}
}

func TestParseTokenResponseAcceptsPrintableText(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var vschar strings.Builder
	for r := rune(0x20); r <= 0x7e; r++ {
		vschar.WriteRune(r)
	}
	cases := []struct {
		name, token string
		tokenType   interface{}
		wantType    string
	}{
		{"every VSCHAR", vschar.String(), "Bearer", "Bearer"},
		{"token at the size cap", strings.Repeat("a", maxAccessTokenBytes), "Bearer", "Bearer"},
		{"token_type null", "x", nil, "Bearer"},
		{"token_type empty", "x", "", "Bearer"},
		{"token_type in spaces", "x", "  bearer ", "Bearer"},
		{"registered type name", "x", "DPoP", "DPoP"},
		{"type name with underscore", "x", "N_A", "N_A"},
		{"URI type (RFC 6749 8.1)", "x", "urn:ietf:params:oauth:token-type:jwt", "urn:ietf:params:oauth:token-type:jwt"},
		{"URL type", "x", "https://vendor.example/token-types/v1?x=1#y", "https://vendor.example/token-types/v1?x=1#y"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := testkit.AnswerBody(t, map[string]interface{}{"access_token": c.token, "token_type": c.tokenType})
			got, err := ParseTokenResponse(body, Fields{Token: "access_token", ExpiresIn: "expires_in", TokenType: "token_type"}, now)
			if err != nil {
				t.Fatal(err)
			}
			if got.AccessToken != c.token || got.TokenType != c.wantType {
				t.Fatalf("got type %q, token of %d bytes", got.TokenType, len(got.AccessToken))
			}
		})
	}
}

// TestParseTokenResponseLifetime: the earlier of expires_in and exp, both
// held to [MinLifetime, MaxLifetime], counted from when the request was sent.
func TestParseTokenResponseLifetime(t *testing.T) {
	// A send time with nanoseconds: exp is whole seconds, the lifetime must
	// still end exactly at exp.
	now := time.Date(2026, 1, 1, 0, 0, 0, 250_000_000, time.UTC)
	at := func(d time.Duration) string { return fmt.Sprint(now.Truncate(time.Second).Add(d).Unix()) }
	cases := []struct {
		name      string
		expiresIn interface{} // nil: absent
		exp       string      // raw JSON; "": not a JWT
		want      time.Duration
		fromJWT   bool
	}{
		{"opaque token, expires_in", 86400, "", 24 * time.Hour, false},
		{"opaque token, nothing", nil, "", 0, false},
		{"exp only (page 004 without expires_in)", nil, at(time.Hour), time.Hour - 250*time.Millisecond, true},
		{"exp earlier than expires_in", 86400, at(10 * time.Second), 10*time.Second - 250*time.Millisecond, true},
		{"expires_in earlier than exp", 60, at(time.Hour), time.Minute, false},
		{"equal: expires_in decides", 3600, at(time.Hour) + ".25", time.Hour, false},
		{"fractional exp", nil, at(time.Minute) + ".75", time.Minute + 500*time.Millisecond, true},
		{"quoted exp", 86400, `"` + at(time.Minute) + `"`, time.Minute - 250*time.Millisecond, true},
		{"exp null: no exp", 3600, "null", time.Hour, false},
		{"exp ten years ahead, at the bound", nil, at(MaxLifetime), MaxLifetime - 250*time.Millisecond, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok := "opaque-" + testkit.SecretPart
			if c.exp != "" {
				tok = testkit.JWTWithRawExp(c.exp, testkit.SecretPart)
			}
			members := map[string]interface{}{"access_token": tok}
			if c.expiresIn != nil {
				members["expires_in"] = c.expiresIn
			}
			got, err := ParseTokenResponse(testkit.AnswerBody(t, members), Fields{Token: "access_token", ExpiresIn: "expires_in", TokenType: "token_type"}, now)
			if err != nil {
				t.Fatal(err)
			}
			if got.Lifetime != c.want || got.FromJWT != c.fromJWT {
				t.Fatalf("lifetime %s fromJWT %v, want %s %v", got.Lifetime, got.FromJWT, c.want, c.fromJWT)
			}
		})
	}
}

func TestParseTokenResponseRefusesBadExp(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) string { return fmt.Sprint(now.Add(d).Unix()) }
	cases := []struct {
		name      string
		expiresIn interface{}
		exp       string
		want      string
	}{
		{"exp too close", nil, at(2 * time.Second), "JWT whose exp leaves 2s (at least 3s needed)"},
		{"exp too close despite a long expires_in", 86400, at(2 * time.Second), "JWT whose exp leaves 2s"},
		{"exp in the past", nil, at(-time.Hour), "JWT whose exp has already passed"},
		{"exp in the past despite expires_in", 3600, at(-time.Second), "JWT whose exp has already passed"},
		{"exp now", 3600, at(0), "JWT whose exp has already passed"},
		{"exp zero", 3600, "0", "JWT whose exp has already passed"},
		{"exp negative overflow", 3600, "-1e400", "JWT whose exp has already passed"},
		{"exp beyond ten years", nil, at(MaxLifetime + time.Second), "JWT whose exp is more than 10 years ahead"},
		{"exp beyond ten years despite expires_in", 3600, at(20 * MaxLifetime), "more than 10 years ahead"},
		{"exp beyond int64", nil, "1e30", "more than 10 years ahead"},
		{"exp beyond float64", nil, "1e400", "more than 10 years ahead"},
		{"exp a word", 3600, `"tomorrow"`, "exp claim is not a number of seconds"},
		{"exp a boolean", 3600, "true", "exp claim is not a number of seconds"},
		{"exp an object", 3600, `{"t":1}`, "exp claim is not a number of seconds"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			members := map[string]interface{}{"access_token": testkit.JWTWithRawExp(c.exp, testkit.SecretPart)}
			if c.expiresIn != nil {
				members["expires_in"] = c.expiresIn
			}
			got, err := ParseTokenResponse(testkit.AnswerBody(t, members), Fields{Token: "access_token", ExpiresIn: "expires_in", TokenType: "token_type"}, now)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %+v, err = %v, want %q", got, err, c.want)
			}
			if strings.Contains(err.Error(), testkit.SecretPart) {
				t.Fatalf("error quotes the token: %q", err)
			}
		})
	}
}

// TestResponseHeadersCapped: a token endpoint sending ~1 MB of headers
// fails the request at maxResponseHeaderBytes instead of being read whole,
// over HTTP/1.1 and HTTP/2.
func TestResponseHeadersCapped(t *testing.T) {
	pad := strings.Repeat("p", 1000)
	huge := func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i < 1000; i++ {
			w.Header().Set(fmt.Sprintf("X-Pad-%d", i), pad)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"x"}`))
	}
	modest := func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i < 16; i++ { // 16 KB: within the cap
			w.Header().Set(fmt.Sprintf("X-Pad-%d", i), pad)
		}
		_, _ = w.Write([]byte(`{"access_token":"x"}`))
	}
	for _, proto := range []string{"HTTP/1.1", "HTTP/2.0"} {
		for _, c := range []struct {
			name     string
			handler  http.HandlerFunc
			uncapped bool // the control: net/http's own 10 MB limit
			fails    bool
		}{{"1 MB of headers", huge, false, true}, {"1 MB of headers, uncapped", huge, true, false}, {"16 KB of headers", modest, false, false}} {
			t.Run(proto+"/"+c.name, func(t *testing.T) {
				srv := httptest.NewUnstartedServer(c.handler)
				cfg := &Config{}
				if proto == "HTTP/2.0" {
					srv.EnableHTTP2 = true
					srv.StartTLS()
					cfg.CACert = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
				} else {
					srv.Start()
				}
				t.Cleanup(srv.Close)
				client, err := standaloneClient(cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(client.HTTPClient.CloseIdleConnections)
				if tr := client.HTTPClient.Transport.(*http.Transport); tr.MaxResponseHeaderBytes != maxResponseHeaderBytes {
					t.Fatalf("MaxResponseHeaderBytes = %d", tr.MaxResponseHeaderBytes)
				} else if c.uncapped {
					tr.MaxResponseHeaderBytes = 0
				}
				// One attempt, so the test sees the transport's own error;
				// a timeout no loaded machine hits (a 1 MB control answer
				// over TLS under -race took over 500 ms on a busy CI box).
				client.RetryMax = 0
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
				if err != nil {
					t.Fatal(err)
				}
				resp, err := client.Do(req)
				if !c.fails {
					if err != nil {
						t.Fatal(err)
					}
					defer resp.Body.Close()
					if resp.Proto != proto {
						t.Fatalf("spoke %s, want %s", resp.Proto, proto)
					}
					return
				}
				if err == nil {
					resp.Body.Close()
					t.Fatalf("read %d headers", len(resp.Header))
				}
				// HTTP/1.1 says "server response headers exceeded 65536
				// bytes"; HTTP/2 ends the connection (the uncapped control
				// shows the cap is why).
				if msg := err.Error(); !strings.Contains(msg, "headers exceeded") && !strings.Contains(msg, "PROTOCOL_ERROR") &&
					!strings.Contains(msg, "header list larger") {
					t.Fatalf("failed, but not on the headers: %v", err)
				}
				if coded := transportError("big", err, newRedactor(&Config{})); codedStatus(coded) != http.StatusBadGateway {
					t.Fatalf("surfaces as %v (status %d), want a 502", coded, codedStatus(coded))
				}
			})
		}
	}
}

// TestCleanCutsOnRuneBoundary: a vendor message of multi-byte runes cut at
// MaxVendorMessage stays valid UTF-8 and loses no more than the split rune.
func TestCleanCutsOnRuneBoundary(t *testing.T) {
	for _, c := range []struct{ name, prefix, r string }{
		{"2-byte runes", "a", "é"},
		{"3-byte runes, cut after the first byte", "a", "日"},
		{"3-byte runes, cut after the second byte", "ab", "日"},
		{"4-byte runes", "abc", "𝄞"},
		{"ASCII", "", "x"},
	} {
		t.Run(c.name, func(t *testing.T) {
			msg := c.prefix + strings.Repeat(c.r, MaxVendorMessage+1)
			got := Clean(msg)
			kept := strings.TrimSuffix(got, "...")
			if !utf8.ValidString(got) || kept == got || !strings.HasPrefix(msg, kept) {
				t.Fatalf("clean gave %q", got)
			}
			if len(kept) > MaxVendorMessage || len(kept) <= MaxVendorMessage-len(c.r) {
				t.Fatalf("kept %d bytes, want the most whole runes within %d", len(kept), MaxVendorMessage)
			}
			// The same through a vendor's RFC 6749 error body.
			body, _ := json.Marshal(map[string]string{"error": "invalid_client", "error_description": msg})
			if detail := vendorErrorDetail(body, newRedactor(&Config{})); !utf8.ValidString(detail) {
				t.Fatalf("vendorErrorDetail gave invalid UTF-8: %q", detail)
			}
		})
	}
	if got := Clean("short é message"); got != "short é message" {
		t.Fatalf("a short message was altered: %q", got)
	}
}
