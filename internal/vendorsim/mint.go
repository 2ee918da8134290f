package vendorsim

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"
)

// mintInput is what a token minter may embed.
type mintInput struct {
	clientID string
	issued   time.Time
	expires  time.Time
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it crashes the program instead)
	return b
}

// mintUUID looks like AlphaSense's "123456-1234-12..." example (000_*.txt).
func mintUUID(mintInput) string {
	b := randomBytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// mintHex is AlertSite's 32 hex digits, e.g. "695573df9519132454d3f461179aaaf9" (002_*.txt).
func mintHex(mintInput) string {
	return hex.EncodeToString(randomBytes(16))
}

// mintBase64 is an opaque base64url token (the model-portfolio page shows none).
func mintBase64(mintInput) string {
	return base64.RawURLEncoding.EncodeToString(randomBytes(32))
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// mintAlnum is 30 alphanumerics, the shape django-oauth-toolkit (behind
// Alation's /oauth/v2/token/) issues by default.
func mintAlnum(mintInput) string {
	b := randomBytes(30)
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return string(b)
}
