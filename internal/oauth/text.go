package oauth

import (
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// MaxQuoted is how much of an operator value an error message quotes.
const MaxQuoted = 64

// Prefix is the only way operator text enters an error message: at most
// MaxQuoted bytes, cut on a rune boundary, so a 1 MB bad value is not sent
// back whole in the 400 (nor written to the audit log, where error text is
// not HMACed). Write-only values and header values never pass here: no
// message shows them, not even cut. Quote and Clip mark a cut with "...".
func Prefix(s string) (string, bool) {
	if len(s) <= MaxQuoted {
		return s, false
	}
	cut := MaxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut], true
}

// Quote shows an operator value as a Go string literal.
func Quote(s string) string {
	p, cut := Prefix(s)
	if cut {
		return strconv.Quote(p) + "..."
	}
	return strconv.Quote(p)
}

// Clip is Prefix for text that already quotes its part of a value (a parse
// error of token_url).
func Clip(s string) string {
	if p, cut := Prefix(s); cut {
		return p + "..."
	}
	return s
}

// Origin is scheme://host:port with the default port spelled out, so that
// https://a and https://a:443 are one host.
func Origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return OriginOf(u)
}

func OriginOf(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
	}
	return strings.ToLower(u.Scheme) + "://" + dialledHost(u.Hostname()) + ":" + port
}

// dialledHost is host as net/http dials it (its idnaASCII: an ASCII name
// as written, any other through IDNA's Lookup profile, RFC 5891), with
// ASCII letters lower-cased (DNS compares only those case-insensitively,
// RFC 4343). Unicode lower-casing would make U+0130 an ASCII "i" while
// the transport dials "xn--idp-8dc...", another domain: compared that way,
// a write could move the secrets to it as if it were the same host.
func dialledHost(host string) string {
	if !IsASCII(host) {
		a, err := idna.Lookup.ToASCII(host)
		if err != nil {
			return host // net/http dials it as written; so is it compared
		}
		host = a
	}
	return asciiLower(host)
}

func IsASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// asciiLower lower-cases A-Z only, keeping every byte's place.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
