package oauth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Bounds of a token's lifetime, from expires_in or a JWT's exp.
const (
	// MinLifetime: a lifetime shorter than this could never give a lease of
	// a couple of seconds after its margin, so it is refused as garbage.
	MinLifetime = 3 * time.Second
	// MaxLifetime: anything longer is a vendor bug (or an overflow attempt).
	MaxLifetime = 10 * 365 * 24 * time.Hour
)

// Fields name where an answer keeps the token, its lifetime and its type
// (a dotted path for vendors that nest their answer).
type Fields struct {
	Token, ExpiresIn, TokenType string
}

// TokenResponse is what is taken from a vendor's 2xx answer.
type TokenResponse struct {
	AccessToken string
	TokenType   string

	// RefreshToken is the answer's refresh_token, "" when it has none or
	// RefreshTokenErr says why it is unusable. A malformed one is not the
	// answer's failure: a machine-to-machine grant never sends it back,
	// so only a grant that keeps it (Config.keepsRefreshToken) refuses it.
	RefreshToken    string
	RefreshTokenErr error

	// Lifetime is zero when the vendor gave none and the token is not a JWT
	// with exp: the caller falls back to default_ttl.
	Lifetime time.Duration
	// FromJWT says the token's exp claim decided the lifetime: there was no
	// expires_in, or exp comes before it.
	FromJWT bool
	// IssuedTokenType is RFC 8693 2.2.1's issued_token_type, when the
	// answer has a well-formed one ("" otherwise).
	IssuedTokenType string
}

// ParseTokenResponse reads a 2xx body with the config's field names. Every
// failure says what was wrong without quoting the body (it holds the token).
//
// now is when the request was sent. expires_in counts from the vendor's
// answer, which comes later, so now+expires_in errs on the early side; exp
// is a point in time, so now+(exp-now) ends exactly at exp.
func ParseTokenResponse(body []byte, f Fields, now time.Time) (*TokenResponse, error) {
	tokenField, expiresField, typeField := f.Token, f.ExpiresIn, f.TokenType
	doc, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	tok, err := stringField(doc, tokenField)
	if err != nil {
		return nil, err
	}
	if err := checkAccessToken(tokenField, tok); err != nil {
		return nil, err
	}
	typ, err := tokenTypeField(doc, typeField)
	if err != nil {
		return nil, err
	}
	out := &TokenResponse{AccessToken: tok, TokenType: typ, IssuedTokenType: issuedTokenType(doc)}
	out.Lifetime, err = lifetimeField(doc, expiresField)
	if err != nil {
		return nil, err
	}
	out.RefreshToken, out.RefreshTokenErr = refreshTokenField(doc)
	// The earlier of expires_in and exp (API.md "Failures and back-off"):
	// a vendor whose JWT says 10 s while expires_in says a day would
	// otherwise have readers sent away with a dead token for a day.
	fromJWT, isJWT, err := jwtLifetime(tok, now)
	if err != nil {
		return nil, err
	}
	if isJWT && (out.Lifetime == 0 || fromJWT < out.Lifetime) {
		out.Lifetime, out.FromJWT = fromJWT, true
	}
	return out, nil
}

// jwtLifetime is what a JWT's exp leaves of the token at now, held to the
// same bounds as expires_in: an exp already past, too close to use, or more
// than MaxLifetime ahead is a refusal, never a silent fall back to
// default_ttl. The bounds are checked in float seconds first, so that an
// absurd exp cannot overflow a time.Duration.
func jwtLifetime(tok string, now time.Time) (time.Duration, bool, error) {
	exp, ok, err := jwtExpiry(tok)
	if !ok || err != nil {
		return 0, ok, err
	}
	left := exp - (float64(now.Unix()) + float64(now.Nanosecond())/1e9)
	switch {
	case left <= 0:
		return 0, true, fmt.Errorf("the token is a JWT whose exp has already passed (a vendor clock or Vault's clock may be wrong)")
	case left > MaxLifetime.Seconds():
		return 0, true, fmt.Errorf("the token is a JWT whose exp is more than 10 years ahead")
	}
	sec, frac := math.Modf(exp)
	lifetime := time.Unix(int64(sec), int64(frac*1e9)).Sub(now)
	if lifetime < MinLifetime {
		return 0, true, fmt.Errorf("the token is a JWT whose exp leaves %s (at least %s needed)", lifetime.Truncate(time.Second), MinLifetime)
	}
	return lifetime, true, nil
}

// maxAccessTokenBytes caps the access token. It is cached in one storage
// entry (cachedToken, JSON) and Vault records it again in the lease of
// every reader; raft refuses any value over 1 MiB. JSON writes <, > and &
// as \u003c, so a 64 KiB token may take 384 KiB stored, which still leaves
// room for the rest of the record and the barrier's overhead. Real tokens
// are far smaller: the opaque ones on pages 000 and 002 are tens of
// characters, and an RS256 JWT such as AgentSync's (page 004) with a
// handful of claims is a kilobyte or two.
const maxAccessTokenBytes = 64 << 10

// refreshTokenField is the answer's refresh_token (RFC 6749 5.1, where
// user-delegated grants return one), held to RFC 6749 A.17's 1*VSCHAR and
// the access token's size cap: it is stored and sent back as it is.
func refreshTokenField(doc map[string]interface{}) (string, error) {
	v, ok := doc["refresh_token"]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("response field %q is a %s, not a string", "refresh_token", jsonKind(v))
	}
	if s == "" {
		return "", nil
	}
	if err := checkAccessToken("refresh_token", s); err != nil {
		return "", err
	}
	return s, nil
}

