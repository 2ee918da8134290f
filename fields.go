package oauthvendor

import (
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
)

// writeOnly fields are accepted on write and reported on read only as
// <field>_set booleans.
var writeOnly = map[string]bool{
	"client_secret": true, "api_key": true, "password": true,
	"secret_headers": true, "secret_params": true,
	"private_key": true, "tls_client_key": true, "credentials_json": true,
}

// configFields is the config/<name> schema. Field names equal the json tags
// of vendorConfig, which is what applyFields and readableFields rely on.
func configFields() map[string]*framework.FieldSchema {
	str := func(desc string) *framework.FieldSchema {
		return &framework.FieldSchema{Type: framework.TypeString, Description: desc}
	}
	secret := func(desc string) *framework.FieldSchema {
		return &framework.FieldSchema{Type: framework.TypeString, Description: desc + " Write-only.", DisplayAttrs: &framework.DisplayAttributes{Sensitive: true}}
	}
	dur := func(desc string) *framework.FieldSchema {
		return &framework.FieldSchema{Type: framework.TypeDurationSecond, Description: desc}
	}
	boolean := func(desc string, def bool) *framework.FieldSchema {
		return &framework.FieldSchema{Type: framework.TypeBool, Description: desc, Default: def}
	}
	fields := map[string]*framework.FieldSchema{
		"name":               {Type: framework.TypeString, Description: "Name of the vendor connection: letters, digits, _, - and . (never \"..\"), at most 128 bytes.", Required: true},
		"preset":             {Type: framework.TypeString, Description: "Vendor preset filling the defaults: " + strings.Join(presetNames(), ", ") + ", or empty for generic.", AllowedValues: append([]interface{}{""}, stringsToIfaces(presetNames())...)},
		"token_url":          str("Token endpoint. https:// required, except loopback hosts. Required unless the preset has a fixed one."),
		"grant_type":         {Type: framework.TypeString, Description: "client_credentials (default), password, login (plain JSON {username, password}), jwt_bearer (RFC 7523 2.1: an assertion signed with private_key; the client authenticates only when client_secret is set), account_credentials (Zoom: account_id, Basic client auth), token_exchange (RFC 8693: subject_config's token, or a JWT of assertion_source=issuer|vault_identity, exchanged) or authorization_code (a user consents once at consent/<name>; reads then run refresh_token grants).", AllowedValues: []interface{}{grantClientCredentials, grantPassword, grantLogin, grantJWTBearer, grantAccountCreds, grantTokenExchange, grantAuthorizationCode}},
		"body_format":        {Type: framework.TypeString, Description: "form (default) or json.", AllowedValues: []interface{}{bodyForm, bodyJSON}},
		"client_auth":        {Type: framework.TypeString, Description: "body (default), basic (RFC 6749 2.3.1), private_key_jwt, client_secret_jwt (RFC 7523 2.2), tls_client_auth (RFC 8705 2) or none (no client credentials: token_exchange and jwt_bearer; a public client of authorization_code sends client_id alone).", AllowedValues: []interface{}{authBody, authBasic, authPrivateKeyJWT, authClientSecretJWT, authTLSClient, authNone}},
		"client_id":          str("OAuth client ID."),
		"client_secret":      secret("OAuth client secret."),
		"api_key":            secret("API key, sent in the api_key_header header."),
		"api_key_header":     str("Header carrying api_key (default x-api-key)."),
		"username":           str("Resource owner username (password and login grants)."),
		"password":           secret("Resource owner password (password and login grants)."),
		"scopes":             {Type: framework.TypeCommaStringSlice, Description: "Scopes, sent space-separated as scope."},
		"params":             {Type: framework.TypeKVPairs, Description: "Extra body parameters, key=value."},
		"headers":            {Type: framework.TypeKVPairs, Description: "Extra request headers, key=value (split on the first = only). Credential headers (Authorization, Proxy-Authorization, Cookie, the api_key_header name) go in secret_headers."},
		"secret_headers":     {Type: framework.TypeKVPairs, Description: "Request headers whose values are credentials, key=value. Write-only: a read shows their names.", DisplayAttrs: &framework.DisplayAttributes{Sensitive: true}},
		"secret_params":      {Type: framework.TypeKVPairs, Description: "Body parameters whose values are credentials, key=value. Write-only: a read shows their names.", DisplayAttrs: &framework.DisplayAttributes{Sensitive: true}},
		"verify":             boolean("Run the grant with the new config before storing a write that changes a credential or request field (default true). Not stored.", true),
		"token_field":        str("Response field holding the token (default access_token)."),
		"expires_in_field":   str("Response field holding the lifetime in seconds (default expires_in)."),
		"token_type_field":   str("Response field holding the token type (default token_type)."),
		"default_ttl":        dur("Lifetime assumed when the response gives none and the token is not a JWT with exp (default 1h)."),
		"refresh_before":     dur("Mint a new token on read once less than this is left (default min(max(L/4, 2m), L/2))."),
		"max_ttl":            dur("Cap on the lease TTL handed to readers."),
		"lease":              boolean("creds answers with a lease (default true); false gives a plain response with ttl.", true),
		"timeout":            dur("Per token request, retries included (default 15s, at most 60s: Vault's default request limit is 90s)."),
		"ca_cert":            str("Extra trusted CA (PEM) for the token endpoint."),
		"api_key_in_creds":   boolean("Also return api_key from creds/<name>.", false),
		"issuer":             str("OAuth/OIDC issuer URL: at write, token_url (when not given) and the supported client authentication methods are discovered from /.well-known/openid-configuration, else /.well-known/oauth-authorization-server (RFC 8414)."),
		"private_key":        secret("Signing key for private_key_jwt and jwt_bearer (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC). Omitted: the plugin generates one (key_type) that never leaves Vault."),
		"key_type":           {Type: framework.TypeString, Description: "For a generated key: rsa (2048 bit, default) or ec (P-256).", AllowedValues: []interface{}{keyRSA, keyEC}},
		"signing_alg":        {Type: framework.TypeString, Description: "Assertion signature: RS256 (default for RSA), PS256, ES256 (EC P-256); HS256 for client_secret_jwt.", AllowedValues: []interface{}{algRS256, algPS256, algES256, algHS256}},
		"assertion_audience": str("The assertion's aud, client assertion or jwt_bearer's (default: the token URL); with token_exchange and assertion_source=issuer, the subject JWT's too (required there: Google STS's workload identity provider, Databricks' account ID or federation policy audience)."),
		"subject":            str("jwt_bearer: the assertion's sub, the user the token acts for (Salesforce's username, a Google Workspace user); default none. With assertion_source=issuer, the sub of either assertion and of token_exchange's subject JWT (default oauthvendor:<name>)."),
		"assertion_ttl":      dur("jwt_bearer: the assertion's lifetime, exp - iat, and token_exchange's issuer subject JWT's (default 5m, at most 1h; presets: google 1h, box 45s and at most 60s)."),
		"assertion_claims":   {Type: framework.TypeKVPairs, Description: "jwt_bearer: extra claims, key=value (Box's box_sub_type); not iss, sub, aud, iat, exp, jti or nbf. Readable: never put credentials here."},
		"assertion_issuer":   str("jwt_bearer and client assertions: the assertion's iss (default client_id); a Google service account's client_email."),
		"key_id":             str("The assertion header's kid when the vendor assigned the key an ID (Google's private_key_id, the public key ID Box shows); default the key's RFC 7638 thumbprint. jwks/<name> publishes the key under it. A written private_key or a rotate-key switch drops it unless given again."),
		"credentials_json":   secret("A Google service-account key file (JSON, type service_account): fills assertion_issuer (client_email), private_key, key_id (private_key_id), client_id and token_url (token_uri) unless given in the same write; only its digest is stored."),
		"device_auth_url":    str("Device authorization endpoint (RFC 8628 3.1) for the device flow's consent. https:// required, except loopback hosts; on another host than token_url only in a write that gives the stored secrets again. Discovered from issuer (device_authorization_endpoint) when not given."),
		"redirect_url":       str("The redirect URI registered with the vendor: authorization_code's redirect_uri (the mount's callback, https://<vault>/v1/<mount>/callback, or any URL the operator copies the code from); the consent URL DocuSign's consent_required error gives names it."),
		"auth_url":           str("authorization_code: the vendor's authorization endpoint (https, except loopback hosts); with issuer, the metadata's authorization_endpoint when not given."),
		"scope_on_refresh":   boolean("authorization_code: also send scopes on refresh grants (default false: RFC 6749 6 keeps the scope the user granted; Microsoft Graph documents scope as required there).", false),
		"authorize_params":   {Type: framework.TypeKVPairs, Description: "authorization_code: extra parameters of the authorize URL, key=value (access_type=offline, prompt=consent, audience=...). Readable: never credentials."},
		"certificate":        str("Certificate (PEM) of private_key, for vendors that identify the key by it: adds x5t#S256 to the assertion header."),
		"tls_client_cert":    str("Client certificate (PEM, leaf first) presented on the TLS connection to the token endpoint (RFC 8705)."),
		"tls_client_key":     secret("Private key (PEM) of tls_client_cert."),
	}
	for name, f := range assertionSourceFields() {
		fields[name] = f
	}
	for name, f := range grantFields(str, boolean) {
		fields[name] = f
	}
	return fields
}

