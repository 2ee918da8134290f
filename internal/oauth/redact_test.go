package oauth

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The tests below judge the redactor by an oracle of their own: exposes
// decodes the output every way a reader could (escapes, base64 at every
// offset in both alphabets, hex, layered) and looks for the secret or any
// long run of it, so a test does not pass just because the redactor and
// the test share a list of encodings.

var (
	b64Run   = regexp.MustCompile(`[A-Za-z0-9+/_=-]{6,}`)
	hexRun   = regexp.MustCompile(`[0-9a-fA-F]{12,}`)
	uEscape  = regexp.MustCompile(`\\u[0-9a-fA-F]{4}`)
	xEscape  = regexp.MustCompile(`\\x[0-9a-fA-F]{2}`)
	pctByte  = regexp.MustCompile(`%[0-9a-fA-F]{2}`)
	backslsh = strings.NewReplacer(`\"`, `"`, `\\`, `\`, `\/`, `/`, `\n`, "\n")
)

// secretRuns: the secret and its runs of at least 6 characters that no
// text encoding changes (what a reader could recognise).
func secretRuns(secret string) []string {
	out := []string{secret, url.QueryEscape(secret)}
	for _, f := range strings.FieldsFunc(secret, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' || r == '~')
	}) {
		if len(f) >= 6 {
			out = append(out, f)
		}
	}
	return out
}

func exposes(text, secret string) bool { return exposesAt(text, secretRuns(secret), 3) }

func exposesAt(text string, runs []string, depth int) bool {
	for _, r := range runs {
		if strings.Contains(text, r) {
			return true
		}
	}
	if depth == 0 {
		return false
	}
	for _, v := range decodedViews(text) {
		if v != text && exposesAt(v, runs, depth-1) {
			return true
		}
	}
	return false
}

func decodedViews(text string) []string {
	unesc := uEscape.ReplaceAllStringFunc(text, func(m string) string {
		n, _ := strconv.ParseUint(m[2:], 16, 32)
		return string(rune(n))
	})
	unesc = xEscape.ReplaceAllStringFunc(unesc, func(m string) string {
		n, _ := strconv.ParseUint(m[2:], 16, 8)
		return string([]byte{byte(n)})
	})
	unesc = pctByte.ReplaceAllStringFunc(backslsh.Replace(unesc), func(m string) string {
		n, _ := strconv.ParseUint(m[1:], 16, 8)
		return string([]byte{byte(n)})
	})
	views := []string{html.UnescapeString(unesc), strings.Join(strings.Fields(text), "")}
	var decoded strings.Builder
	for _, run := range b64Run.FindAllString(text, -1) {
		std := strings.NewReplacer("-", "+", "_", "/", "=", "").Replace(run)
		for off := 0; off < 4 && off < len(std); off++ {
			s := std[off:]
			if len(s)%4 == 1 {
				s = s[:len(s)-1]
			}
			if b, err := base64.RawStdEncoding.DecodeString(s); err == nil {
				decoded.Write(b)
				decoded.WriteByte(' ')
			}
		}
	}
	for _, run := range hexRun.FindAllString(text, -1) {
		for off := 0; off < 2; off++ {
			s := run[off:]
			if b, err := hex.DecodeString(s[:len(s)/2*2]); err == nil {
				decoded.Write(b)
				decoded.WriteByte(' ')
			}
		}
	}
	return append(views, decoded.String())
}

func assertRedacted(t *testing.T, red *redactor, text string, secrets ...string) string {
	t.Helper()
	out := red.String(text)
	for _, s := range secrets {
		if exposes(out, s) {
			t.Fatalf("a secret survives in %q (from %q)", out, text)
		}
	}
	if !strings.Contains(out, redacted) {
		t.Fatalf("nothing was redacted in %q", out)
	}
	return out
}

// testSecrets: plain alphanumerics (the usual case), a secret full of
// characters every encoding rewrites, and one with no run of 6 at all.
var testSecrets = []string{
	"Zk3qT9vXw2LmP8rYc4NbH7sJ",
	`s3cr+t/&="x"<ab>&cdef-ghij~kl`,
	"a+b/c=d&e<f>g'h\"i",
}

func TestRedactorHex(t *testing.T) {
	for _, secret := range testSecrets {
		red := newRedactor(&Config{ClientID: "cid", ClientSecret: secret})
		form := "grant_type=client_credentials&client_id=cid&client_secret=" + url.QueryEscape(secret)
		jsonBody, _ := json.Marshal(map[string]string{"client_secret": secret})
		for _, body := range []string{form, string(jsonBody), secret} {
			h := hex.EncodeToString([]byte(body))
			for _, text := range []string{
				"request body (hex): " + h + " rejected",
				"request body (hex): " + strings.ToUpper(h) + " rejected",
				fmt.Sprintf("request body: % x", body), // a hex dump, bytes apart
				fmt.Sprintf("request body: % X", body),
			} {
				assertRedacted(t, red, text, secret)
			}
		}
	}
}

// escapeEvery writes every character of s as \u00XX (JavaScript's escape,
// some loggers' ASCII-only JSON), or only every other one.
func escapeEvery(s string, step int, upper bool) string {
	var b strings.Builder
	for i, r := range s {
		if i%step != 0 {
			b.WriteRune(r)
			continue
		}
		e := fmt.Sprintf(`\u%04x`, r)
		if upper {
			e = fmt.Sprintf(`\u%04X`, r)
		}
		b.WriteString(e)
	}
	return b.String()
}

func TestRedactorUnicodeEscapes(t *testing.T) {
	for _, secret := range testSecrets {
		red := newRedactor(&Config{Password: secret})
		var texts []string
		for _, step := range []int{1, 2, 3} {
			for _, upper := range []bool{false, true} {
				e := escapeEvery(secret, step, upper)
				texts = append(texts, `{"password":"`+e+`"}`, `invalid password \"`+e+`\"`)
			}
		}
		goJSON, _ := json.Marshal(map[string]string{"password": secret}) // <, >, & as \u003c...
		goJSONJSON, _ := json.Marshal(string(goJSON))
		texts = append(texts, string(goJSON), string(goJSONJSON),
			strings.ReplaceAll(string(goJSON), `\u003c`, `\u003C`),
			url.QueryEscape(string(goJSON)), // a JSON body percent-encoded into a query
			html.EscapeString(string(goJSON)),
			"echo: "+strings.ReplaceAll(url.QueryEscape(secret), "%", "%25"), // encoded twice
			"echo: "+strconv.QuoteToASCII(secret))
		for _, text := range texts {
			out := red.String(text)
			if exposes(out, secret) {
				t.Fatalf("secret survives in %q (from %q)", out, text)
			}
		}
	}
}

