package vendorsim

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
)

// jwtHeader is AgentSync's header: its example token starts with
// "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9", i.e. {"alg":"RS256","typ":"JWT"} (004_*.txt).
const jwtHeader = `{"alg":"RS256","typ":"JWT"}`

const agentSyncIssuer = "https://auth.agentsync.io/"

type jwtClaims struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Iat int64  `json:"iat"`
	Exp int64  `json:"exp"`
	Jti string `json:"jti"`
}

// mintJWT builds an AgentSync-style JWT whose exp follows the sim clock. The
// signature is 256 random bytes (an RS256 signature's length): nobody
// verifies it, and the plugin must treat the token as opaque anyway.
func mintJWT(in mintInput) string {
	claims, _ := json.Marshal(jwtClaims{
		Iss: agentSyncIssuer, Sub: in.clientID,
		Iat: in.issued.Unix(), Exp: in.expires.Unix(),
		Jti: hex.EncodeToString(randomBytes(16)),
	})
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(jwtHeader)) + "." + enc.EncodeToString(claims) + "." + enc.EncodeToString(randomBytes(256))
}
