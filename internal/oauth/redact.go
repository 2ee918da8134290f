package oauth

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"html"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// Redacted replaces a secret cut out of a text; Withheld replaces a whole
// text that repeats one in a form that cannot be cut out.
const (
	Redacted = "[redacted]"
	Withheld = Redacted + " (withheld: the text repeats a credential in a form that cannot be cut out)"

	redacted = Redacted
	withheld = Withheld
)

// minFragment: runs shorter than this are too common in ordinary text to
// mean a leak. It is also the line between the two guarantees below: a
// secret shorter than minFragment (or the Basic form of a client secret
// that short) is replaced only where one of its exact Encodings() appears;
// it is never looked for inside decoded text or at a misaligned base64
// offset, since five characters would match far too much by chance.
const minFragment = 6

// normaliseRounds bounds how many layers of escaping are peeled off: a JSON
// body echoed inside a JSON error, quoted in a JSON log line, is three.
const normaliseRounds = 4

// redactor removes a config's secret values, in every encoding they travel
// in, from text that may be returned or logged. Vendors echo requests back
// in error bodies; the engine never trusts a vendor string to be clean.
//
// It works off cfg.secrets() alone, so a new write-only value (a secret
// header or parameter) is covered by adding it there; the Basic form is the
// one value built here, because it is made of the client secret on the wire.
//
// A redactor is built per config version, but String runs only on error
// paths and a mount may hold 10 000 configs, so the tables are built on the
// first String call: a config that never fails costs a few string headers.
type redactor struct {
	// cfg, when set, is where secrets and basics come from, read on first
	// use: a warm config that never fails holds one pointer here, not a
	// copy of its secrets and their Basic forms.
	cfg      *Config
	loadOnce sync.Once
	*secretSet

	once sync.Once
	m    *matcher
}

// secretSet is what a redactor cuts out, allocated on first use.
type secretSet struct {
	secrets []string
	basics  []basicForm
}

// basicForm is a client_secret_basic credential, "id:secret", with where
// the secret starts in it and how long the secret is.
type basicForm struct {
	value     string
	secretAt  int
	secretLen int
}

// matcher is what String looks for, built once.
type matcher struct {
	// variants are exact encodings, longest first, replaced in place.
	variants []string
	// tokens are the secrets' runs as base64 (at every byte alignment) and
	// hex: an echoed body encoded whole. The encoded run holding one is cut
	// out whole, since its edge characters carry bits of the secret too.
	tokens []string
	// runs are the long runs of each secret that no text encoding changes.
	// Text still holding one after replacement quotes a secret in a form
	// not listed (a JSON body echoed inside a JSON error, so escaped twice;
	// a JSON body parsed as a form and split at & and =) and is withheld
	// whole rather than trusted.
	runs []string
}

func newRedactor(cfg *Config) *redactor {
	return &redactor{cfg: cfg}
}

// load reads the secrets of r.cfg, once.
func (r *redactor) load() {
	r.loadOnce.Do(func() {
		switch {
		case r.secretSet != nil: // built by redactorFor
		case r.cfg != nil:
			r.secretSet = redactorFor(r.cfg.secrets(), r.cfg.ClientID, r.cfg.ClientSecret).secretSet
		default:
			r.secretSet = &secretSet{}
		}
	})
}

// redactorFor redacts each of secrets alike, whatever field it came from,
// and the client_secret_basic form of clientSecret (none when empty).
func redactorFor(secrets []string, clientID, clientSecret string) *redactor {
	r := &redactor{secretSet: &secretSet{}}
	for _, s := range secrets {
		if s != "" {
			r.secrets = append(r.secrets, s)
		}
	}
	if clientSecret != "" {
		// client_secret_basic: base64(urlencode(id):urlencode(secret)), RFC 6749
		// 2.3.1; some clients skip the urlencoding, so a vendor may echo either.
		id, sec := url.QueryEscape(clientID), url.QueryEscape(clientSecret)
		r.basics = []basicForm{
			{id + ":" + sec, len(id) + 1, len(clientSecret)},
			{clientID + ":" + clientSecret, len(clientID) + 1, len(clientSecret)},
		}
	}
	return r
}