// TestRedactorBase64AnyAlignment: a vendor base64-encodes the whole request
// body, so the secret starts at any byte offset mod 3.
func TestRedactorBase64AnyAlignment(t *testing.T) {
	encs := map[string]*base64.Encoding{"std": base64.StdEncoding, "raw std": base64.RawStdEncoding, "url": base64.URLEncoding, "raw url": base64.RawURLEncoding}
	for _, secret := range testSecrets {
		for pad := 0; pad < 6; pad++ {
			id := "client" + strings.Repeat("x", pad)
			red := newRedactor(&Config{ClientID: id, ClientSecret: secret, APIKey: "ak-" + secret})
			form := "grant_type=client_credentials&client_id=" + id + "&client_secret=" + url.QueryEscape(secret)
			jsonBody, _ := json.Marshal(map[string]string{"client_id": id, "client_secret": secret})
			for _, body := range []string{form, form + "&scope=read", string(jsonBody), "x-api-key: ak-" + secret + "\r\n"} {
				for name, enc := range encs {
					text := `{"error":"invalid_request","error_description":"cannot parse ` + enc.EncodeToString([]byte(body)) + `"}`
					out := assertRedacted(t, red, text, secret)
					if !strings.Contains(out, "cannot parse [redacted]") {
						t.Errorf("%s, offset %d: the encoded body was not cut out alone: %q", name, pad, out)
					}
					// Wrapped into 76-column lines (MIME) the secret's encoding
					// may be split by a line break: withheld, never shown.
					wrapped := wrap(enc.EncodeToString([]byte(body)), 76)
					assertRedacted(t, red, "body:\n"+wrapped, secret)
				}
			}
		}
	}
}

