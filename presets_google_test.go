package oauthvendor

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/hashicorp/vault/sdk/logical"
	"golang.org/x/oauth2/google"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
)

// rsaKeyPEM is a fresh 2048-bit RSA key as PKCS#8 PEM, as Google's key
// files carry it.
func rsaKeyPEM(t *testing.T) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// keySecretsOf are the forms in which a key must never show.
func keySecretsOf(pemText string) []string { return oauth.KeySecrets(pemText) }

// serviceAccountFile is a Google service-account key file, with every
// member the Cloud console writes.
func serviceAccountFile(t *testing.T, key, tokenURI string) map[string]string {
	t.Helper()
	return map[string]string{
		"type": "service_account", "project_id": "acme-prod", "private_key_id": "4f1c2b9e0d7a6c5b3e2f1a0b9c8d7e6f5a4b3c2d",
		"private_key": key, "client_email": "vault-broker@acme-prod.iam.gserviceaccount.com", "client_id": "104857600000000000001",
		"auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": tokenURI,
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"client_x509_cert_url":        "https://www.googleapis.com/robot/v1/metadata/x509/vault-broker%40acme-prod.iam.gserviceaccount.com",
		"universe_domain":             "googleapis.com",
	}
}

func fileText(t *testing.T, file map[string]string) string {
	t.Helper()
	b, err := json.MarshalIndent(file, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestGooglePresetMatchesGoogleLibrary: for one service-account key file,
// the plugin's token request equals the one Google's own library
// (google.JWTConfigFromJSON, golang.org/x/oauth2/jwt) makes: the same body
// parameters, the same JOSE header (alg, typ, kid = private_key_id) and
// the same claims (iss = client_email, scope, aud = token_uri, sub and
// prn, its old name, both the Workspace user), all
// but iat, exp and jti (Google's library sends no jti and backdates iat).
func TestGooglePresetMatchesGoogleLibrary(t *testing.T) {
	env := newTestEnv(t)
	srv := newBearerVendor(t, env, "gcp") // verifies each assertion against jwks/gcp
	key := rsaKeyPEM(t)
	file := fileText(t, serviceAccountFile(t, key, srv.URL+"/token"))
	scopes := []string{"https://www.googleapis.com/auth/cloud-platform", "https://www.googleapis.com/auth/admin.directory.user.readonly"}

	env.write("config/gcp", map[string]interface{}{
		"preset": "google", "credentials_json": file, "scopes": strings.Join(scopes, ","), "subject": "admin@acme.com",
	}) // not verified: this vendor knows the key from jwks/gcp, which a create has not stored yet
	if got := env.read("creds/gcp").Data["access_token"]; got != "bearer-token-1" {
		t.Fatalf("creds %v", got)
	}

	lib, err := google.JWTConfigFromJSON([]byte(file), scopes...)
	if err != nil {
		t.Fatal(err)
	}
	lib.Subject = "admin@acme.com"
	if tok, err := lib.TokenSource(context.Background()).Token(); err != nil || tok.AccessToken != "bearer-token-2" {
		t.Fatalf("Google's library: %v %v", tok, err)
	}

	ours, theirs := srv.form(0), srv.form(1)
	if formKeys(ours) != formKeys(theirs) || ours.Get("grant_type") != theirs.Get("grant_type") {
		t.Fatalf("body %v, Google's library sends %v", formKeys(ours), formKeys(theirs))
	}
	oursH, oursC := joseParts(t, ours.Get("assertion"))
	theirsH, theirsC := joseParts(t, theirs.Get("assertion"))
	if !reflect.DeepEqual(oursH, theirsH) {
		t.Fatalf("header %v, Google's library: %v", oursH, theirsH)
	}
	for _, c := range []map[string]interface{}{oursC, theirsC} {
		delete(c, "iat")
		delete(c, "exp")
		delete(c, "jti")
	}
	if !reflect.DeepEqual(oursC, theirsC) {
		t.Fatalf("claims %v, Google's library: %v", oursC, theirsC)
	}
	if oursH["kid"] != "4f1c2b9e0d7a6c5b3e2f1a0b9c8d7e6f5a4b3c2d" || oursC["iss"] != "vault-broker@acme-prod.iam.gserviceaccount.com" || oursC["prn"] != "admin@acme.com" || len(oursC) != 5 {
		t.Fatalf("the compared assertion is not the key file's: %v %v", oursH, oursC)
	}

	// The assertion is signed by the file's key, which jwks/<name>
	// publishes under the kid the header carries, and lives 1 h.
	set, _ := readJWKS(t, env, "gcp")
	tok, err := jwt.ParseSigned(ours.Get("assertion"), []jose.SignatureAlgorithm{jose.RS256})
	if err != nil || len(set.Key(oursH["kid"].(string))) != 1 {
		t.Fatalf("jwks kids %v, header kid %v (%v)", kidsOf(set), oursH["kid"], err)
	}
	var std jwt.Claims
	if err := tok.Claims(set.Key(oursH["kid"].(string))[0].Key, &std); err != nil {
		t.Fatalf("signature: %v", err)
	}
	if d := std.Expiry.Time().Sub(std.IssuedAt.Time()); d.Hours() != 1 {
		t.Fatalf("exp - iat = %s, want Google's 1h", d)
	}
}

// TestGoogleCredentialsJSONWriteOnly: the key file fills the readable
// fields (assertion_issuer, key_id, client_id, token_url) and the key; a
// read shows credentials_json_set and private_key_set only, and neither
// read, list, logs nor an error of a vendor echoing the request shows the
// key or the assertion.
func TestGoogleCredentialsJSONWriteOnly(t *testing.T) {
	env := newTestEnv(t)
	srv := newBearerVendor(t, env, "gcp")
	srv.echo = true
	key := rsaKeyPEM(t)
	file := fileText(t, serviceAccountFile(t, key, srv.URL+"/token"))
	env.write("config/gcp", map[string]interface{}{"preset": "google", "credentials_json": file, "scopes": "email"})
	read := env.read("config/gcp").Data
	want := map[string]interface{}{
		"assertion_issuer": "vault-broker@acme-prod.iam.gserviceaccount.com", "key_id": "4f1c2b9e0d7a6c5b3e2f1a0b9c8d7e6f5a4b3c2d",
		"client_id": "104857600000000000001", "token_url": srv.URL + "/token", "kid": "4f1c2b9e0d7a6c5b3e2f1a0b9c8d7e6f5a4b3c2d",
		"credentials_json_set": true, "private_key_set": true, "assertion_ttl": int64(3600), "signing_alg": "RS256",
	}
	for k, v := range want {
		if !reflect.DeepEqual(read[k], v) {
			t.Fatalf("read %s = %v, want %v", k, read[k], v)
		}
	}
	if _, ok := read["credentials_json"]; ok {
		t.Fatal("a read shows credentials_json")
	}
	_, err := env.do(logical.ReadOperation, "creds/gcp", nil)
	if codedStatus(err) != 502 || !strings.Contains(err.Error(), "bad request: ") {
		t.Fatalf("echoing vendor: %v", err)
	}
	a := srv.form(0).Get("assertion")
	secrets := append(keySecretsOf(key), a, signatureOf(a))
	list := env.mustOK(logical.ListOperation, "config/", nil)
	for _, text := range []string{err.Error(), env.read("status/gcp").Data["last_error"].(string), env.logs.String(), fmt.Sprint(read), fmt.Sprint(list.Data)} {
		assertNoSecret(t, text, secrets)
	}
	// A written private_key replaces the file's: key_id and
	// credentials_json_set go with it.
	env.write("config/gcp", map[string]interface{}{"private_key": rsaKeyPEM(t)})
	read = env.read("config/gcp").Data
	if read["credentials_json_set"] != false || read["key_id"] != "" || read["kid"] == want["kid"] {
		t.Fatalf("after private_key: %v %v %v", read["credentials_json_set"], read["key_id"], read["kid"])
	}
}

// TestGoogleCredentialsJSONRefusals: a bad key file is a 400 naming
// credentials_json and the member at fault, never quoting the file.
func TestGoogleCredentialsJSONRefusals(t *testing.T) {
	key := rsaKeyPEM(t)
	good := serviceAccountFile(t, key, "https://oauth2.googleapis.com/token")
	without := func(member string) string {
		f := map[string]string{}
		for k, v := range good {
			if k != member {
				f[k] = v
			}
		}
		return fileText(t, f)
	}
	with := func(member, value string) string {
		f := map[string]string{}
		for k, v := range good {
			f[k] = v
		}
		f[member] = value
		return fileText(t, f)
	}
	marker := "Zq8SECRETxW3mPl0"
	cases := []struct {
		name, file string
		extra      map[string]interface{}
		want       string
	}{
		{"not JSON", `{"type":"service_account","private_key":"` + marker + `" ` + marker + `}`, nil, "credentials_json: is not a JSON key file (invalid JSON at byte"},
		{"not an object", `["` + marker + `"]`, nil, "credentials_json: is not a JSON key file (not a JSON object)"},
		{"member of the wrong type", strings.Replace(fileText(t, good), `"private_key_id": "4f1c2b9e0d7a6c5b3e2f1a0b9c8d7e6f5a4b3c2d"`, `"private_key_id": 7`, 1), nil, "credentials_json: is not a JSON key file (member private_key_id is not a string)"},
		{"user credentials", with("type", "authorized_user"), nil, `credentials_json: member type is not "service_account"`},
		{"no client_email", without("client_email"), nil, "credentials_json: member client_email is missing"},
		{"no private_key", without("private_key"), nil, "credentials_json: member private_key is missing"},
		{"no private_key_id", without("private_key_id"), nil, "credentials_json: member private_key_id is missing"},
		{"bad private_key", with("private_key", "-----BEGIN PRIVATE KEY-----\n"+marker+"\n-----END PRIVATE KEY-----\n"), nil, "credentials_json: member private_key does not parse"},
		{"empty", "", nil, "credentials_json: is empty"},
		{"with private_key", fileText(t, good), map[string]interface{}{"private_key": key}, "credentials_json: holds the key: give it or private_key, not both"},
		{"without a signing grant", fileText(t, good), map[string]interface{}{"preset": "", "token_url": "https://v.example/t", "client_secret": "x"}, "credentials_json: is a signing key: it needs grant_type jwt_bearer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := newTestEnv(t)
			resp, err := env.do(logical.UpdateOperation, "config/gcp", merged(map[string]interface{}{"preset": "google", "credentials_json": c.file}, c.extra))
			if err != nil || resp == nil || !resp.IsError() || !strings.HasPrefix(resp.Error().Error(), c.want) {
				t.Fatalf("got %v %v, want %q", resp, err, c.want)
			}
			assertNoSecret(t, resp.Error().Error()+env.logs.String(), append(keySecretsOf(key), marker))
		})
	}
	// Without a key file, the google preset needs the account's email.
	env := newTestEnv(t)
	resp, _ := env.do(logical.UpdateOperation, "config/gcp", map[string]interface{}{"preset": "google"})
	if resp == nil || !resp.IsError() || !strings.HasPrefix(resp.Error().Error(), "assertion_issuer: required with preset google") {
		t.Fatalf("no key file: %v", resp)
	}
}
