package oauthvendor

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/hashicorp/vault/sdk/framework"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
)

// maxCredentialsJSON bounds a key file: Google's are about 2.3 KiB.
const maxCredentialsJSON = 64 << 10

// serviceAccount is what a Google service-account key file holds that the
// jwt_bearer assertion needs (the members golang.org/x/oauth2/google
// reads).
type serviceAccount struct {
	Type         string `json:"type"`
	ClientEmail  string `json:"client_email"`
	PrivateKey   string `json:"private_key"`
	PrivateKeyID string `json:"private_key_id"`
	TokenURI     string `json:"token_uri"`
	ClientID     string `json:"client_id"`
}

// parseServiceAccount reads a key file. No error quotes a byte of it: the
// file is write-only (its private_key is the credential), so a message
// names the member at fault and never its value.
func parseServiceAccount(text string) (*serviceAccount, error) {
	if len(text) > maxCredentialsJSON {
		return nil, fieldErr("credentials_json", "longer than %d bytes", maxCredentialsJSON)
	}
	var sa serviceAccount
	if err := json.Unmarshal([]byte(text), &sa); err != nil {
		return nil, fieldErr("credentials_json", "is not a JSON key file (%s)", jsonErrorPlace(err))
	}
	if sa.Type != "service_account" {
		return nil, fieldErr("credentials_json", "member type is not \"service_account\" (give the key file of a service account, from the Cloud console's Keys tab)")
	}
	for _, m := range []struct{ name, value string }{
		{"client_email", sa.ClientEmail}, {"private_key", sa.PrivateKey}, {"private_key_id", sa.PrivateKeyID},
	} {
		if m.value == "" {
			return nil, fieldErr("credentials_json", "member %s is missing or empty", m.name)
		}
	}
	if _, err := oauth.ParsePrivateKey(sa.PrivateKey); err != nil {
		return nil, fieldErr("credentials_json", "member private_key %s", err.Error())
	}
	return &sa, nil
}

// jsonErrorPlace says where a file stops being JSON, or that a member has
// the wrong type, without the text there (encoding/json's messages quote
// the offending character or value).
func jsonErrorPlace(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return "invalid JSON at byte " + strconv.FormatInt(syntax.Offset, 10)
	case errors.As(err, &typ) && typ.Field != "":
		return "member " + typ.Field + " is not a " + typ.Type.String()
	case errors.As(err, &typ):
		return "not a JSON object"
	}
	return "invalid JSON"
}

// applyCredentialsJSON fills cfg from a key file given in the write: the
// key, and assertion_issuer, key_id, client_id and token_url unless the
// same write gives them. The file itself is not kept (its key is
// private_key from now on); its digest is, for credentials_json_set and so
// that a new file is a change.
func applyCredentialsJSON(cfg *vendorConfig, d *framework.FieldData) error {
	raw, ok := d.GetOk("credentials_json")
	if !ok {
		return nil
	}
	if _, both := d.GetOk("private_key"); both {
		return fieldErr("credentials_json", "holds the key: give it or private_key, not both")
	}
	text := raw.(string)
	if text == "" {
		return fieldErr("credentials_json", "is empty: omit it to keep the key")
	}
	sa, err := parseServiceAccount(text)
	if err != nil {
		return err
	}
	cfg.PrivateKey = sa.PrivateKey
	if _, given := d.GetOk("key_type"); !given {
		cfg.KeyType = "" // the key's own type (ensureSigningKey)
	}
	fill := func(field string, dst *string, v string) {
		if _, given := d.GetOk(field); !given && v != "" {
			*dst = v
		}
	}
	fill("assertion_issuer", &cfg.AssertionIssuer, sa.ClientEmail)
	fill("key_id", &cfg.KeyID, sa.PrivateKeyID)
	fill("client_id", &cfg.ClientID, sa.ClientID)
	if _, given := d.GetOk("token_url"); !given && sa.TokenURI != "" {
		cfg.TokenURL, cfg.TokenURLDiscovered = sa.TokenURI, false
	}
	if !cfg.effective().signsWithKey() {
		return fieldErr("credentials_json", "is a signing key: it needs grant_type jwt_bearer (preset google) or client_auth private_key_jwt")
	}
	sum := sha256.Sum256([]byte(text))
	cfg.CredentialsJSON = "sha256:" + hex.EncodeToString(sum[:])
	return nil
}

// keyGiven: the write gives the signing key, as private_key or inside
// credentials_json (whoever holds the key decides where it signs for).
func keyGiven(d *framework.FieldData) bool {
	_, ok := firstGiven(d, "private_key", "credentials_json")
	return ok
}