// maxTokenTypeBytes caps token_type: registered types are words ("Bearer",
// "DPoP", "N_A"); anything this long is not a type.
const maxTokenTypeBytes = 256

// checkAccessToken: RFC 6749 A.12 access-token = 1*VSCHAR (%x20-7E). A
// control character (CR, LF, NUL, DEL), a Unicode line separator or a
// bidi override would split or forge the Authorization header a reader
// builds, or a log line; no vendor page shows a token that needs one.
func checkAccessToken(field, tok string) error {
	if len(tok) > maxAccessTokenBytes {
		return fmt.Errorf("response field %q is %d bytes, more than the %d bytes a cached token may hold", field, len(tok), maxAccessTokenBytes)
	}
	if i, r, bad := firstInvalid(tok, isVSCHAR); bad {
		return fmt.Errorf("response field %q holds %s at byte %d: an access token is printable ASCII (RFC 6749 A.12)", field, describeRune(r), i)
	}
	return nil
}

// tokenTypeField: Bearer when the vendor says nothing (AlertSite, page 002)
// and whatever case it uses ("bearer" on the model-portfolio page 001).
// Anything else must be an RFC 6749 A.13 token-type (a type-name or a URI)
// since readers put it in front of the token in an Authorization header.
// Surrounding spaces are forgiven; other whitespace is a control character.
func tokenTypeField(doc map[string]interface{}, field string) (string, error) {
	v, _ := lookup(doc, field)
	if v == nil {
		return "Bearer", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("response field %q is a %s, not a string", field, jsonKind(v))
	}
	s = strings.Trim(s, " ")
	switch {
	case s == "" || strings.EqualFold(s, "bearer"):
		return "Bearer", nil
	case len(s) > maxTokenTypeBytes:
		return "", fmt.Errorf("response field %q is %d bytes, more than the %d bytes of a token type", field, len(s), maxTokenTypeBytes)
	}
	if i, r, bad := firstInvalid(s, isTokenTypeChar); bad {
		return "", fmt.Errorf("response field %q holds %s at byte %d: a token type is a name or a URI (RFC 6749 A.13)", field, describeRune(r), i)
	}
	return s, nil
}

// issuedTokenType is the answer's RFC 8693 2.2.1 issued_token_type: shown
// to readers beside token_type, so only a string of a token type's
// characters and length; anything else is left out rather than failing a
// grant over a field that only informs.
func issuedTokenType(doc map[string]interface{}) string {
	s, ok := doc["issued_token_type"].(string)
	if !ok || s == "" || len(s) > maxTokenTypeBytes {
		return ""
	}
	if _, _, bad := firstInvalid(s, isTokenTypeChar); bad {
		return ""
	}
	return s
}

func firstInvalid(s string, valid func(rune) bool) (int, rune, bool) {
	for i, r := range s {
		if !valid(r) {
			return i, r, true
		}
	}
	return 0, 0, false
}

// isVSCHAR: RFC 6749 A VSCHAR = %x20-7E.
func isVSCHAR(r rune) bool { return r >= 0x20 && r <= 0x7e }

// isTokenTypeChar: RFC 6749 A.13 token-type = type-name / URI-reference,
// name-char = "-" / "." / "_" / DIGIT / ALPHA, and the characters an
// RFC 3986 URI may hold (unreserved, reserved, "%").
func isTokenTypeChar(r rune) bool {
	return r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		strings.ContainsRune("-._~:/?#[]@!$&'()*+,;=%", r))
}

// describeRune names an offending character by kind and code point, never
// by itself: it may be a line break or a bidi override.
func describeRune(r rune) string {
	switch {
	case r == utf8.RuneError:
		return "invalid UTF-8 or U+FFFD"
	case unicode.IsControl(r):
		return fmt.Sprintf("a control character (%U)", r)
	case unicode.Is(unicode.Cf, r) || unicode.In(r, unicode.Zl, unicode.Zp):
		return fmt.Sprintf("a format or line-separator character (%U)", r)
	case r >= 0x80:
		return fmt.Sprintf("a non-ASCII character (%U)", r)
	default:
		return fmt.Sprintf("the character %U", r)
	}
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
	secs, ok, err := secondsField(doc, field)
	if !ok || err != nil {
		return 0, err
	}
	return checkLifetime(field, secs)
}

// secondsField is a number of seconds, given as a number or a numeric
// string; ok is false when the field is absent or null.
func secondsField(doc map[string]interface{}, field string) (secs float64, ok bool, err error) {
	v, ok := lookup(doc, field)
	if !ok || v == nil {
		return 0, false, nil
	}
	var text string
	switch x := v.(type) {
	case json.Number:
		text = x.String()
	case string:
		text = strings.TrimSpace(x)
	default:
		return 0, true, fmt.Errorf("response field %q is a %s, not a number of seconds", field, jsonKind(v))
	}
	secs, err = strconv.ParseFloat(text, 64)
	if err != nil || math.IsNaN(secs) || math.IsInf(secs, 0) {
		return 0, true, fmt.Errorf("response field %q is not a number of seconds", field)
	}
	return secs, true, nil
}

func checkLifetime(field string, secs float64) (time.Duration, error) {
	if secs < MinLifetime.Seconds() {
		return 0, fmt.Errorf("response field %q is %g seconds (at least %g needed)", field, secs, MinLifetime.Seconds())
	}
	if secs > MaxLifetime.Seconds() {
		return 0, fmt.Errorf("response field %q is %g seconds, more than 10 years", field, secs)
	}
	return time.Duration(secs * float64(time.Second)), nil
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
