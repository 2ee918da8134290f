package oauthvendor

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/hashicorp/go-retryablehttp"
)

// jwtVendor is a vendor's token endpoint at its real host (the plugin's
// HTTP client is given it as its transport, so https://login.salesforce.com
// is never dialled): it records each request and, unless reply says
// otherwise, grants a token to an assertion that verifies against
// jwks/<name> under its header's kid, as the presets' vendors do with an
// uploaded key.
type jwtVendor struct {
	env  *testEnv
	name string
	// reply, when set, answers instead (status, JSON body).
	reply func(r *http.Request, form url.Values) (int, string)

	mu    sync.Mutex
	reqs  []*http.Request
	forms []url.Values
}

func installJWTVendor(env *testEnv, name string) *jwtVendor {
	v := &jwtVendor{env: env, name: name}
	env.b.tuneHTTP = func(c *retryablehttp.Client) {
		c.HTTPClient.Transport = v
		c.RetryMax = 0
	}
	return v
}

func (v *jwtVendor) RoundTrip(r *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	v.mu.Lock()
	v.reqs = append(v.reqs, r)
	v.forms = append(v.forms, form)
	n := len(v.forms)
	v.mu.Unlock()
	status, answer := http.StatusOK, fmt.Sprintf(`{"access_token":"tok-%d","token_type":"Bearer","expires_in":3600}`, n)
	if v.reply != nil {
		status, answer = v.reply(r, form)
	} else if _, _, err := v.verified(form.Get("assertion")); err != nil {
		status, answer = http.StatusBadRequest, fmt.Sprintf(`{"error":"invalid_grant","error_description":%q}`, err.Error())
	}
	return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader([]byte(answer))), Request: r, ProtoMajor: 1, ProtoMinor: 1}, nil
}

// verified checks an assertion's signature against jwks/<name> now and
// returns its header and claims.
func (v *jwtVendor) verified(assertion string) (jose.Header, map[string]interface{}, error) {
	tok, err := jwt.ParseSigned(assertion, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.PS256})
	if err != nil {
		return jose.Header{}, nil, err
	}
	set, _ := readJWKS(v.env.t.(*testing.T), v.env, v.name)
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		return jose.Header{}, nil, fmt.Errorf("kid %q is not in jwks/%s", tok.Headers[0].KeyID, v.name)
	}
	claims := map[string]interface{}{}
	if err := tok.Claims(keys[0].Key, &claims); err != nil {
		return jose.Header{}, nil, err
	}
	return tok.Headers[0], claims, nil
}

func (v *jwtVendor) last() (*http.Request, url.Values) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.reqs[len(v.reqs)-1], v.forms[len(v.forms)-1]
}

// formKeys are a body's parameter names, sorted.
func formKeys(form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

// joseParts decodes a JWT's header and claims as JSON objects, unverified:
// what a vendor reads, every member included.
func joseParts(t *testing.T, token string) (header, claims map[string]interface{}) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %d parts", len(parts))
	}
	out := make([]map[string]interface{}, 2)
	for i := range out {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out[0], out[1]
}

// checkClaims compares every claim of an assertion with want, after
// checking iat, exp (exp - iat = ttlSeconds) and jti, which it removes.
func checkClaims(t *testing.T, claims map[string]interface{}, want map[string]interface{}, ttlSeconds float64) {
	t.Helper()
	iat, _ := claims["iat"].(float64)
	exp, _ := claims["exp"].(float64)
	if iat == 0 || exp-iat != ttlSeconds {
		t.Fatalf("iat %v exp %v: exp - iat want %v s", iat, exp, ttlSeconds)
	}
	jti, _ := claims["jti"].(string)
	if len(jti) < 16 || len(jti) > 128 {
		t.Fatalf("jti %q: %d characters, not within 16-128 (Box's bound)", jti, len(jti))
	}
	rest := map[string]interface{}{}
	for k, v := range claims {
		if k != "iat" && k != "exp" && k != "jti" {
			rest[k] = v
		}
	}
	got, _ := json.Marshal(rest)
	exp2, _ := json.Marshal(want)
	if string(got) != string(exp2) {
		t.Fatalf("claims %s, want %s", got, exp2)
	}
}

// merged is base with extra's fields added or replaced (a new map).
func merged(base, extra map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(base)+len(extra))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}