// with is a redactor for r's secrets and extra ones (one request's client
// assertions); its tables are built on first use, like r's.
func (r *redactor) with(extra []string) *redactor {
	r.load()
	out := redactorFor(append(append([]string(nil), r.secrets...), extra...), "", "")
	out.basics = r.basics
	return out
}

func (r *redactor) matcher() *matcher {
	r.load()
	r.once.Do(func() {
		var variants, tokens, runs []string
		for _, s := range r.secrets {
			variants = append(variants, Encodings(s)...)
			runs = append(runs, runsOf(s)...)
			for _, c := range coresOf(s) {
				tokens = append(tokens, alignedBase64(c)...)
				tokens = append(tokens, hex.EncodeToString([]byte(c)), strings.ToUpper(hex.EncodeToString([]byte(c))))
			}
		}
		for _, b := range r.basics {
			variants = append(variants, Encodings(b.value)...)
			if b.secretLen >= minFragment {
				// The header value is itself a credential; a vendor that
				// base64-encodes the request's headers wraps it once more.
				// From the group holding the secret's first byte on, it
				// depends only on the secret (and at most two id bytes).
				h := base64.StdEncoding.EncodeToString([]byte(b.value))
				tokens = append(tokens, alignedBase64(h[4*(b.secretAt/3):])...)
			}
		}
		variants = uniq(variants)
		// Longest first, so that an encoding containing another is removed whole.
		sort.SliceStable(variants, func(i, j int) bool { return len(variants[i]) > len(variants[j]) })
		r.m = &matcher{variants: variants, tokens: uniq(tokens), runs: uniq(runs)}
	})
	return r.m
}

// unreserved is RFC 3986's unreserved set: what no common encoding rewrites.
func unreserved(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~", r)
}

// fragmentsOf splits each secret at the characters some encoding rewrites
// and keeps the long runs.
func fragmentsOf(secrets []string) []string {
	var out []string
	for _, s := range secrets {
		for _, f := range strings.FieldsFunc(s, func(r rune) bool { return !unreserved(r) }) {
			if len(f) >= minFragment {
				out = append(out, f)
			}
		}
	}
	return out
}

// runsOf: a secret's long runs or, when it has none (every run short, as
// in "a+b/c=d&e+f"), the whole secret once it is long enough: decoded text
// then still has to hold it whole to be withheld.
func runsOf(s string) []string {
	if f := fragmentsOf([]string{s}); len(f) > 0 {
		return f
	}
	if len(s) >= minFragment {
		return []string{s}
	}
	return nil
}

// coresOf are the byte strings whose base64 and hex are looked for. The
// runs survive every text encoding, so an encoded echo of any of them
// holds an encoded run; a long secret without runs is looked for in the
// forms a request carries it in (header, form body, JSON body).
func coresOf(s string) []string {
	if f := fragmentsOf([]string{s}); len(f) > 0 {
		return f
	}
	if len(s) < minFragment {
		return nil
	}
	return uniq([]string{s, url.QueryEscape(s), jsonEscape(s, true), jsonEscape(s, false)})
}

// alignedBase64 is c's base64 (standard and URL alphabets) as it shows
// inside a longer encoded text, at each of the three byte alignments it can
// start at, with the edge characters that also encode neighbouring bytes
// dropped: 0, 2 or 3 leading ones, and the last one unless c ends a group.
// Padding only ever ends a text, so one inner form fits padded and raw.
func alignedBase64(c string) []string {
	var out []string
	for align, lead := range []int{0, 2, 3} {
		src := append(make([]byte, align), c...)
		tail := 0
		if len(src)%3 != 0 {
			tail = 1
		}
		for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
			e := enc.EncodeToString(src)
			if inner := e[lead : len(e)-tail]; len(inner) >= minFragment {
				out = append(out, inner)
			}
		}
	}
	return out
}

