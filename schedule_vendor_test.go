package oauthvendor

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/hashicorp/vault/sdk/logical"
)

// The schedule test's vendor: the fake vendor (fakevendor_test.go) made to
// check each config's client authentication as a real server would: the
// secret in the body or in HTTP Basic, a client_secret_jwt assertion, a
// private_key_jwt assertion verified against jwks/<name> fetched through
// the backend on an unknown kid (RFC 7517 4.5, OIDC Core 10.1.1), a TLS
// client certificate checked by a real TLS server; and an issuer's
// discovery document. Retries are on, as in production; their waits pass
// on the fake clock.

// scheduleName is one config of the schedule and how it authenticates.
type scheduleName struct {
	name, auth string
	issuer     bool // token_url discovered from http://127.0.0.1/<name>
	mtls       bool // token endpoint behind the TLS server that wants a client certificate
}

var scheduleNames = []scheduleName{
	{name: "a", auth: authBody},
	{name: "b", auth: authBasic},
	{name: "c", auth: authPrivateKeyJWT},
	{name: "d", auth: authClientSecretJWT},
	{name: "e", auth: authBasic, issuer: true},
	{name: "f", auth: authTLSClient, mtls: true},
}

// jwksDeadline: how long the vendor's fetch of jwks/<name> may take
// before the test calls it a deadlock (real time: only a bug waits it).
const jwksDeadline = 3 * time.Second

// certHeader carries, from the TLS check to the fake vendor, the digest
// of the certificate the plugin presented.
const certHeader = "X-Schedule-Client-Cert"

// scheduleTLS is a token endpoint's TLS front: it requires a client
// certificate of its CA (RFC 8705 2) and answers the certificate's
// digest; the token answer itself comes from the fake vendor.
type scheduleTLS struct {
	*httptest.Server
	ca *clientCA
}

func newScheduleTLS(t *testing.T) *scheduleTLS {
	ca := newClientCA(t)
	s := &scheduleTLS{ca: ca}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(certHeader, digestOf(r.TLS.PeerCertificates[0].Raw))
		w.Header().Set("X-CN", r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	s.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func (s *scheduleTLS) caPEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}))
}

func digestOf(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:8])
}

// certDigest is digestOf the first certificate of a PEM text.
func certDigest(pemText string) string {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return ""
	}
	return digestOf(block.Bytes)
}

// scheduleTransport is every vendor client's transport in the schedule:
// TLS token endpoints first meet the TLS front through the config's own
// transport (its CA, its client certificate), then everything goes to
// the fake vendor. The standby's transport refuses and fails the test: a
// node that cannot store a token never asks for one.
type scheduleTransport struct {
	w       *world
	orig    http.RoundTripper
	standby bool
}

func (t *scheduleTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.standby {
		t.w.failf("the read-only standby asked the vendor: %s %s", req.Method, req.URL.Path)
		return nil, errors.New("the standby must not call the vendor")
	}
	if req.URL.Scheme == "https" {
		digest, err := t.presentedCert(req)
		if err != nil {
			return nil, err
		}
		// Clone keeps the context: retries of one grant stay one grant.
		req = req.Clone(req.Context())
		req.Header.Set(certHeader, digest)
	}
	return t.w.vendor.RoundTrip(req)
}

// presentedCert runs a TLS handshake to the TLS front with the plugin's
// own transport and returns the client certificate's digest.
func (t *scheduleTransport) presentedCert(req *http.Request) (string, error) {
	check, _ := http.NewRequestWithContext(req.Context(), http.MethodGet, "https://"+req.URL.Host+"/check", nil)
	resp, err := t.orig.RoundTrip(check)
	if err != nil {
		if req.Context().Err() == nil {
			t.w.failf("mTLS: the token endpoint's TLS server refused the plugin's connection (no client certificate of its CA?): %v", err)
		}
		return "", err
	}
	_ = resp.Body.Close()
	if cn := resp.Header.Get("X-CN"); cn != "id-f" {
		t.w.failf("mTLS: the plugin presented a certificate for %q, want id-f", cn)
	}
	t.w.count("mTLS handshake with client certificate")
	return resp.Header.Get(certHeader), nil
}

// installVendor makes b's vendor clients use the schedule's transport,
// with production retries whose waits pass on the fake clock.
func (w *world) installVendor(env *testEnv, standby bool) {
	env.b.tuneHTTP = func(c *retryablehttp.Client) {
		c.HTTPClient.Transport = &scheduleTransport{w: w, orig: c.HTTPClient.Transport, standby: standby}
		wait := c.Backoff
		c.Backoff = func(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
			// The production wait, rounded up to a second so that the
			// jitter does not make a replay differ, passes on the fake
			// clock; the retry then runs at once.
			d := wait(minWait, maxWait, attempt, resp)
			w.env.clock.Advance((d + time.Second - 1) / time.Second * time.Second)
			return 0
		}
	}
}

