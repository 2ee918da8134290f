package oauthvendor

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strings"
	"time"
)

// jwtExpiry reads the exp claim of a JWT access token without verifying
// it: AgentSync (page 004) issues JWTs, and when a vendor omits expires_in
// the token itself is the best statement of its lifetime. The signature is
// the vendor API's business, not ours.
func jwtExpiry(token string) (time.Time, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil || claims.Exp == "" {
		return time.Time{}, false
	}
	exp, err := claims.Exp.Float64()
	if err != nil || exp <= 0 || exp > math.MaxInt32*4 {
		return time.Time{}, false
	}
	return time.Unix(int64(exp), 0), true
}
