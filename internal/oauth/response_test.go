package oauth

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

func jwtWithExp(exp int64) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." +
		enc([]byte(fmt.Sprintf(`{"sub":"c","exp":%d}`, exp))) + ".c2lnbmF0dXJl"
}

func TestParseTokenResponse(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	jwt := jwtWithExp(now.Add(50 * time.Minute).Unix())
	cases := []struct {
		name, body           string
		tokenField, expField string
		wantToken, wantType  string
		wantLifetime         time.Duration
	}{
		{"alphasense (page 000)", `{"access_token":"123456-1234-12","token_type":"Bearer","expires_in":86400}`, "access_token", "expires_in", "123456-1234-12", "Bearer", 24 * time.Hour},
		{"model-portfolio camelCase, lower-case bearer (page 001)", `{"accessToken":"mp","expiresIn":86400,"tokenType":"bearer"}`, "accessToken", "expiresIn", "mp", "Bearer", 24 * time.Hour},
		{"alertsite: only access_token (page 002)", `{"access_token":"695573df9519132454d3f461179aaaf9"}`, "access_token", "expires_in", "695573df9519132454d3f461179aaaf9", "Bearer", 0},
		{"numeric string lifetime", `{"access_token":"x","expires_in":"3600"}`, "access_token", "expires_in", "x", "Bearer", time.Hour},
		{"agentsync JWT exp when expires_in is absent (page 004)", `{"access_token":"` + jwt + `"}`, "access_token", "expires_in", jwt, "Bearer", 50 * time.Minute},
		{"exp earlier than expires_in wins", `{"access_token":"` + jwt + `","expires_in":3600}`, "access_token", "expires_in", jwt, "Bearer", 50 * time.Minute},
		{"expires_in earlier than exp wins", `{"access_token":"` + jwt + `","expires_in":600}`, "access_token", "expires_in", jwt, "Bearer", 10 * time.Minute},
		{"dotted path", `{"data":{"token":"n","ttl":60}}`, "data.token", "data.ttl", "n", "Bearer", time.Minute},
		{"other token type kept", `{"access_token":"x","token_type":"MAC"}`, "access_token", "expires_in", "x", "MAC", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			typeField := "token_type"
			if c.tokenField == "accessToken" {
				typeField = "tokenType" // the model-portfolio API's camelCase
			}
			got, err := ParseTokenResponse([]byte(c.body), Fields{Token: c.tokenField, ExpiresIn: c.expField, TokenType: typeField}, now)
			if err != nil {
				t.Fatal(err)
			}
			if got.AccessToken != c.wantToken || got.TokenType != c.wantType || got.Lifetime != c.wantLifetime {
				t.Fatalf("got %+v", got)
			}
		})
	}
}

func TestParseTokenResponseRejects(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct{ name, body, want string }{
		{"empty", ``, "empty response body"},
		{"html", `<!DOCTYPE html><html>oops</html>`, "HTML page"},
		{"invalid json", `{"access_token":`, "not a JSON object"},
		{"array", `["x"]`, "not a JSON object"},
		{"no token", `{"token_type":"Bearer"}`, `no "access_token" field`},
		{"null token", `{"access_token":null}`, `no "access_token" field`},
		{"number token", `{"access_token":12345}`, "is a number, not a string"},
		{"object token", `{"access_token":{"v":"x"}}`, "is a object, not a string"},
		{"empty token", `{"access_token":"  "}`, "is empty"},
		{"negative expires_in", `{"access_token":"x","expires_in":-5}`, "at least 3 needed"},
		{"zero expires_in", `{"access_token":"x","expires_in":0}`, "at least 3 needed"},
		{"absurd expires_in", `{"access_token":"x","expires_in":1e30}`, "more than 10 years"},
		{"non-numeric expires_in", `{"access_token":"x","expires_in":"soon"}`, "not a number of seconds"},
		{"boolean expires_in", `{"access_token":"x","expires_in":true}`, "is a boolean"},
		{"expired JWT", `{"access_token":"` + jwtWithExp(now.Add(-time.Hour).Unix()) + `"}`, "JWT whose exp"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseTokenResponse([]byte(c.body), Fields{Token: "access_token", ExpiresIn: "expires_in", TokenType: "token_type"}, now)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
}

func TestRedactorEncodings(t *testing.T) {
	cfg := &Config{ClientID: "my id", ClientSecret: `s3cr+t/&="x"`, Password: "pässwörd<>", APIKey: "key-123456"}
	red := newRedactor(cfg)
	for _, s := range cfg.secrets() {
		for _, enc := range Encodings(s) {
			out := red.String("before " + enc + " after")
			if strings.Contains(out, enc) || !strings.Contains(out, redacted) {
				t.Errorf("encoding %q of a secret survived: %q", enc, out)
			}
		}
	}
	basic := base64.StdEncoding.EncodeToString([]byte("my+id:s3cr%2Bt%2F%26%3D%22x%22"))
	if out := red.String("Authorization: Basic " + basic); strings.Contains(out, basic) {
		t.Errorf("basic auth header survived: %q", out)
	}
}

// TestRedactorWithholdsUnlistedEncodings: a JSON body echoed inside a JSON
// error (escaped twice), or split as a form, still never shows a secret.
func TestRedactorWithholdsUnlistedEncodings(t *testing.T) {
	secret := `sim-alertsite-pass+/&="word-9d2c4b`
	red := newRedactor(&Config{Password: secret})
	body, _ := json.Marshal(map[string]string{"password": secret})
	once, _ := json.Marshal(string(body))
	twice, _ := json.Marshal(map[string]string{"error": "invalid_request", "error_description": string(once)})
	form := `{"form":{"{\"password\":\"sim-alertsite-pass /":[""],"\"word-9d2c4b\"}":[""]}}`
	for _, text := range []string{string(body), string(once), string(twice), form} {
		out := red.String(text)
		for _, frag := range []string{"sim-alertsite-pass", "word-9d2c4b"} {
			if strings.Contains(out, frag) {
				t.Fatalf("%q survived in %q", frag, out)
			}
		}
	}
	if out := red.String("invalid_client: client authentication failed"); out != "invalid_client: client authentication failed" {
		t.Fatalf("an ordinary message was altered: %q", out)
	}
}
