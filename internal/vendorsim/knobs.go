package vendorsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Fault is a failure mode of a token endpoint.
type Fault string

// Failure modes. Only the token endpoint is faulted; the API endpoint
// always answers by the token's validity.
const (
	FaultNone   Fault = ""
	FaultStatus Fault = "status" // Knobs.Status (default 401) with the vendor's own error body shape
	FaultHTML   Fault = "html"   // an HTML error page, text/html; Knobs.Status if set, else 503
	FaultEmpty  Fault = "empty"  // 200 with an empty body
	// FaultInvalidJSON answers 200, application/json, with a truncated JSON body.
	FaultInvalidJSON Fault = "invalid_json"
	// FaultNoToken answers the vendor's success body without its token member.
	FaultNoToken Fault = "no_token"
	// FaultNonStringToken answers the success body with the token member set to a
	// JSON number (AlphaSense, AlertSite, AgentSync) or object (ModelPortfolio, Alation).
	FaultNonStringToken Fault = "nonstring_token"
	// FaultExpiresIn issues a real token but reports its lifetime member as the
	// raw JSON text Knobs.ExpiresInRaw ("null" when empty). AlertSite, which
	// reports no lifetime, gets an "expires_in" member added.
	FaultExpiresIn Fault = "expires_in"
	// FaultHuge answers 200 with an 8 MiB JSON body; padding comes first and a
	// token-shaped value (never valid) last, so only an uncapped reader finds it.
	FaultHuge Fault = "huge"
	// FaultEcho answers 400 with the request (raw body, form values, all
	// headers) JSON-encoded into the description of the vendor's error shape.
	FaultEcho Fault = "echo"
	// FaultHang never answers until the request context is done (or Reset).
	FaultHang Fault = "hang"
	// FaultRateLimit answers 429 with Retry-After: Knobs.RetryAfter (omitted
	// when empty) and the vendor's error body (rate_limit_exceeded).
	FaultRateLimit Fault = "rate_limit"
	// FaultRedirect answers 307 to Knobs.RedirectTo (default
	// https://redirect.invalid<token path>), i.e. to another host.
	FaultRedirect Fault = "redirect"
)

var knownFaults = map[Fault]bool{
	FaultNone: true, FaultStatus: true, FaultHTML: true, FaultEmpty: true,
	FaultInvalidJSON: true, FaultNoToken: true, FaultNonStringToken: true,
	FaultExpiresIn: true, FaultHuge: true, FaultEcho: true, FaultHang: true,
	FaultRateLimit: true, FaultRedirect: true,
}

// Knobs steer one vendor's token endpoint.
type Knobs struct {
	Lifetime     time.Duration // token lifetime; zero means the vendor default
	Latency      time.Duration // delay before answering the token endpoint
	Fault        Fault
	FaultCount   int    // fault only the next N token requests; 0 = all while Fault is set
	Status       int    // for FaultStatus (default 401) and FaultHTML (default 503)
	ExpiresInRaw string // for FaultExpiresIn
	RetryAfter   string // for FaultRateLimit
	RedirectTo   string // for FaultRedirect
	// JWKSURL turns on private_key_jwt (assertion.go): client assertions
	// are verified against the JWKS at this URL, refetched on an unknown kid.
	JWKSURL string
	// JWTBearer turns on jwt_bearer mode (bearer.go): the token endpoint
	// takes RFC 7523 2.1's grant, an assertion verified against JWKSURL
	// and checked against the rule, instead of the vendor's own grant.
	JWTBearer *BearerRule
	// SubjectFrom, in the exchange mode, accepts only subject tokens
	// issued to this vendor or mode (any of the Sim's when empty).
	SubjectFrom string
}

// knobsWire is the JSON form of Knobs: durations as Go duration strings
// ("30s") so that shell scripts can write them.
type knobsWire struct {
	Lifetime     string      `json:"lifetime"`
	Latency      string      `json:"latency"`
	Fault        Fault       `json:"fault"`
	FaultCount   int         `json:"fault_count"`
	Status       int         `json:"status"`
	ExpiresInRaw string      `json:"expires_in_raw"`
	RetryAfter   string      `json:"retry_after"`
	RedirectTo   string      `json:"redirect_to"`
	JWKSURL      string      `json:"jwks_url"`
	JWTBearer    *BearerRule `json:"jwt_bearer,omitempty"`
	SubjectFrom  string      `json:"subject_from"`
}

// MarshalJSON writes snake_case members with durations as strings.
func (k Knobs) MarshalJSON() ([]byte, error) {
	return json.Marshal(knobsWire{
		Lifetime: k.Lifetime.String(), Latency: k.Latency.String(),
		Fault: k.Fault, FaultCount: k.FaultCount, Status: k.Status,
		ExpiresInRaw: k.ExpiresInRaw, RetryAfter: k.RetryAfter, RedirectTo: k.RedirectTo, JWKSURL: k.JWKSURL,
		JWTBearer:   k.JWTBearer,
		SubjectFrom: k.SubjectFrom,
	})
}

// UnmarshalJSON reads the MarshalJSON form. Member names are matched
// ignoring case, "_" and "-" (so "fault_count" and "FaultCount" both work),
// unknown members and unknown faults are errors (a typo in a test script
// should fail loudly, not silently run without the fault).
func (k *Knobs) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	var out Knobs
	for name, val := range raw {
		if err := out.setMember(normalizeMember(name), val); err != nil {
			return fmt.Errorf("knobs member %q: %w", name, err)
		}
	}
	if !knownFaults[out.Fault] {
		return fmt.Errorf("unknown fault %q", out.Fault)
	}
	*k = out
	return nil
}

func normalizeMember(name string) string {
	return strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(name))
}

func (k *Knobs) setMember(name string, val json.RawMessage) error {
	switch name {
	case "lifetime":
		return decodeDuration(val, &k.Lifetime)
	case "latency":
		return decodeDuration(val, &k.Latency)
	case "fault":
		return strictDecode(val, &k.Fault)
	case "faultcount":
		return strictDecode(val, &k.FaultCount)
	case "status":
		return strictDecode(val, &k.Status)
	case "expiresinraw":
		return strictDecode(val, &k.ExpiresInRaw)
	case "retryafter":
		return strictDecode(val, &k.RetryAfter)
	case "redirectto":
		return strictDecode(val, &k.RedirectTo)
	case "jwksurl":
		return strictDecode(val, &k.JWKSURL)
	case "jwtbearer":
		return strictDecode(val, &k.JWTBearer)
	case "subjectfrom":
		return strictDecode(val, &k.SubjectFrom)
	}
	return fmt.Errorf("unknown member")
}

// decodeDuration accepts only a duration string: a bare number would be
// ambiguous (seconds for a human, nanoseconds for time.Duration).
func decodeDuration(val json.RawMessage, d *time.Duration) error {
	var s string
	if err := strictDecode(val, &s); err != nil {
		return fmt.Errorf("want a duration string like \"30s\": %w", err)
	}
	if s == "" {
		*d = 0
		return nil
	}
	parsed, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = parsed
	return nil
}

func strictDecode(val json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(val))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// defaultKnobs returns the knobs of a fresh Sim for spec.
func defaultKnobs(spec *vendorSpec) Knobs {
	return Knobs{Lifetime: spec.defaultLifetime}
}

// withDefaults fills the zero Lifetime with the vendor default.
func (k Knobs) withDefaults(spec *vendorSpec) Knobs {
	if k.Lifetime == 0 {
		k.Lifetime = spec.defaultLifetime
	}
	return k
}