// route answers an issuer's discovery document (OIDC Discovery 4).
func (w *world) route(req *http.Request) (*http.Response, bool) {
	const wellKnown = "/.well-known/openid-configuration"
	if !strings.HasSuffix(req.URL.Path, wellKnown) {
		return nil, false
	}
	name := strings.TrimSuffix(strings.TrimPrefix(req.URL.Path, "/"), wellKnown)
	w.traceLine(fmt.Sprintf("discovery %s", name), w.env.clock.Now())
	w.count("discovery")
	issuer := "http://127.0.0.1/" + name
	return jsonResponse(req, http.StatusOK, map[string]interface{}{
		"issuer": issuer, "token_endpoint": issuer + "/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
	}), true
}

func (w *world) kind(name string) scheduleName {
	for _, k := range scheduleNames {
		if k.name == name {
			return k
		}
	}
	return scheduleName{name: name, auth: authBody}
}

func (w *world) tokenURL(name string) string {
	if w.kind(name).mtls {
		return w.tls.URL + "/" + name + "/token"
	}
	return "http://127.0.0.1/" + name + "/token"
}

// authenticate is what the vendor checks of a token request, by the
// config's client_auth; it returns who authenticated. A malformed request
// (a secret sent beside an assertion, wrong claims, a replayed jti) fails
// the test; a credential the vendor does not know is refused.
func (w *world) authenticate(req *http.Request, name string, form url.Values) (string, bool) {
	k := w.kind(name)
	id := "id-" + name
	if k.auth != authBody && form.Get("client_secret") != "" {
		w.failf("%s (client_auth %s) sent client_secret in the body", name, k.auth)
	}
	switch k.auth {
	case authBasic:
		user, pass, ok := req.BasicAuth()
		user, _ = url.QueryUnescape(user) // RFC 6749 2.3.1: form-encoded first
		pass, _ = url.QueryUnescape(pass)
		return pass, ok && user == id
	case authClientSecretJWT:
		return w.verifySecretAssertion(name, form)
	case authPrivateKeyJWT:
		return w.verifyKeyAssertion(name, form)
	case authTLSClient:
		cert := req.Header.Get(certHeader)
		return "cert:" + cert, cert != "" && form.Get("client_id") == id
	}
	return form.Get("client_secret"), form.Get("client_id") == id && form.Get("client_secret") != ""
}

func (w *world) parseAssertion(name string, form url.Values, algs ...jose.SignatureAlgorithm) *jwt.JSONWebToken {
	if form.Get("client_assertion_type") != oauth.JWTBearerAssertion || form.Get("client_id") != "id-"+name {
		w.failf("%s: the token request lacks RFC 7523 2.2's fields: %v", name, form)
		return nil
	}
	tok, err := jwt.ParseSigned(form.Get("client_assertion"), algs)
	if err != nil {
		w.failf("%s: client_assertion does not parse: %v", name, err)
		return nil
	}
	return tok
}

