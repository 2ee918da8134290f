package oauthvendor

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Limits on operator input: generous for any real vendor, small enough that
// a config cannot bloat storage or every token request.
const (
	maxStringLen  = 4096
	maxCACertLen  = 64 << 10
	maxPairs      = 32
	maxTokenURL   = 2048
	maxTimeout    = 5 * time.Minute
	maxDurationIn = 10 * 365 * 24 * time.Hour
)

// fieldError is a caller mistake: it becomes a 400 naming the field.
type fieldError struct {
	field, reason string
}

func (e *fieldError) Error() string { return e.field + ": " + e.reason }

func fieldErr(field, format string, args ...interface{}) error {
	return &fieldError{field: field, reason: fmt.Sprintf(format, args...)}
}

// httpTokenRe is RFC 9110's token, the grammar of a header field name.
var httpTokenRe = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// headers the engine sets itself or that would corrupt the request framing.
var reservedHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Content-Type": true, "Transfer-Encoding": true,
	"Connection": true, "Upgrade": true, "Te": true, "Trailer": true, "Keep-Alive": true,
}

// body parameters the engine fills from dedicated fields.
var reservedParams = map[string]bool{
	"grant_type": true, "client_id": true, "client_secret": true, "username": true, "password": true, "scope": true,
}

// validate checks the effective (preset-resolved) config as a whole.
// Each check names the field the operator has to fix.
func validate(raw, eff *vendorConfig) error {
	checks := []func() error{
		func() error { return validatePreset(raw.Preset) },
		func() error { return validateSizes(raw) },
		func() error { return validateTokenURL(eff.TokenURL) },
		func() error {
			return oneOf("grant_type", eff.GrantType, grantClientCredentials, grantPassword, grantLogin)
		},
		func() error { return oneOf("body_format", eff.BodyFormat, bodyForm, bodyJSON) },
		func() error { return oneOf("client_auth", eff.ClientAuth, authBody, authBasic) },
		func() error { return validateCredentials(eff) },
		func() error { return validateDurations(eff) },
		func() error { return validateHeaderName("api_key_header", eff.APIKeyHeader) },
		func() error { return validateHeaders(eff.Headers) },
		func() error { return validateParams(eff.Params) },
		func() error { return validateScopes(eff.Scopes) },
		func() error { return validateResponseFields(eff) },
		func() error { return validateCACert(eff.CACert) },
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func validatePreset(name string) error {
	if _, ok := presets[name]; name != "" && !ok {
		return fieldErr("preset", "unknown preset %q (known: %s)", name, strings.Join(presetNames(), ", "))
	}
	return nil
}

func oneOf(field, value string, allowed ...string) error {
	for _, a := range allowed {
		if value == a {
			return nil
		}
	}
	return fieldErr(field, "%q is not one of %s", value, strings.Join(allowed, ", "))
}

func validateSizes(c *vendorConfig) error {
	strs := map[string]string{
		"client_id": c.ClientID, "client_secret": c.ClientSecret, "api_key": c.APIKey, "username": c.Username,
		"password": c.Password, "api_key_header": c.APIKeyHeader, "token_field": c.TokenField,
		"expires_in_field": c.ExpiresInField, "token_type_field": c.TokenTypeField,
	}
	for field, s := range strs {
		if len(s) > maxStringLen {
			return fieldErr(field, "longer than %d bytes", maxStringLen)
		}
	}
	if len(c.TokenURL) > maxTokenURL {
		return fieldErr("token_url", "longer than %d bytes", maxTokenURL)
	}
	if len(c.CACert) > maxCACertLen {
		return fieldErr("ca_cert", "longer than %d bytes", maxCACertLen)
	}
	return nil
}

func validateTokenURL(raw string) error {
	if raw == "" {
		return fieldErr("token_url", "required (the preset has no fixed token URL)")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return fieldErr("token_url", "must be an absolute URL such as https://auth.example.com/oauth/token")
	}
	if u.User != nil {
		return fieldErr("token_url", "must not carry credentials; use client_id/client_secret")
	}
	if u.Fragment != "" {
		return fieldErr("token_url", "must not have a fragment")
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	case u.Scheme == "http":
		return fieldErr("token_url", "must be https (http is allowed only for loopback hosts)")
	default:
		return fieldErr("token_url", "scheme %q is not https", u.Scheme)
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validateCredentials asks for what each grant sends.
func validateCredentials(c *vendorConfig) error {
	need := map[string][]string{
		grantPassword:          {"client_id", "username", "password"},
		grantLogin:             {"username", "password"},
		grantClientCredentials: {"client_id", "client_secret"},
	}[c.GrantType]
	if c.ClientAuth == authBasic {
		need = append(need, "client_id")
	}
	if p, ok := presets[c.Preset]; ok {
		need = append(need, p.Requires...)
	}
	have := map[string]string{
		"client_id": c.ClientID, "client_secret": c.ClientSecret, "username": c.Username,
		"password": c.Password, "api_key": c.APIKey,
	}
	for _, field := range need {
		if have[field] == "" {
			return fieldErr(field, "required for grant_type %s%s", c.GrantType, presetSuffix(c.Preset))
		}
	}
	return nil
}

func presetSuffix(p string) string {
	if p == "" {
		return ""
	}
	return " with preset " + p
}

func validateDurations(c *vendorConfig) error {
	durs := []struct {
		field string
		d     time.Duration
	}{{"default_ttl", c.DefaultTTL}, {"refresh_before", c.RefreshBefore}, {"max_ttl", c.MaxTTL}, {"timeout", c.Timeout}}
	for _, x := range durs {
		if x.d < 0 {
			return fieldErr(x.field, "must not be negative")
		}
		if x.d > maxDurationIn {
			return fieldErr(x.field, "must not exceed 10 years")
		}
	}
	if c.Timeout > maxTimeout {
		return fieldErr("timeout", "must not exceed %s", maxTimeout)
	}
	if c.DefaultTTL > 0 && c.DefaultTTL < minLifetime {
		return fieldErr("default_ttl", "must be at least %s", minLifetime)
	}
	return nil
}

func validateHeaderName(field, name string) error {
	if !httpTokenRe.MatchString(name) {
		return fieldErr(field, "%q is not a valid HTTP header name", name)
	}
	return nil
}

func validateHeaders(h map[string]string) error {
	if len(h) > maxPairs {
		return fieldErr("headers", "more than %d headers", maxPairs)
	}
	for name, value := range h {
		if err := validateHeaderName("headers", name); err != nil {
			return err
		}
		if reservedHeaders[http.CanonicalHeaderKey(name)] {
			return fieldErr("headers", "%q is set by the engine (use body_format for Content-Type)", name)
		}
		if strings.ContainsAny(value, "\r\n\x00") || len(value) > maxStringLen {
			return fieldErr("headers", "value of %q has a line break, NUL, or more than %d bytes", name, maxStringLen)
		}
	}
	return nil
}

func validateParams(p map[string]string) error {
	if len(p) > maxPairs {
		return fieldErr("params", "more than %d parameters", maxPairs)
	}
	for name, value := range p {
		if name == "" || len(name) > 256 || strings.ContainsAny(name, "\r\n\x00") {
			return fieldErr("params", "%q is not a valid parameter name", name)
		}
		if reservedParams[name] {
			return fieldErr("params", "%q is set from its own field; set that field instead", name)
		}
		if len(value) > maxStringLen {
			return fieldErr("params", "value of %q is longer than %d bytes", name, maxStringLen)
		}
	}
	return nil
}

func validateScopes(scopes []string) error {
	if len(scopes) > 64 {
		return fieldErr("scopes", "more than 64 scopes")
	}
	for _, s := range scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") || len(s) > 256 {
			return fieldErr("scopes", "%q is not a valid scope (RFC 6749 3.3)", s)
		}
	}
	return nil
}

func validateResponseFields(c *vendorConfig) error {
	for field, v := range map[string]string{"token_field": c.TokenField, "expires_in_field": c.ExpiresInField, "token_type_field": c.TokenTypeField} {
		if strings.TrimSpace(v) != v || strings.ContainsAny(v, "\r\n\x00") {
			return fieldErr(field, "%q has whitespace or control characters", v)
		}
	}
	return nil
}

func validateCACert(pemText string) error {
	if pemText == "" {
		return nil
	}
	rest := []byte(pemText)
	found := 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return fieldErr("ca_cert", "has a %q PEM block; only CERTIFICATE blocks belong here", block.Type)
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fieldErr("ca_cert", "certificate does not parse: %v", err)
		}
		found++
	}
	if found == 0 {
		return fieldErr("ca_cert", "no PEM CERTIFICATE block found")
	}
	return nil
}
