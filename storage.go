package oauthvendor

// The storage records, below every user: config/<name> (config.go's
// vendorConfig), token/<name> (token.go's cachedToken), status/<name>
// (grantStatus, here), readmark/<name> (readmark.go) and
// needsconsent/<name> (consentmark.go); the JSON keys of each are their
// stored format, which records already stored must keep decoding into.
// Also the storage errors' shared shapes (notFound, readOnlyOr).

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
)

// getJSON reads one JSON record; nil when absent. what names it in errors.
func getJSON[T any](ctx context.Context, s logical.Storage, key, what string) (*T, error) {
	raw, err := s.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	if raw == nil {
		return nil, nil
	}
	var v T
	if err := raw.DecodeJSON(&v); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", what, err)
	}
	return &v, nil
}

func putJSON(ctx context.Context, s logical.Storage, key, what string, v interface{}) error {
	raw, err := logical.StorageEntryJSON(key, v)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", what, err)
	}
	if err := s.Put(ctx, raw); err != nil {
		return fmt.Errorf("storing %s: %w", what, err)
	}
	return nil
}

// loadConfig: nil for a name no config can have (storage refuses keys
// such as "a..b"), so every path answers it with its 404, not a 500.
func loadConfig(ctx context.Context, s logical.Storage, name string) (*vendorConfig, error) {
	if !storableName(name) {
		return nil, nil
	}
	return getJSON[vendorConfig](ctx, s, configPrefix+name, fmt.Sprintf("config %q", name))
}

// mustLoadConfig is loadConfig for paths where a missing config is the
// caller's 404.
func mustLoadConfig(ctx context.Context, s logical.Storage, name string) (*vendorConfig, error) {
	cfg, err := loadConfig(ctx, s, name)
	if err == nil && cfg == nil {
		err = notFound(name)
	}
	return cfg, err
}

func storeConfig(ctx context.Context, s logical.Storage, name string, cfg *vendorConfig) error {
	return putJSON(ctx, s, configPrefix+name, fmt.Sprintf("config %q", name), cfg)
}

func loadToken(ctx context.Context, s logical.Storage, name string) (*cachedToken, error) {
	return getJSON[cachedToken](ctx, s, tokenPrefix+name, fmt.Sprintf("cached token of %q", name))
}

func storeToken(ctx context.Context, s logical.Storage, name string, t *cachedToken) error {
	return putJSON(ctx, s, tokenPrefix+name, fmt.Sprintf("cached token of %q", name), t)
}

func loadStatus(ctx context.Context, s logical.Storage, name string) (*grantStatus, error) {
	st, err := getJSON[grantStatus](ctx, s, statusPrefix+name, fmt.Sprintf("status of %q", name))
	if st == nil && err == nil {
		st = &grantStatus{}
	}
	return st, err
}

func storeStatus(ctx context.Context, s logical.Storage, name string, st *grantStatus) error {
	return putJSON(ctx, s, statusPrefix+name, fmt.Sprintf("status of %q", name), st)
}

// The authorization_code grant's records, seal-wrapped (backend.go): the
// refresh tokens (refreshtoken.go), the consent in progress (consent.go)
// and the device consent being polled (device_consent.go).
const (
	refreshPrefix = "refresh/"
	consentPrefix = "consent/"
	// devicePrefix holds only device consents still polled: listing it is
	// the poller's whole index (O(pending), whatever the configs count).
	devicePrefix = "device/"
)

// refreshRecord is refresh/<name>. Never read, listed or logged whole:
// config reads say refresh_token_set only.
type refreshRecord struct {
	// Current is what the next refresh grant sends.
	Current string `json:"current"`
	// Previous is the token Current replaced, kept for the operator's
	// recovery (a vendor with a reuse window still takes it for a while);
	// no grant sends it: strict vendors revoke the whole family on reuse.
	Previous    string    `json:"previous,omitempty"`
	ConsentedAt time.Time `json:"consented_at"`
	RotatedAt   time.Time `json:"rotated_at,omitempty"`
}

