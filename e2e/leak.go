//go:build e2e

package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// secret is one credential value that must never be shown, with every form
// it could take on the way to a log or an answer.
type secret struct {
	label string // vendor and field, never the value
	forms []string
}

// secrets are every vendor's client secret, password and API key (client
// IDs and usernames are readable by design).
func (h *harness) secrets() []secret {
	var out []secret
	for _, v := range seedVendors {
		c := h.creds[v]
		for field, val := range map[string]string{"client_secret": c.ClientSecret, "password": c.Password, "api_key": c.APIKey} {
			if val == "" {
				continue
			}
			forms := encodedForms(val)
			if field == "client_secret" {
				// RFC 6749 2.3.1 client_secret_basic: base64 of the
				// form-encoded id and secret.
				forms = append(forms,
					base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(c.ClientID)+":"+url.QueryEscape(val))),
					base64.StdEncoding.EncodeToString([]byte(c.ClientID+":"+val)))
			}
			out = append(out, secret{label: v + " " + field, forms: dedupe(forms)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].label < out[j].label })
	madeUp.Lock()
	defer madeUp.Unlock()
	return append(out, madeUp.list...)
}

// madeUp are secret values tests invent (audit_test.go): every later scan,
// TestMain's included, looks for them along with the vendors' credentials.
var madeUp struct {
	sync.Mutex
	list []secret
}

// addSecret registers a made-up secret value. clientIDs: the client IDs it
// is sent with as a client secret in HTTP Basic (client_auth=basic).
func addSecret(label, value string, clientIDs ...string) secret {
	forms := encodedForms(value)
	for _, id := range clientIDs {
		forms = append(forms,
			base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(value))),
			base64.StdEncoding.EncodeToString([]byte(id+":"+value)))
	}
	s := secret{label: label, forms: dedupe(forms)}
	madeUp.Lock()
	defer madeUp.Unlock()
	madeUp.list = append(madeUp.list, s)
	return s
}

// encodedForms: raw, form- and path-encoded, each also as it appears inside
// a JSON string (with and without Go's HTML escaping), inside a JSON string
// inside a JSON string (a vendor's JSON echo quoted in a JSON audit entry)
// and one level deeper, and Go-quoted (hclog's quoting of values with
// spaces or quotes); plus base64, and the secret's long fragments.
func encodedForms(s string) []string {
	base := []string{s, url.QueryEscape(s), url.PathEscape(s)}
	var out []string
	for _, b := range base {
		j := jsonEscape(b, true)
		out = append(out, b, j, jsonEscape(b, false), jsonEscape(j, true), unquote(strconv.Quote(b)))
		// Three levels: a JSON request body, echoed by the vendor inside
		// its JSON error, quoted by the plugin, in Vault's JSON answer.
		out = append(out, jsonEscape(jsonEscape(j, true), true), jsonEscape(jsonEscape(jsonEscape(b, false), false), false))
	}
	out = append(out, fragments(s)...)
	return append(out, base64.StdEncoding.EncodeToString([]byte(s)), base64.RawURLEncoding.EncodeToString([]byte(s)))
}

// fragments are the long runs of s that no text encoding changes (letters,
// digits, - . _): whatever escaping a secret went through, or when it was
// cut into pieces (a JSON body parsed as a form splits at & and =), these
// still show. Short runs are left out: they could occur by chance.
func fragments(s string) []string {
	const minFragment = 10
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_')
	}) {
		if len(f) >= minFragment {
			out = append(out, f)
		}
	}
	return out
}

// jsonEscape is s as it appears between the quotes of a JSON string.
func jsonEscape(s string, htmlEscape bool) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(htmlEscape)
	_ = enc.Encode(s)
	return unquote(strings.TrimSpace(b.String()))
}

func unquote(q string) string { return strings.TrimSuffix(strings.TrimPrefix(q, `"`), `"`) }

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// findSecrets names every secret whose value shows in text, in any form.
func (h *harness) findSecrets(text string) []string {
	var found []string
	for _, s := range h.secrets() {
		for _, f := range s.forms {
			if strings.Contains(text, f) {
				found = append(found, fmt.Sprintf("%s (as %q)", s.label, f))
				break
			}
		}
	}
	return found
}

// scanLogsForSecrets checks the trace-level server log and the audit log.
func (h *harness) scanLogsForSecrets() error {
	for _, path := range []string{h.vaultLog, h.auditLog} {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if found := h.findSecrets(string(b)); len(found) > 0 {
			return fmt.Errorf("%s holds secrets in clear: %s", path, strings.Join(found, "; "))
		}
	}
	return nil
}
