package oauthvendor

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
)

// The adapter between the lifecycle and the vendor protocol
// (internal/oauth): a stored config becomes an oauth.Config, an
// oauth.Token a cachedToken, an *oauth.Error a grantFailure, and the
// client's attempts and grants are counted in the config's metrics.
// Nothing below this file knows Vault.

// The protocol's bounds are the timing policy's (timing.go): these fail
// to compile when the two differ.
var (
	_ = [1]struct{}{}[minLifetime-oauth.MinLifetime]
	_ = [1]struct{}{}[oauth.MinLifetime-minLifetime]
	_ = [1]struct{}{}[maxLifetime-oauth.MaxLifetime]
	_ = [1]struct{}{}[oauth.MaxLifetime-maxLifetime]
	_ = [1]struct{}{}[retryAfterMax-oauth.MaxRetryAfter]
	_ = [1]struct{}{}[oauth.MaxRetryAfter-retryAfterMax]
	_ = [1]struct{}{}[refreshWorkers-oauth.IdleConnsPerHost]
	_ = [1]struct{}{}[oauth.IdleConnsPerHost-refreshWorkers]
)

// connection is a config ready to run: the effective settings and its
// oauth client (transport share, assertion signer), built once per config
// version, not per read. release
// gives back its share of the transport the client uses; the
// connection's owner calls it once it is done.
type connection struct {
	b      *backend
	name   string
	cfg    *vendorConfig
	client *oauth.Client
	m      *configMetrics
	// supplier makes the assertions of a config that does not sign with
	// its own key (assertion_source.go); nil otherwise.
	supplier oauth.AssertionSupplier
	// ownSubject makes the subject tokens of a token_exchange config
	// without subject_config (assertion_source.go); nil otherwise.
	ownSubject oauth.SubjectSource
	// guard refuses a request whose JWT would go to a host off oidc/config
	// allowed_token_hosts (token_hosts.go); nil without a source's JWT.
	guard func(context.Context) error
}

// connect prepares a stored config to run.
func (b *backend) connect(ctx context.Context, s logical.Storage, name string, raw *vendorConfig) (*connection, error) {
	return b.connectCounting(ctx, s, name, raw, b.metrics.forConfig(name))
}

// connectCounting is connect with the grants counted into counts (a config
// not stored yet counts apart: see unstored).
func (b *backend) connectCounting(ctx context.Context, s logical.Storage, name string, raw *vendorConfig, counts *configMetrics) (*connection, error) {
	cfg := raw.effective()
	supplier := b.assertionSupplier(s, name, cfg)
	oc := oauthConfigOf(name, cfg)
	oc.AssertionSupplier = supplier
	client, err := oauth.NewClient(oc, b.transports)
	if err != nil {
		return nil, fmt.Errorf("config %q: %w", name, err)
	}
	return &connection{b: b, name: name, cfg: cfg, client: client, m: counts, supplier: supplier,
		ownSubject: b.subjectSupplier(s, name, cfg), guard: b.hostGuard(s, name, cfg)}, nil
}

func (c *connection) release() { c.client.Close() }

// guarded: nil unless the connection's JWTs would go to a host off the
// mount's allowed_token_hosts.
func (c *connection) guarded(ctx context.Context) error {
	if c.guard == nil {
		return nil
	}
	return c.guard(ctx)
}

// grant runs the vendor's token request once (with bounded retries) and
// returns the token to cache, or why not. Every failure's error is a
// CodedError (502/504) with the config's secrets redacted.
//
// subject supplies token_exchange's subject token (nil for other grants):
// the lifecycle makes it (subject.go), so that this adapter never calls up.
func (c *connection) grant(ctx context.Context, now func() time.Time, subject oauth.SubjectSource) (*cachedToken, *grantFailure) {
	tok, _, fail := c.grantWith(ctx, now, grantInput{subject: subject})
	return tok, fail
}

// grantInput is what one request adds to its config: token_exchange's
// subject token source, or a user-delegated connection's refresh token
// (refreshtoken.go) or code with its PKCE verifier (consent.go).
type grantInput struct {
	subject                      oauth.SubjectSource
	refreshToken, code, verifier string
}

