package oauthvendor

import (
	"encoding/base64"
	"encoding/json"
	"html"
	"net/url"
	"sort"
	"strings"
)

const redacted = "[redacted]"

// redactor removes a config's secret values, in every encoding they travel
// in, from text that may be returned or logged. Vendors echo requests back
// in error bodies; the engine never trusts a vendor string to be clean.
type redactor struct {
	r *strings.Replacer
	// fragments are the long runs of each secret that no encoding changes.
	// Text still holding one after replacement quotes a secret in a form
	// not listed (a JSON body echoed inside a JSON error, so escaped twice;
	// a JSON body parsed as a form and split at & and =) and is withheld
	// whole rather than trusted.
	fragments []string
}

func newRedactor(cfg *vendorConfig) *redactor {
	var variants []string
	for _, s := range cfg.secrets() {
		variants = append(variants, encodings(s)...)
	}
	if cfg.ClientSecret != "" {
		// client_secret_basic: base64(urlencode(id):urlencode(secret)), RFC 6749 2.3.1.
		basic := url.QueryEscape(cfg.ClientID) + ":" + url.QueryEscape(cfg.ClientSecret)
		variants = append(variants, encodings(basic)...)
	}
	return &redactor{r: replacerFor(variants), fragments: fragmentsOf(cfg.secrets())}
}

// minFragment: runs shorter than this are too common in ordinary text to
// mean a leak.
const minFragment = 6

// fragmentsOf splits each secret at the characters some encoding rewrites
// (everything but RFC 3986's unreserved set) and keeps the long runs.
func fragmentsOf(secrets []string) []string {
	escaped := func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~", r))
	}
	var out []string
	for _, s := range secrets {
		for _, f := range strings.FieldsFunc(s, escaped) {
			if len(f) >= minFragment {
				out = append(out, f)
			}
		}
	}
	return out
}

// encodings are the forms a secret takes on the wire or in a vendor's echo.
func encodings(s string) []string {
	if s == "" {
		return nil
	}
	j, _ := json.Marshal(s)
	jj, _ := json.Marshal(string(j)) // a JSON body quoted inside a JSON error
	return []string{
		s,
		url.QueryEscape(s),
		url.PathEscape(s),
		strings.Trim(string(j), `"`),
		strings.TrimSuffix(strings.TrimPrefix(string(jj), `"\"`), `\""`),
		html.EscapeString(s),
		base64.StdEncoding.EncodeToString([]byte(s)),
		base64.RawStdEncoding.EncodeToString([]byte(s)),
		base64.URLEncoding.EncodeToString([]byte(s)),
		base64.RawURLEncoding.EncodeToString([]byte(s)),
	}
}

// replacerFor replaces longest variants first, so that an encoding
// containing another is removed whole.
func replacerFor(variants []string) *strings.Replacer {
	seen := map[string]bool{}
	var uniq []string
	for _, v := range variants {
		if v != "" && !seen[v] {
			seen[v] = true
			uniq = append(uniq, v)
		}
	}
	sort.Slice(uniq, func(i, j int) bool { return len(uniq[i]) > len(uniq[j]) })
	pairs := make([]string, 0, 2*len(uniq))
	for _, v := range uniq {
		pairs = append(pairs, v, redacted)
	}
	return strings.NewReplacer(pairs...)
}

func (r *redactor) String(s string) string {
	if r == nil {
		return s
	}
	out := r.r.Replace(s)
	for _, f := range r.fragments {
		if strings.Contains(out, f) {
			return redacted + " (withheld: the text repeats a credential in a form that cannot be cut out)"
		}
	}
	return out
}