func wrap(s string, n int) string {
	var lines []string
	for len(s) > n {
		lines, s = append(lines, s[:n]), s[n:]
	}
	return strings.Join(append(lines, s), "\r\n")
}

// TestRedactorBasicHeaderAnyAlignment: the Authorization header is itself a
// credential; a vendor that base64-encodes the request's headers wraps it
// at any alignment.
func TestRedactorBasicHeaderAnyAlignment(t *testing.T) {
	for _, secret := range testSecrets[:2] {
		for _, id := range []string{"c", "cl", "cli", "client id+1", "ÿ-id"} {
			red := newRedactor(&Config{ClientID: id, ClientSecret: secret})
			header := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret)))
			plain := base64.StdEncoding.EncodeToString([]byte(id + ":" + secret))
			for pad := 0; pad < 3; pad++ {
				for _, h := range []string{header, plain} {
					dump := "POST /token HTTP/1.1\r\nX-Pad: " + strings.Repeat("p", pad) + "\r\nAuthorization: Basic " + h + "\r\nAccept: */*\r\n"
					for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
						out := assertRedacted(t, red, "headers="+enc.EncodeToString([]byte(dump)), secret)
						if strings.Contains(out, h) || exposesAt(out, []string{h[len(h)-8:]}, 3) {
							t.Fatalf("the Basic header survives in %q", out)
						}
					}
					assertRedacted(t, red, "Authorization: Basic "+h, secret)
					assertRedacted(t, red, `{"authorization":"Basic `+strings.ReplaceAll(h, "/", `\/`)+`"}`, secret)
				}
			}
		}
	}
}

// TestVendorErrorDetailKnownFieldsOnly: the vendor's words come only from
// its error fields; a secret anywhere else in the body, or in a body that
// is not JSON, never reaches the message.
func TestVendorErrorDetailKnownFieldsOnly(t *testing.T) {
	secret := "Zk3qT9vXw2LmP8rYc4NbH7sJ"
	red := newRedactor(&Config{ClientID: "cid", ClientSecret: secret})
	form := "grant_type=client_credentials&client_id=cid&client_secret=" + secret
	cases := []struct{ body, want string }{
		{`{"request":{"client_secret":"` + secret + `"}}`, "JSON body without an error field"},
		{`{"echo":"` + form + `","status":400}`, "JSON body without an error field"},
		{`{"error":"invalid_client","echo":"` + secret + `"}`, "invalid_client"},
		{`{"errors":[{"code":"x","echo":"` + secret + `"}],"message":"bad login"}`, "bad login"},
		{`[{"message":"` + secret + `"}]`, "non-JSON"},
		{form, "non-JSON"},
		{"invalid client " + secret, "non-JSON"},
		{"<html><body>client_secret=" + secret + "</body></html>", "HTML page"},
		{`{"error":"invalid_client","error_description":"` + base64.StdEncoding.EncodeToString([]byte(form)) + `"}`, "invalid_client: [redacted]"},
		{`{"message":"bad secret \\u005a` + secret[1:] + `"}`, withheld},
	}
	for _, c := range cases {
		got := vendorErrorDetail([]byte(c.body), red)
		if exposes(got, secret) || !strings.Contains(got, c.want) {
			t.Errorf("body %q gave %q, want %q and no secret", c.body, got, c.want)
		}
	}
}