// consentRecord is consent/<name> (seal-wrapped): the consent in
// progress; a new one replaces it. The state itself is not stored, only
// its digest: the record alone cannot finish a consent.
type consentRecord struct {
	StateHash string `json:"state_hash"`
	// Verifier is the PKCE code_verifier; it leaves Vault only in the
	// code exchange, to the token endpoint.
	Verifier string `json:"verifier"`
	// Generation is the config version the consent was started for: a
	// config changed meanwhile (another client, another vendor) must not
	// receive its code.
	Generation uint64    `json:"generation"`
	StartedAt  time.Time `json:"started_at"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// deviceRecord is device/<name> (seal-wrapped): a device consent (RFC
// 8628) still polled. Deleted when it ends; its outcome stays in
// status/<name> (deviceProgress).
type deviceRecord struct {
	// DeviceCode is a credential: it leaves Vault only in the polls, to
	// the token endpoint.
	DeviceCode string `json:"device_code"`
	// Poll is the polling state after the last step: a restart or a new
	// leader continues from it (interval, slow_down, back-off).
	Poll oauth.DevicePoll `json:"poll"`
	// Generation is the config version the consent was started for, as
	// consentRecord's.
	Generation uint64 `json:"generation"`
}

// deviceProgress is where the last device consent stands, in
// status/<name> for every node and the status list: what the user was
// told (the user code is for humans, RFC 8628 3.3) and the outcome.
// Never the device code.
type deviceProgress struct {
	// State is device-pending, slow-down, approved, denied, expired or
	// failed (deviceStateNames).
	State                   string        `json:"state"`
	UserCode                string        `json:"user_code"`
	VerificationURI         string        `json:"verification_uri"`
	VerificationURIComplete string        `json:"verification_uri_complete,omitempty"`
	StartedAt               time.Time     `json:"started_at"`
	ExpiresAt               time.Time     `json:"expires_at"`
	Interval                time.Duration `json:"interval"`
	NextPollAt              time.Time     `json:"next_poll_at,omitempty"`
	// Error is the poll's error (redacted) that ended the consent, or the
	// last transient one.
	Error string `json:"error,omitempty"`
}

func loadDevice(ctx context.Context, s logical.Storage, name string) (*deviceRecord, error) {
	return getJSON[deviceRecord](ctx, s, devicePrefix+name, fmt.Sprintf("device consent of %q", name))
}

func storeDevice(ctx context.Context, s logical.Storage, name string, d *deviceRecord) error {
	return putJSON(ctx, s, devicePrefix+name, fmt.Sprintf("device consent of %q", name), d)
}

func loadRefresh(ctx context.Context, s logical.Storage, name string) (*refreshRecord, error) {
	return getJSON[refreshRecord](ctx, s, refreshPrefix+name, fmt.Sprintf("refresh token of %q", name))
}

func storeRefresh(ctx context.Context, s logical.Storage, name string, r *refreshRecord) error {
	return putJSON(ctx, s, refreshPrefix+name, fmt.Sprintf("refresh token of %q", name), r)
}

func loadConsent(ctx context.Context, s logical.Storage, name string) (*consentRecord, error) {
	return getJSON[consentRecord](ctx, s, consentPrefix+name, fmt.Sprintf("consent in progress of %q", name))
}

func storeConsent(ctx context.Context, s logical.Storage, name string, c *consentRecord) error {
	return putJSON(ctx, s, consentPrefix+name, fmt.Sprintf("consent in progress of %q", name), c)
}

// deleteRecords deletes name's record under each prefix, in order.
func deleteRecords(ctx context.Context, s logical.Storage, name string, prefixes ...string) error {
	for _, prefix := range prefixes {
		if err := s.Delete(ctx, prefix+name); err != nil {
			return fmt.Errorf("deleting %s%s: %w", prefix, name, err)
		}
	}
	return nil
}

// storableName: Vault's storage view refuses keys holding ".."
// (logical.ErrRelativePath), which the route's name pattern lets through.
func storableName(name string) bool { return !strings.Contains(name, "..") }

const statusPrefix = "status/"

// grantStatus is the operator's view of a config's grants and the state
// of its back-off. It lives in storage next to the token, so every node
// (and a new leader, or the plugin after a restart) reports the same
// history and honours the same back-off. It never holds the token or a
// secret: last_error is already redacted.
type grantStatus struct {
	Grants        uint64    `json:"grants"`
	Failures      uint64    `json:"failures"`
	LastGrantAt   time.Time `json:"last_grant_at,omitempty"`
	LastFailureAt time.Time `json:"last_failure_at,omitempty"`
	LastError     string    `json:"last_error,omitempty"`
	// LastErrorCode is the HTTP status readers got with LastError (502,
	// 504), 0 for an internal (storage) failure.
	LastErrorCode int `json:"last_error_code,omitempty"`

	// ConsecutiveFailures since the last success; drives the back-off.
	ConsecutiveFailures int `json:"consecutive_failures,omitempty"`
	// NextAttemptAt: until then readers get LastError (or the still-valid
	// token with a warning) without a vendor request.
	NextAttemptAt time.Time `json:"next_attempt_at,omitempty"`
	// GrantStartedAt is written before the vendor is asked: a node that
	// cannot write storage learns it there, and status shows a grant in
	// flight. GrantTimeout is the config's timeout then: a start older
	// than that is a node that died mid-grant.
	GrantStartedAt time.Time     `json:"grant_started_at,omitempty"`
	GrantTimeout   time.Duration `json:"grant_timeout,omitempty"`

	// TokenMintedAt and TokenExpiresAt are the times of the token cached
	// for the current config (zero when none): kept here so that listing
	// every connection's state reads one record per name, not three.
	TokenMintedAt  time.Time `json:"token_minted_at,omitempty"`
	TokenExpiresAt time.Time `json:"token_expires_at,omitempty"`

	// NeedsConsent: the vendor refused the refresh token (invalid_grant)
	// or none is held; no refresh grant runs until a consent finishes
	// (refreshtoken.go).
	NeedsConsent bool `json:"needs_consent,omitempty"`

	// Device is the last device consent's progress (device_consent.go),
	// nil when none was started since the last consent by code.
	Device *deviceProgress `json:"device,omitempty"`
}

// cachedTimes is the cached token as far as the record knows it (times
// only), nil when none.
func (st *grantStatus) cachedTimes() *cachedToken {
	if st.TokenExpiresAt.IsZero() {
		return nil
	}
	return &cachedToken{MintedAt: st.TokenMintedAt, ExpiresAt: st.TokenExpiresAt}
}

// readOnlyOr hands Vault logical.ErrReadOnly itself when storage refused a
// write for that reason, so that it forwards the request to the node that
// can write (matched by message: errors.Is does not survive gRPC).
func readOnlyOr(err error) error {
	if strings.Contains(err.Error(), logical.ErrReadOnly.Error()) {
		return logical.ErrReadOnly
	}
	return err
}

func notFound(name string) error {
	return logical.CodedError(404, fmt.Sprintf("no vendor config named %q", name))
}