// grantFields are the fields of the account_credentials and
// token_exchange grants (RFC 8693 2.1), and exchange_urls, which lets a
// config's token be another's subject token.
func grantFields(str func(string) *framework.FieldSchema, boolean func(string, bool) *framework.FieldSchema) map[string]*framework.FieldSchema {
	return map[string]*framework.FieldSchema{
		"account_id":           str("account_credentials: the account whose token is asked for (Zoom's Account ID)."),
		"subject_config":       str("token_exchange: the name of another config of this mount whose current token (read through its cache) is the subject token. Exactly one of subject_config and assertion_source=issuer|vault_identity gives the subject token."),
		"subject_token_type":   str("token_exchange: the subject token's type (RFC 8693 3; default urn:ietf:params:oauth:token-type:access_token)."),
		"audience":             str("token_exchange: where the new token is to be used (RFC 8693 2.1 audience); Google STS: the workload identity provider."),
		"resource":             str("token_exchange: the URI of the service the new token is for (RFC 8693 2.1 resource)."),
		"requested_token_type": str("token_exchange: the type of token wanted (RFC 8693 3); default the server's choice."),
		"expires_with_subject": boolean("token_exchange: the new token expires no later than the subject token (vendors whose exchanged token dies with its subject).", false),
		"exchange_urls":        {Type: framework.TypeCommaStringSlice, Description: "Token endpoints (compared by scheme, host and port) to which this config's token may be sent as the subject token of another config's token_exchange; none by default. Adding one asks for this config's write-only credentials again."},
	}
}