// Encodings are the exact forms a secret takes on the wire or in a vendor's
// echo. Forms that mix escaped and plain characters are not listed: String
// finds those by decoding the text instead.
func Encodings(s string) []string {
	if s == "" {
		return nil
	}
	j := jsonEscape(s, true)
	h := hex.EncodeToString([]byte(s))
	quoted := strconv.Quote(s)
	return []string{
		s,
		url.QueryEscape(s),
		url.PathEscape(s),
		j,
		jsonEscape(s, false),      // encoders that leave <, >, & alone
		jsonEscape(j, true),       // a JSON body quoted inside a JSON error
		quoted[1 : len(quoted)-1], // hclog quoting a value with spaces or quotes
		html.EscapeString(s),
		h,
		strings.ToUpper(h),
		base64.StdEncoding.EncodeToString([]byte(s)),
		base64.RawStdEncoding.EncodeToString([]byte(s)),
		base64.URLEncoding.EncodeToString([]byte(s)),
		base64.RawURLEncoding.EncodeToString([]byte(s)),
	}
}

// jsonEscape is s as it appears between the quotes of a JSON string.
func jsonEscape(s string, escapeHTML bool) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	_ = enc.Encode(s) // a string always encodes
	out := strings.TrimSuffix(b.String(), "\n")
	return out[1 : len(out)-1]
}

