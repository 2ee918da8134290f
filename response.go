package oauthvendor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// tokenResponse is what the engine takes from a vendor's 2xx answer.
type tokenResponse struct {
	AccessToken string
	TokenType   string
	// Lifetime is zero when the vendor gave none and the token is not a JWT
	// with exp: the caller falls back to default_ttl.
	Lifetime time.Duration
	// FromJWT says the lifetime came from the token's exp claim.
	FromJWT bool
}

// parseTokenResponse reads a 2xx body with the config's field names. Every
// failure says what was wrong without quoting the body (it holds the token).
func parseTokenResponse(body []byte, tokenField, expiresField, typeField string, now time.Time) (*tokenResponse, error) {
	doc, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	tok, err := stringField(doc, tokenField)
	if err != nil {
		return nil, err
	}
	out := &tokenResponse{AccessToken: tok, TokenType: normaliseTokenType(doc, typeField)}
	out.Lifetime, err = lifetimeField(doc, expiresField)
	if err != nil {
		return nil, err
	}
	if out.Lifetime == 0 {
		if exp, ok := jwtExpiry(tok); ok {
			out.Lifetime, out.FromJWT = exp.Sub(now), true
			if out.Lifetime < minLifetime {
				return nil, fmt.Errorf("the token is a JWT whose exp leaves %s (at least %s needed)", out.Lifetime.Truncate(time.Second), minLifetime)
			}
		}
	}
	return out, nil
}

func decodeObject(body []byte) (map[string]interface{}, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, fmt.Errorf("empty response body")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]interface{}
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("response is not a JSON object (%s)", describeBody(body))
	}
	return doc, nil
}

// lookup finds a field at the top level, or by a dotted path for vendors
// that nest their answer (e.g. data.accessToken).
func lookup(doc map[string]interface{}, field string) (interface{}, bool) {
	if v, ok := doc[field]; ok {
		return v, true
	}
	parts := strings.Split(field, ".")
	var cur interface{} = doc
	for _, p := range parts {
		m, ok := cur.(map[string]interface{})
		if !ok {
			return nil, false
		}
		if cur, ok = m[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func stringField(doc map[string]interface{}, field string) (string, error) {
	v, ok := lookup(doc, field)
	if !ok || v == nil {
		return "", fmt.Errorf("response has no %q field", field)
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("response field %q is a %s, not a string", field, jsonKind(v))
	}
	if strings.TrimSpace(s) == "" {
		return "", fmt.Errorf("response field %q is empty", field)
	}
	return s, nil
}

// lifetimeField accepts a number or a numeric string: the model-portfolio
// API (page 001) and others differ, and some gateways quote numbers.
func lifetimeField(doc map[string]interface{}, field string) (time.Duration, error) {
	v, ok := lookup(doc, field)
	if !ok || v == nil {
		return 0, nil
	}
	var text string
	switch x := v.(type) {
	case json.Number:
		text = x.String()
	case string:
		text = strings.TrimSpace(x)
	default:
		return 0, fmt.Errorf("response field %q is a %s, not a number of seconds", field, jsonKind(v))
	}
	secs, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsNaN(secs) || math.IsInf(secs, 0) {
		return 0, fmt.Errorf("response field %q is not a number of seconds", field)
	}
	return checkLifetime(field, secs)
}

func checkLifetime(field string, secs float64) (time.Duration, error) {
	if secs < minLifetime.Seconds() {
		return 0, fmt.Errorf("response field %q is %g seconds (at least %g needed)", field, secs, minLifetime.Seconds())
	}
	if secs > maxLifetime.Seconds() {
		return 0, fmt.Errorf("response field %q is %g seconds, more than 10 years", field, secs)
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// normaliseTokenType: Bearer when the vendor says nothing (AlertSite, page
// 002) and whatever case it uses ("bearer" on the model-portfolio page 001).
func normaliseTokenType(doc map[string]interface{}, field string) string {
	v, _ := lookup(doc, field)
	s, _ := v.(string)
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "bearer") {
		return "Bearer"
	}
	return s
}

func jsonKind(v interface{}) string {
	switch v.(type) {
	case json.Number:
		return "number"
	case string:
		return "string"
	case bool:
		return "boolean"
	case map[string]interface{}:
		return "object"
	case []interface{}:
		return "array"
	default:
		return "null"
	}
}

// describeBody names what came back without quoting it.
func describeBody(body []byte) string {
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
		return "empty body"
	case bytes.HasPrefix(bytes.ToLower(trimmed), []byte("<!doctype html")) || bytes.HasPrefix(bytes.ToLower(trimmed), []byte("<html")):
		return fmt.Sprintf("an HTML page, %d bytes", len(body))
	default:
		return fmt.Sprintf("%d bytes of non-JSON", len(body))
	}
}
