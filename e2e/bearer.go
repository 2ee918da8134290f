//go:build e2e

package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/vendorsim"
)

// assertions is what the simulator's vendor received in jwt_bearer mode
// (vendorsim.AssertionsAnswer): every assertion, whole, and how many it
// accepted under each kid.
func (s *simClient) assertions(t testing.TB, vendor string) vendorsim.AssertionsAnswer {
	t.Helper()
	var a vendorsim.AssertionsAnswer
	s.getJSON(t, "/_sim/assertions/"+vendor, &a)
	return a
}

// registered are the assertions already given to the leak scans.
var registered struct {
	sync.Mutex
	seen map[string]bool
}

// addAssertionSecrets registers every assertion vendor has received so far
// with the leak scans, and returns how many it received. An assertion is a
// bearer credential until it expires: neither it whole nor its signature
// may show in any Vault answer, log line or audit entry.
func addAssertionSecrets(t testing.TB, vendor string) int {
	t.Helper()
	got := env.sim.assertions(t, vendor).Received
	registered.Lock()
	defer registered.Unlock()
	if registered.seen == nil {
		registered.seen = map[string]bool{}
	}
	for _, a := range got {
		if !registered.seen[a] {
			registered.seen[a] = true
			addJWTSecret(t, vendor+" jwt_bearer assertion", a)
		}
	}
	return len(got)
}

// addJWTSecret registers a compact JWS: whole (and in the encodings a
// form, a JSON string or a Go quote give it), and its signature as sent
// (base64url), as base64 and as hex. Not the header or claims alone: they
// carry readable config values (iss, sub, kid).
func addJWTSecret(t testing.TB, label, raw string) {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 || len(parts[2]) < 40 {
		t.Fatalf("%s is not a signed compact JWS (%d parts)", label, len(parts))
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatalf("%s: signature: %v", label, err)
	}
	forms := append(encodedForms(raw), parts[2], base64.StdEncoding.EncodeToString(sig), hex.EncodeToString(sig))
	madeUp.Lock()
	defer madeUp.Unlock()
	madeUp.list = append(madeUp.list, secret{label: label, forms: dedupe(forms)})
}

// keyFile is a Google service-account key file made for a test, as the
// Cloud console's Keys tab hands it out.
type keyFile struct {
	json         string // the file
	key          *rsa.PrivateKey
	keyPEM       string // its private_key member (PKCS#8 PEM)
	privateKeyID string // the kid Google expects; public (Google lists it)
	clientEmail  string
}

// newKeyFile makes a key file whose token_uri is tokenURI.
func newKeyFile(t testing.TB, tokenURI string) keyFile {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	kf := keyFile{
		key: key, keyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		privateKeyID: randomHex(20),
		clientEmail:  "e2e-sa-" + randomHex(4) + "@e2e-project.iam.gserviceaccount.com",
	}
	b, err := json.MarshalIndent(map[string]string{
		"type": "service_account", "project_id": "e2e-project", "private_key_id": kf.privateKeyID,
		"private_key": kf.keyPEM, "client_email": kf.clientEmail, "client_id": "1" + randomHex(10)[:10],
		"auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": tokenURI,
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"client_x509_cert_url":        "https://www.googleapis.com/robot/v1/metadata/x509/" + kf.clientEmail,
		"universe_domain":             "googleapis.com",
	}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	kf.json = string(b)
	return kf
}

// addKeyFileSecret registers a key file with the leak scans: the file
// whole (raw, as a JSON string, form-encoded, base64), its private key
// (keysecrets.go: the PEM, its body, the private values), and each line of
// the PEM body that holds no byte of the public modulus (jwks/<name> and
// read's public_key show n by design). private_key_id and client_email are
// readable (key_id, assertion_issuer), as Google shows them too.
func addKeyFileSecret(t testing.TB, label string, kf keyFile) {
	t.Helper()
	addKeySecret(t, label+" private_key", kf.keyPEM)
	forms := []string{kf.json, jsonEscape(kf.json, true), jsonEscape(kf.json, false), jsonEscape(jsonEscape(kf.json, true), true),
		base64.StdEncoding.EncodeToString([]byte(kf.json)), base64.RawURLEncoding.EncodeToString([]byte(kf.json))}
	block, _ := pem.Decode([]byte(kf.keyPEM))
	n := kf.key.N.Bytes()
	at := bytes.Index(block.Bytes, n)
	if at < 0 {
		t.Fatalf("%s: the modulus is not in the key's DER", label)
	}
	lines := strings.Split(strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "X", Bytes: block.Bytes}))), "\n")
	lines = lines[1 : len(lines)-1]
	private := 0
	for i, line := range lines {
		// Line i is base64 of DER bytes [48 i, 48 i + 48).
		if lo, hi := 48*i, 48*i+48; hi <= at || lo >= at+len(n) {
			forms = append(forms, line)
			private++
		}
	}
	if private < 10 {
		t.Fatalf("%s: only %d PEM lines without the modulus", label, private)
	}
	madeUp.Lock()
	defer madeUp.Unlock()
	madeUp.list = append(madeUp.list, secret{label: label + " credentials_json", forms: dedupe(forms)})
}

// serveKeyFileJWKS publishes a key file's public key under its
// private_key_id, as Google does for every service account
// (https://www.googleapis.com/service_accounts/v1/jwk/<client_email>),
// and returns the URL; the server stops when the test ends.
func serveKeyFileJWKS(t testing.TB, kf keyFile) string {
	t.Helper()
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: kf.key.Public(), KeyID: kf.privateKeyID, Algorithm: "RS256", Use: "sig"}}}
	body, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/service_accounts/v1/jwk/" + kf.clientEmail
}