// TestRedactorExtraSecrets: a value in cfg.secrets() (a secret header or
// parameter value once config.go lists them) is redacted exactly like the
// client secret, Basic form aside.
func TestRedactorExtraSecrets(t *testing.T) {
	for _, secret := range testSecrets {
		asClient := redactorFor([]string{secret}, "", "")
		asExtra := redactorFor([]string{"other-secret-value", secret}, "", "")
		for _, text := range texts(secret) {
			if a, b := asClient.String(text), asExtra.String(text); a != b || exposes(b, secret) {
				t.Fatalf("%q: as client secret %q, as extra value %q", text, a, b)
			}
		}
	}
	// Through newRedactor, every value cfg.secrets() lists is covered.
	cfg := &Config{ClientSecret: "cs-Zk3qT9vXw2LmP8", APIKey: "ak-Zk3qT9vXw2LmP8", Password: "pw-Zk3qT9vXw2LmP8",
		DeviceCode: "dc-Zk3qT9vXw2LmP8", RefreshToken: "rt-Zk3qT9vXw2LmP8", Code: "co-Zk3qT9vXw2LmP8", CodeVerifier: "cv-Zk3qT9vXw2LmP8"}
	red := newRedactor(cfg)
	for _, s := range cfg.secrets() {
		for _, text := range texts(s) {
			assertRedacted(t, red, text, s)
		}
	}
}

// texts are echoes of a secret in the forms the tests above cover.
func texts(secret string) []string {
	j, _ := json.Marshal(map[string]string{"v": secret})
	return []string{
		"echo " + secret,
		"echo " + url.QueryEscape(secret),
		string(j),
		escapeEvery(secret, 2, true),
		hex.EncodeToString([]byte(secret)),
		"b=" + base64.StdEncoding.EncodeToString([]byte("ab"+secret)),
		"b=" + base64.RawURLEncoding.EncodeToString([]byte("a"+secret+"xyz")),
	}
}

// TestRedactorShortSecrets: below minFragment a secret is replaced where an
// exact encoding of it appears, and nowhere else: five characters found
// inside decoded text would match far too often by chance.
func TestRedactorShortSecrets(t *testing.T) {
	secret := "k3y+9"
	red := newRedactor(&Config{APIKey: secret})
	for _, enc := range Encodings(secret) {
		if out := red.String("got " + enc + " here"); out != "got [redacted] here" {
			t.Errorf("exact encoding %q: %q", enc, out)
		}
	}
	if len(red.matcher().runs) != 0 || len(red.matcher().tokens) != 0 {
		t.Fatalf("a short secret has runs %q or tokens %q", red.matcher().runs, red.matcher().tokens)
	}
	for _, text := range []string{"k3y", `\u006b3y+9`, "rate limited: 9 requests"} {
		if out := red.String(text); out != text {
			t.Errorf("%q became %q", text, out)
		}
	}
}

// TestRedactorLeavesOrdinaryText: escapes, percent signs, entities and other
// base64 (a JWT, a request id) are not taken for a secret.
func TestRedactorLeavesOrdinaryText(t *testing.T) {
	red := newRedactor(&Config{ClientID: "cid", ClientSecret: testSecrets[0], APIKey: testSecrets[1], Password: testSecrets[2]})
	for _, text := range []string{
		"invalid_client: client authentication failed",
		`invalid_request: field \u0022scope\u0022 must be one of read, write &amp; admin (100% required)`,
		"request id 5f2b7c9e-0a1d-4c3e-9b8f-7d6e5c4b3a21, trace " + jwtWithExp(1767225600),
		"unterminated \\u12 and %zz and &bogus;",
	} {
		if out := red.String(text); out != text {
			t.Errorf("%q became %q", text, out)
		}
	}
}

// TestRedactorLazyAndSmall: tables are built on the first String call, not
// per config, and stay small for the configs of a large mount.
func TestRedactorLazyAndSmall(t *testing.T) {
	long := strings.Repeat("Zk3qT9vXw2LmP8rY", 4) // 64 characters
	cfg := &Config{ClientID: "client-id-0123456789", ClientSecret: long, APIKey: "ak" + long, Password: `p+/&="` + long}
	red := newRedactor(cfg)
	if red.m != nil || red.secretSet != nil {
		t.Fatal("tables or secret copies built before first use")
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if exposes(red.String("echo "+long), long) {
				t.Error("secret survived")
			}
		}()
	}
	wg.Wait()
	size := 0
	for _, list := range [][]string{red.m.variants, red.m.tokens, red.m.runs} {
		for _, s := range list {
			size += len(s) + 16
		}
	}
	if size > 24<<10 {
		t.Fatalf("%d bytes of tables for one config", size)
	}
	t.Logf("%d bytes of tables, %d variants, %d tokens, %d runs", size, len(red.m.variants), len(red.m.tokens), len(red.m.runs))
}