func uniq(ss []string) []string {
	seen := make(map[string]bool, len(ss))
	out := ss[:0]
	for _, s := range ss {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// String returns s with every secret cut out, or withheld whole when a
// secret shows in a form that cannot be cut out of s itself: only after
// unescaping (\uXXXX, \xXX, \", %XX, HTML entities, layered), or split by
// white space (base64 or hex wrapped into lines).
func (r *redactor) String(s string) string {
	if r == nil {
		return s
	}
	r.load()
	if len(r.secrets) == 0 && len(r.basics) == 0 {
		return s
	}
	m := r.matcher()
	out := cutTokens(s, m.tokens)
	for _, v := range m.variants {
		out = strings.ReplaceAll(out, v, redacted)
	}
	if containsAny(out, m.runs) {
		return withheld
	}
	for _, v := range normalisedViews(out) {
		if containsAny(v, m.runs) || containsAny(v, m.tokens) {
			return withheld
		}
	}
	return out
}

// HostText redacts cfg's credentials from s, vendor text that may hold
// host names (see redactor.HostText), for callers that quote what a
// server said outside a grant (discovery's refusals).
func HostText(cfg *Config, s string) string { return newRedactor(cfg).HostText(s) }

// HostText is String for text that may hold host names, which DNS and
// the x509 and url packages lower-case: a vendor's certificate valid for
// "<secret, lower-cased>.example" or a Location pointing there would pass
// String's case-sensitive match. Past String, each long run of a secret
// is cut out whatever the case of its ASCII letters (runs shorter than
// minFragment are not looked for: they would match ordinary names).
func (r *redactor) HostText(s string) string {
	if r == nil {
		return s
	}
	out := r.String(s)
	if len(r.secrets) == 0 { // String loaded them
		return out
	}
	for _, run := range r.matcher().runs {
		out = cutFold(out, asciiLower(run))
	}
	return out
}

// cutFold replaces each occurrence of lower (ASCII lower-case) in s,
// compared with ASCII letters folded; asciiLower keeps byte offsets, so
// what is found in the folded copy is cut from s itself.
func cutFold(s, lower string) string {
	folded := asciiLower(s)
	if !strings.Contains(folded, lower) {
		return s
	}
	var b strings.Builder
	done := 0
	for i := strings.Index(folded, lower); i >= 0; {
		b.WriteString(s[done:i])
		b.WriteString(redacted)
		done = i + len(lower)
		if i = strings.Index(folded[done:], lower); i >= 0 {
			i += done
		}
	}
	b.WriteString(s[done:])
	return b.String()
}

// sharesFragment reports whether s holds any piece of a secret of
// minFragment bytes, or a whole shorter secret, ASCII case folded: a
// stricter test than String's, for a short text shown verbatim beside a
// withheld message.
func (r *redactor) sharesFragment(s string) bool {
	if r == nil {
		return false
	}
	r.load()
	low := asciiLower(s)
	for _, secret := range r.secrets {
		sec := asciiLower(secret)
		if len(sec) < minFragment {
			if strings.Contains(low, sec) {
				return true
			}
			continue
		}
		for i := 0; i+minFragment <= len(low); i++ {
			if strings.Contains(sec, low[i:i+minFragment]) {
				return true
			}
		}
	}
	return false
}

func containsAny(s string, needles []string) bool {
	for _, n := range needles {
		if strings.Contains(s, n) {
			return true
		}
	}
	return false
}

// cutTokens replaces each run of encoding characters (base64 of either
// alphabet, hex, and the %, \ of an escaped one) that holds a token. One
// pass per token, so a vendor repeating an echo a thousand times costs no
// more than reading it.
func cutTokens(s string, tokens []string) string {
	for _, t := range tokens {
		i := strings.Index(s, t)
		if i < 0 {
			continue
		}
		var b strings.Builder
		b.Grow(len(s))
		done := 0 // s[:done] is written
		for i >= 0 {
			start, end := i, i+len(t)
			for start > done && isTokenByte(s[start-1]) {
				start--
			}
			for end < len(s) && isTokenByte(s[end]) {
				end++
			}
			b.WriteString(s[done:start])
			b.WriteString(redacted)
			done = end
			if i = strings.Index(s[done:], t); i >= 0 {
				i += done
			}
		}
		b.WriteString(s[done:])
		s = b.String()
	}
	return s
}

func isTokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("+/=_-%\\", c) >= 0
}

// normalisedViews are s unescaped layer by layer, then the last layer
// without white space. Decoding one copy and looking for the plain secret
// covers every mix of escaped and plain characters (Go's json.Marshal
// writes only <, >, & as \u003c..., JavaScript may escape all of them,
// in either case of hex digit) without listing each.
func normalisedViews(s string) []string {
	var views []string
	last := s
	for i := 0; i < normaliseRounds; i++ {
		next := unescapeOnce(last)
		if next == last {
			break
		}
		views = append(views, next)
		last = next
	}
	if stripped := strings.Join(strings.Fields(last), ""); stripped != last {
		views = append(views, stripped)
	}
	return views
}

// unescapeOnce decodes one layer of backslash escapes (JSON, JavaScript,
// Go), percent escapes and HTML character references. Malformed escapes
// are left as they are.
func unescapeOnce(s string) string {
	if !strings.ContainsAny(s, `\%&`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		if n, ok := decodeEscape(&b, s[i:]); ok {
			i += n
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	out := b.String()
	if strings.Contains(out, "&") {
		out = html.UnescapeString(out)
	}
	return out
}

var simpleEscapes = map[byte]byte{'"': '"', '\\': '\\', '/': '/', '\'': '\'', 'n': '\n', 't': '\t', 'r': '\r', 'b': '\b', 'f': '\f'}

// decodeEscape writes the escape s starts with, if any, and its length.
func decodeEscape(b *strings.Builder, s string) (int, bool) {
	switch {
	case len(s) >= 3 && s[0] == '%':
		if v, ok := hexByte(s[1:3]); ok {
			b.WriteByte(v)
			return 3, true
		}
	case len(s) >= 2 && s[0] == '\\':
		switch s[1] {
		case 'x':
			if len(s) >= 4 {
				if v, ok := hexByte(s[2:4]); ok {
					b.WriteByte(v)
					return 4, true
				}
			}
		case 'u':
			r, ok := hexRune(s[2:])
			if !ok {
				return 0, false
			}
			if utf16.IsSurrogate(r) {
				// JSON writes a character beyond U+FFFF as a surrogate pair.
				if len(s) >= 12 && s[6] == '\\' && s[7] == 'u' {
					if r2, ok := hexRune(s[8:]); ok {
						if c := utf16.DecodeRune(r, r2); c != utf8.RuneError {
							b.WriteRune(c)
							return 12, true
						}
					}
				}
				b.WriteRune(utf8.RuneError)
				return 6, true
			}
			b.WriteRune(r)
			return 6, true
		default:
			if v, ok := simpleEscapes[s[1]]; ok {
				b.WriteByte(v)
				return 2, true
			}
		}
	}
	return 0, false
}

func hexRune(s string) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	hi, ok1 := hexByte(s[0:2])
	lo, ok2 := hexByte(s[2:4])
	return rune(hi)<<8 | rune(lo), ok1 && ok2
}

func hexByte(s string) (byte, bool) {
	var v byte
	for i := 0; i < 2; i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | c
	}
	return v, true
}
