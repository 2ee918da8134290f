package oauthvendor

import (
	"sync"
	"sync/atomic"
	"time"
)

const tokenPrefix = "token/"

// cachedToken is the vendor token shared by every reader of a config. It
// lives in Vault storage (barrier-encrypted) so that a plugin restart or a
// leader change serves it instead of minting a new one.
type cachedToken struct {
	AccessToken string    `json:"access_token"`
	TokenType   string    `json:"token_type"`
	MintedAt    time.Time `json:"minted_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	Generation  uint64    `json:"generation"`
	// IssuedTokenType: a token exchange's RFC 8693 issued_token_type.
	IssuedTokenType string `json:"issued_token_type,omitempty"`

	// read: somebody was served this token; only those are refreshed
	// proactively (readmark.go persists it for the next active node).
	read atomic.Bool

	// boxed holds the reader-facing values, formatted and boxed once per
	// token rather than on every cache hit (the hot path's allocations).
	boxOnce sync.Once
	boxed   struct{ accessToken, tokenType, expiresAt, issuedTokenType interface{} }
}

// boxedBearer is the token type nearly every token has, boxed once for
// all of them rather than once per token.
var boxedBearer interface{} = bearer

const bearer = "Bearer"

func (t *cachedToken) box() {
	t.boxOnce.Do(func() {
		t.boxed.accessToken = t.AccessToken
		t.boxed.tokenType = boxedBearer
		if t.TokenType != bearer {
			t.boxed.tokenType = t.TokenType
		}
		t.boxed.expiresAt = t.ExpiresAt.UTC().Format(time.RFC3339)
		if t.IssuedTokenType != "" {
			t.boxed.issuedTokenType = t.IssuedTokenType
		}
	})
}

// served is a token on its way to a reader, with a warning when it is the
// still-valid old token after a failed refresh.
type served struct {
	tok     *cachedToken
	warning string
	// at is when it was judged servable: the lease is cut from the same
	// instant, so a token judged to have minLease left gets that lease.
	at time.Time
	// minted: a grant made it for this read (metrics: source="grant").
	minted bool
}

// rfc3339 is how every time reaches an operator or reader (status, logs,
// errors); the zero time is "".
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