// TestHostTextMatchesAnyCase: host names reach error text lower-cased (an
// x509 error lists the names the vendor's certificate is valid for), so a
// secret there escapes String's exact match (issue 17.3). HostText, which
// transportError uses, cuts each long run of a secret in any case, and
// leaves ordinary host names alone.
func TestHostTextMatchesAnyCase(t *testing.T) {
	const secret = "SecretIn+HostName42"
	red := newRedactor(&Config{ClientSecret: secret})
	text := `Post "https://idp.example.com/token": tls: failed to verify certificate: x509: certificate is valid for ` +
		`secretin.hostname42.evil.example, SECRETIN.example, not idp.example.com`
	if out := red.String(text); !strings.Contains(out, "hostname42") {
		t.Fatalf("String cut a lower-cased run (%q): the case is then not what this test shows", out)
	}
	out := red.HostText(text)
	low := strings.ToLower(out)
	for _, run := range []string{"secretin", "hostname42"} {
		if strings.Contains(low, run) {
			t.Fatalf("HostText left %q in %q", run, out)
		}
	}
	if !strings.Contains(out, "idp.example.com") || !strings.Contains(out, "evil.example") {
		t.Fatalf("HostText cut more than the secret's runs: %q", out)
	}
	coded := transportError("x", errors.New(text), red)
	if low := strings.ToLower(coded.Error()); strings.Contains(low, "hostname42") || strings.Contains(low, "secretin") {
		t.Fatalf("transportError quotes the secret's runs in another case: %q", coded.Error())
	}
	// Short runs ("42") and secrets without long runs are left to String.
	if out := newRedactor(&Config{ClientSecret: "ab+cd"}).HostText("AB.example CD"); out != "AB.example CD" {
		t.Fatalf("a short secret's letters were cut from host text: %q", out)
	}
}

// TestWithheldDescriptionKeepsTheOAuthError: a description withheld
// because a run of the secret is an ordinary word in it ("authentication")
// hid invalid_client too, so a wrong secret looked like anything else
// (issue 17.9). The code is named when registered, or a short token of
// letters and underscores sharing no fragment with a secret.
func TestWithheldDescriptionKeepsTheOAuthError(t *testing.T) {
	const secret = "q7+authentication+Zx"
	red := newRedactor(&Config{ClientID: "cid", ClientSecret: secret})
	desc := `,"error_description":"Client authentication failed"}`
	cases := []struct{ code, want string }{
		{"invalid_client", "invalid_client: " + withheld},
		{"slow_down", "slow_down: " + withheld},           // RFC 8628 3.5
		{"invalid_target", "invalid_target: " + withheld}, // RFC 8693 2.2.2
		{"account_locked", "account_locked: " + withheld}, // a vendor's own
		{"AUTHENTICATION_error", withheld},                // holds a run of the secret, in another case
		{"thentic_failure", withheld},                     // holds a fragment of one
		{"bad client", withheld},                          // not a token
		{strings.Repeat("x", maxCodeLen+1), withheld},     // not short
	}
	// A code that is an encoding of a run of the secret: base64 of
	// "XVlBzgbai" holds no raw fragment, but the redactor cuts it.
	encRed := newRedactor(&Config{ClientID: "cid", ClientSecret: "q7+XVlBzgbai+authentication"})
	if got := vendorErrorDetail([]byte(`{"error":"WFZsQnpnYmFp"`+desc), encRed); got != withheld {
		t.Errorf("a base64 run of the secret as the code: %q, want %q", got, withheld)
	}
	for _, c := range cases {
		got := vendorErrorDetail([]byte(`{"error":"`+c.code+`"`+desc), red)
		if got != c.want {
			t.Errorf("error %q: %q, want %q", c.code, got, c.want)
		}
	}
}
