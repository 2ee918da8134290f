package oauth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// jwtExpiry reads the exp claim of a JWT access token without verifying
// it: AgentSync (page 004) issues JWTs, and the token itself is the best
// statement of its lifetime, whatever expires_in says. The signature is the
// vendor API's business, not ours.
//
// ok is false when the token is not a JWT with an exp claim (an opaque
// token, a JWE, a JWT without exp or with "exp": null). err is set when it
// is a JWT whose exp is no NumericDate (RFC 7519 section 2): a vendor that
// mangles its own tokens is not trusted to say how long they last. The
// value is seconds since the epoch, as written: an exp too large for a
// float64 is +Inf, so that the caller refuses it as too far ahead rather
// than this function mistaking it for "no exp".
func jwtExpiry(token string) (exp float64, ok bool, err error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return 0, false, nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return 0, false, nil
	}
	var claims map[string]json.RawMessage
	if json.Unmarshal(payload, &claims) != nil {
		return 0, false, nil
	}
	raw, has := claims["exp"]
	if !has || string(raw) == "null" {
		return 0, false, nil
	}
	// json.Number also takes a quoted number, which some issuers write.
	var num json.Number
	if json.Unmarshal(raw, &num) != nil {
		return 0, true, fmt.Errorf("the token is a JWT whose exp claim is not a number of seconds (RFC 7519 NumericDate)")
	}
	exp, perr := strconv.ParseFloat(num.String(), 64)
	if perr != nil && !(errors.Is(perr, strconv.ErrRange) && math.IsInf(exp, 0)) {
		return 0, true, fmt.Errorf("the token is a JWT whose exp claim is not a number of seconds (RFC 7519 NumericDate)")
	}
	return exp, true, nil
}
