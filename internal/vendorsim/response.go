package vendorsim

import (
	"bytes"
	"encoding/json"
	"slices"
	"time"
)

// member is one JSON object member whose value is raw JSON text. Success
// bodies are built from members rather than structs so that faults can
// drop a member or put arbitrary (even invalid) JSON text in one, and so
// that members keep the order the vendor pages print them in.
type member struct {
	name string
	raw  string
}

func encodeObject(ms []member) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(rawJSON(m.name))
		b.WriteByte(':')
		b.WriteString(m.raw)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// rawJSON encodes a string or number; neither can fail.
func rawJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// defaultScope is what Alation reports when the request named no scope.
const defaultScope = "read"

// successMembers is the vendor's token answer, member for member in the
// order its page prints them. AlertSite (002_*.txt) answers access_token alone.
func (spec *vendorSpec) successMembers(tok string, lifetime time.Duration, scope string) []member {
	if scope == "" {
		scope = defaultScope
	}
	ms := make([]member, 0, len(spec.success))
	for _, name := range spec.success {
		var v any
		switch name {
		case spec.tokenField:
			v = tok
		case spec.lifetimeField:
			v = int64(lifetime / time.Second)
		case spec.tokenTypeField:
			v = spec.tokenType
		case "scope":
			v = scope
		case "issued_token_type": // RFC 8693 2.2.1
			v = "urn:ietf:params:oauth:token-type:access_token"
		}
		ms = append(ms, member{name, rawJSON(v)})
	}
	return ms
}

// withRawLifetime puts raw JSON text in the lifetime member (FaultExpiresIn);
// a vendor that reports no lifetime gets an "expires_in" member added.
func (spec *vendorSpec) withRawLifetime(ms []member, raw string) []member {
	if raw == "" {
		raw = "null"
	}
	name := spec.lifetimeField
	if name == "" {
		return append(ms, member{"expires_in", raw})
	}
	return replaceMember(ms, name, raw)
}

func replaceMember(ms []member, name, raw string) []member {
	out := slices.Clone(ms)
	for i := range out {
		if out[i].name == name {
			out[i].raw = raw
		}
	}
	return out
}

func dropMember(ms []member, name string) []member {
	return slices.DeleteFunc(slices.Clone(ms), func(m member) bool { return m.name == name })
}