// grantWith is grant with its input; it also returns the refresh token
// the vendor answered ("" when none: RFC 6749 6 keeps the one sent valid).
func (c *connection) grantWith(ctx context.Context, now func() time.Time, in grantInput) (*cachedToken, string, *grantFailure) {
	if err := c.guarded(ctx); err != nil {
		return nil, "", transient(err) // the supplier would refuse too, after the request began
	}
	// The description is made per grant, not held: 10 000 warm configs
	// would hold 10 000 copies of their settings for the rare grant.
	oc := oauthConfigOf(c.name, c.cfg)
	oc.UserAgent = c.b.pluginUserAgent(ctx)
	oc.AssertionSupplier = c.supplier
	oc.SubjectSource = in.subject
	oc.RefreshToken, oc.Code, oc.CodeVerifier = in.refreshToken, in.code, in.verifier
	tok, err := c.client.Grant(ctx, oc, now, c.b.hooks(c.name, c.m))
	if err != nil {
		return nil, "", failureOf(withHint(c.cfg, err))
	}
	return cachedOf(tok, c.cfg.Generation), tok.RefreshToken, nil
}

// cachedOf is a vendor's token as the cache keeps it, for the config
// version generation (the refresh token is kept apart: refreshtoken.go).
func cachedOf(tok *oauth.Token, generation uint64) *cachedToken {
	return &cachedToken{AccessToken: tok.AccessToken, TokenType: tok.TokenType,
		MintedAt: tok.SentAt, ExpiresAt: tok.ExpiresAt, Generation: generation,
		IssuedTokenType: tok.IssuedTokenType}
}

// failureOf is an oauth error as the back-off policy sees it.
func failureOf(err error) *grantFailure {
	e, ok := err.(*oauth.Error)
	if !ok {
		return transient(err)
	}
	return &grantFailure{err: logical.CodedError(e.GatewayStatus(), e.Message),
		rejected: e.Rejected, retryAfter: e.RetryAfter, code: e.Code, refreshToken: e.RefreshToken}
}

// hooks are a request's logger (the mount's, naming the config), its
// metrics (counts; nil counts nothing) and the tests' tuning.
func (b *backend) hooks(name string, counts *configMetrics) oauth.Hooks {
	h := oauth.Hooks{Logger: b.httpLogger(name), Tune: b.tuneHTTP}
	if counts != nil {
		h.Observer = counts
	}
	return h
}

// oauthConfig is the connection description of an effective config.
func oauthConfigOf(name string, eff *vendorConfig) *oauth.Config {
	oc := &oauth.Config{
		Name: name, TokenURL: eff.TokenURL, DeviceAuthURL: eff.DeviceAuthURL, GrantType: eff.GrantType, ClientAuth: eff.ClientAuth,
		BodyFormat: eff.BodyFormat, ClientID: eff.ClientID, ClientSecret: eff.ClientSecret,
		Username: eff.Username, Password: eff.Password, Scopes: eff.Scopes,
		APIKey: eff.APIKey, APIKeyHeader: eff.APIKeyHeader,
		Params: eff.Params, SecretParams: eff.SecretParams, Headers: eff.Headers, SecretHeaders: eff.SecretHeaders,
		TokenField: eff.TokenField, ExpiresInField: eff.ExpiresInField, TokenTypeField: eff.TokenTypeField,
		DefaultTTL: eff.DefaultTTL, Timeout: eff.Timeout,
		CACert: eff.CACert, TLSClientCert: eff.TLSClientCert, TLSClientKey: eff.TLSClientKey,
		PrivateKey: eff.PrivateKey, Certificate: eff.Certificate, SigningAlg: eff.SigningAlg,
		AssertionAudience: eff.AssertionAudience, RedirectURL: eff.RedirectURL,
		Subject: eff.Subject, AssertionTTL: eff.AssertionTTL, AssertionClaims: presets[eff.Preset].grantClaims(eff),
		AssertionIssuer: eff.AssertionIssuer, KeyID: eff.KeyID,
		ScopeInAssertion: presets[eff.Preset].ScopeInAssertion, ScopeOnRefresh: eff.scopeOnRefresh(),
		AccountID:        eff.AccountID,
		SubjectTokenType: eff.SubjectTokenType, Audience: eff.Audience, Resource: eff.Resource,
		RequestedTokenType: eff.RequestedTokenType, ExpiresWithSubject: eff.expiresWithSubject(),
		Servable: servableToken,
	}
	if eff.NextPrivateKey != "" {
		oc.OtherKeys = []string{eff.NextPrivateKey}
	}
	return oc
}

// servableToken: a token whose lease would be too short by the time it
// arrived is refused as unusable (timing.go's servable).
func servableToken(t *oauth.Token, arrived time.Time) bool {
	ct := cachedToken{MintedAt: t.SentAt, ExpiresAt: t.ExpiresAt}
	return ct.servable(arrived)
}