// checkClaims: RFC 7523 3 as a server checks it, and a jti never reused.
func (w *world) checkClaims(name string, c jwt.Claims) {
	id := "id-" + name
	if c.Issuer != id || c.Subject != id || len(c.Audience) != 1 || c.Audience[0] != w.tokenURL(name) || c.ID == "" {
		w.failf("%s: assertion claims %+v (want iss=sub=%s, aud=%s, a jti)", name, c, id, w.tokenURL(name))
	}
	if life := c.Expiry.Time().Sub(c.IssuedAt.Time()); life <= 0 || life > 5*time.Minute {
		w.failf("%s: assertion lives %s, want within 5 minutes", name, life)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.jtis[c.ID] {
		w.failf("%s: assertion jti %q replayed", name, c.ID)
	}
	w.jtis[c.ID] = true
}

func (w *world) verifySecretAssertion(name string, form url.Values) (string, bool) {
	tok := w.parseAssertion(name, form, jose.HS256)
	if tok == nil {
		return "", false
	}
	w.mu.Lock()
	secrets := append([]string(nil), w.secrets[name]...)
	w.mu.Unlock()
	for _, s := range secrets {
		var c jwt.Claims
		if tok.Claims([]byte(s), &c) == nil {
			w.checkClaims(name, c)
			return s, true
		}
	}
	return "", false // a secret the schedule never wrote
}

// verifyKeyAssertion verifies with the vendor's copy of jwks/<name>,
// fetched again when the kid is unknown (as oidc-provider and Okta do).
func (w *world) verifyKeyAssertion(name string, form url.Values) (string, bool) {
	tok := w.parseAssertion(name, form, jose.ES256, jose.RS256, jose.PS256)
	if tok == nil {
		return "", false
	}
	kid := tok.Headers[0].KeyID
	key, ok := w.vendorKey(name, kid)
	if !ok {
		return "kid:" + kid, false
	}
	var c jwt.Claims
	if err := tok.Claims(key.Key, &c); err != nil {
		w.failf("%s: assertion signed by kid %s does not verify with the published key: %v", name, kid, err)
		return "kid:" + kid, false
	}
	w.checkClaims(name, c)
	return "kid:" + kid, true
}

func (w *world) vendorKey(name, kid string) (*jose.JSONWebKey, bool) {
	w.mu.Lock()
	set := w.jwks[name]
	w.mu.Unlock()
	if keys := set.Key(kid); len(keys) == 1 {
		return &keys[0], true
	}
	w.traceLine(fmt.Sprintf("jwks fetch %s", name), w.env.clock.Now())
	type fetched struct {
		resp *logical.Response
		err  error
	}
	w.count("vendor fetched jwks")
	ch := make(chan fetched, 1)
	go func() {
		resp, err := w.env.b.HandleRequest(context.Background(), &logical.Request{
			Operation: logical.ReadOperation, Path: jwksPrefix + name, Storage: w.env.storage,
		})
		ch <- fetched{resp, err}
	}()
	var got fetched
	select {
	case got = <-ch:
	case <-time.After(jwksDeadline):
		w.failf("jwks/%s did not answer the vendor's fetch for kid %s within %s while %s's grant waited for it: jwks/<name> waits on the grant (the rotate-key deadlock, issue 17 item 1)",
			name, kid, jwksDeadline, name)
		return nil, false
	}
	if got.err != nil {
		if !strings.Contains(got.err.Error(), errInjected.Error()) {
			w.failf("the vendor's fetch of jwks/%s: %v", name, got.err)
		}
		return nil, false // a storage fault: the vendor cannot know the key
	}
	raw, _ := got.resp.Data[logical.HTTPRawBody].([]byte)
	var fresh jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &fresh); err != nil {
		w.failf("jwks/%s answered %q: %v", name, raw, err)
		return nil, false
	}
	w.mu.Lock()
	w.jwks[name] = fresh
	w.mu.Unlock()
	keys := fresh.Key(kid)
	if len(keys) != 1 {
		w.failf("%s's assertion is signed by kid %s, which jwks/%s does not publish (it has %v)", name, kid, name, kidsOf(fresh))
		return nil, false
	}
	return &keys[0], true
}

// beforeAnswer runs the invariants of a token request as it arrives.
func (w *world) beforeAnswer(r vendorRequest) {
	if r.retry {
		w.checkRetry(r)
		return
	}
	w.checkRequest(r)
}

// checkRetry: a retry inside one grant waits what the failed attempt's
// Retry-After asked (RFC 9110 10.2.3).
func (w *world) checkRetry(r vendorRequest) {
	w.mu.Lock()
	prev, ok := w.lastAttempt[r.ctx]
	w.mu.Unlock()
	w.count("retry in a grant")
	if ok && prev.gap > 0 {
		w.count("retry after Retry-After")
	}
	if ok && r.at.Sub(prev.at) < prev.gap {
		w.failf("a retry of %s's grant came %s after an answer whose Retry-After asked for %s", r.name, r.at.Sub(prev.at), prev.gap)
	}
}

// afterAnswer remembers failures for the back-off checks and writes the
// request to the trace.
func (w *world) afterAnswer(r vendorRequest, m vendorMode) {
	w.noteAnswer(r, m)
	w.mu.Lock()
	key := r.name + "|" + r.secret
	ord, ok := w.idOrd[key]
	if !ok {
		w.idSeq[r.name]++
		ord = w.idSeq[r.name]
		w.idOrd[key] = ord
	}
	w.mu.Unlock()
	w.traceLine(fmt.Sprintf("token %s cred#%d retry=%t -> %d", r.name, ord, r.retry, r.status), r.at)
}

// traceLine records one vendor event of the step running now.
func (w *world) traceLine(line string, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stepTrace = append(w.stepTrace, traced{line: line, at: at})
}

type traced struct {
	line string
	at   time.Time
}

// flushTrace closes a step's part of the trace. A periodic pass grants
// for several configs at once: its lines are sorted and carry no time
// (the clock after the step still does, the sum of what passed).
func (w *world) flushTrace(unordered bool) {
	w.mu.Lock()
	lines := make([]string, 0, len(w.stepTrace)+1)
	for _, t := range w.stepTrace {
		if unordered {
			lines = append(lines, t.line)
		} else {
			lines = append(lines, fmt.Sprintf("%s at +%s", t.line, t.at.Sub(w.epoch)))
		}
	}
	w.stepTrace = nil
	w.mu.Unlock()
	if unordered {
		sort.Strings(lines)
	}
	w.trace = append(w.trace, fmt.Sprintf("step %d: clock +%s", len(w.steps)-1, w.env.clock.Now().Sub(w.epoch)))
	w.trace = append(w.trace, lines...)
}