func stringsToIfaces(ss []string) []interface{} {
	out := make([]interface{}, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// applyFields copies every field present in the request onto cfg: a
// partial update, omitted fields keep their value.
func applyFields(cfg *vendorConfig, d *framework.FieldData) {
	v := reflect.ValueOf(cfg).Elem()
	forEachField(v, func(name string, f reflect.Value) {
		raw, ok := d.GetOk(name)
		if !ok {
			return
		}
		setField(f, raw)
	})
}

func setField(f reflect.Value, raw interface{}) {
	switch f.Interface().(type) {
	case time.Duration:
		f.Set(reflect.ValueOf(time.Duration(raw.(int)) * time.Second))
	case *bool:
		b := raw.(bool)
		f.Set(reflect.ValueOf(&b))
	default:
		f.Set(reflect.ValueOf(raw))
	}
}

// readableFields renders cfg for a read: durations in seconds, write-only
// fields as <field>_set.
func readableFields(cfg *vendorConfig) map[string]interface{} {
	out := map[string]interface{}{}
	forEachField(reflect.ValueOf(cfg).Elem(), func(name string, f reflect.Value) {
		switch val := f.Interface().(type) {
		case string:
			if writeOnly[name] {
				out[name+"_set"] = val != ""
				return
			}
			out[name] = val
		case map[string]string:
			if writeOnly[name] {
				out[name+"_set"] = sortedKeys(val)
				return
			}
			out[name] = val
		case time.Duration:
			out[name] = int64(val / time.Second)
		case *bool:
			out[name] = val != nil && *val
		default:
			out[name] = val
		}
	})
	return out
}

// forEachField visits the API fields of a vendorConfig (those whose json tag
// is a schema field).
func forEachField(v reflect.Value, fn func(name string, f reflect.Value)) {
	schema := configFields()
	t := v.Type()
	for i := range t.NumField() {
		name := jsonName(t.Field(i))
		if _, ok := schema[name]; ok {
			fn(name, v.Field(i))
		}
	}
}

func jsonName(f reflect.StructField) string {
	tag := f.Tag.Get("json")
	for i := range len(tag) {
		if tag[i] == ',' {
			return tag[:i]
		}
	}
	return tag
}

// firstGiven is the first of fields the request gives, if any.
func firstGiven(d *framework.FieldData, fields ...string) (string, bool) {
	for _, f := range fields {
		if _, ok := d.GetOk(f); ok {
			return f, true
		}
	}
	return "", false
}

// nameFields is the schema of the paths addressed by a config name alone.
func nameFields() map[string]*framework.FieldSchema {
	return map[string]*framework.FieldSchema{
		"name": {Type: framework.TypeString, Description: "Name of the vendor connection.", Required: true},
	}
}

// configReadFields is the schema of a config read: every readable field,
// and <field>_set for each write-only one.
func configReadFields() map[string]*framework.FieldSchema {
	out := map[string]*framework.FieldSchema{}
	for name, f := range configFields() {
		switch {
		case name == "name", name == "verify":
		case writeOnly[name] && f.Type == framework.TypeKVPairs:
			out[name+"_set"] = &framework.FieldSchema{Type: framework.TypeCommaStringSlice, Description: "Names in " + name + " (the values are write-only)."}
		case writeOnly[name]:
			out[name+"_set"] = &framework.FieldSchema{Type: framework.TypeBool, Description: "Whether " + name + " is set (the value is write-only)."}
		default:
			out[name] = f
		}
	}
	out["kid"] = &framework.FieldSchema{Type: framework.TypeString, Description: "The kid the assertions carry (private_key_jwt, jwt_bearer): key_id when set, else the signing key's RFC 7638 thumbprint."}
	out["next_kid"] = &framework.FieldSchema{Type: framework.TypeString, Description: "Thumbprint of the key rotate-key published to sign next."}
	for name, f := range consentReadFields {
		out[name] = f
	}
	return out
}

// okResponse declares a 200 answer with the given fields, for OpenAPI and
// the response schema tests.
func okResponse(fields map[string]*framework.FieldSchema) map[int][]framework.Response {
	return map[int][]framework.Response{200: {{Description: "OK", Fields: fields}}}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
