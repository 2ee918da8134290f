package oauthvendor

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
)

func pathConfig(b *backend) []*framework.Path {
	return []*framework.Path{
		{
			Pattern:        configPrefix + framework.GenericNameRegex("name"),
			Fields:         configFields(),
			ExistenceCheck: b.configExists,
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.CreateOperation: &framework.PathOperation{Callback: b.pathConfigWrite, Summary: "Create a vendor connection."},
				logical.UpdateOperation: &framework.PathOperation{Callback: b.pathConfigWrite, Summary: "Update a vendor connection; omitted fields keep their value."},
				logical.ReadOperation:   &framework.PathOperation{Callback: b.pathConfigRead, Summary: "Read a vendor connection (write-only fields as *_set).", Responses: okResponse(configReadFields())},
				logical.DeleteOperation: &framework.PathOperation{Callback: b.pathConfigDelete, Summary: "Delete a vendor connection and its cached token."},
			},
			HelpSynopsis:    pathConfigHelpSyn,
			HelpDescription: pathConfigHelpDesc,
		},
		{
			Pattern: configPrefix + "?$",
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.ListOperation: &framework.PathOperation{Callback: b.pathConfigList, Summary: "List vendor connections."},
			},
			HelpSynopsis:    "List vendor connections.",
			HelpDescription: "Lists the names of the configured vendor connections.",
		},
	}
}

func (b *backend) configExists(ctx context.Context, req *logical.Request, d *framework.FieldData) (bool, error) {
	cfg, err := loadConfig(ctx, req.Storage, d.Get("name").(string))
	return cfg != nil, err
}

// pathConfigWrite holds the config's lock from load to forget: concurrent
// partial writes cannot lose each other's fields, and no grant runs with
// the config being replaced.
func (b *backend) pathConfigWrite(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.Get("name").(string)
	if err := validateName(name); err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	budget := b.newWriteBudget()
	defer b.lockSubjects(d)() // before the name lock (subject_chain.go)
	unlock := b.locks.lock(name)
	defer unlock()
	old, err := loadConfig(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	cfg := &vendorConfig{}
	if old != nil {
		*cfg = *old
	}
	applyFields(cfg, d)
	if err := keyWriteRules(cfg, d); err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	if err := applyCredentialsJSON(cfg, d); err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	keyDropped, err := dropOwnKey(cfg, d)
	if err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	discoveryWarning, err := b.discoverFor(ctx, name, cfg, d, budget)
	if err != nil {
		return refusal(err)
	}
	eff := cfg.effective()
	if err := validate(cfg, eff); err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	hostsWarning, err := b.checkAssertionSource(ctx, req.Storage, eff)
	if err != nil {
		return refusal(err)
	}
	if _, ok := d.GetOk("subject_config"); ok {
		if err := checkSubjectChain(ctx, req.Storage, name, origin(eff.TokenURL), cfg.SubjectConfig); err != nil {
			return subjectChainRefusal(err)
		}
	}
	generated, err := ensureSigningKey(cfg, eff)
	if err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	if err := secretsFollowHost(old, cfg, d); err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	if err := apiKeyStaysUnread(old, cfg, d); err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	if err := exchangeURLsNeedSecrets(old, cfg, d); err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	if err := audienceFollowsHost(cfg, d); err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	changed := old == nil || requestChanged(old, cfg)
	if changed {
		cfg.Generation = rand.Uint64()
	}
	st, err := b.statusForWrite(ctx, req.Storage, name, old)
	if err != nil {
		return nil, err
	}
	var verified *cachedToken
	var counts *configMetrics // the verify grant's, for a create
	// A generated key is not known to the vendor yet: nothing to verify.
	// A user-delegated connection has no grant to verify before a
	// user's consent (consent.go).
	if changed && d.Get("verify").(bool) && !generated && !eff.userDelegated() {
		counts = unstored() // a create: no series for a name the vendor refuses
		if old != nil {
			counts = b.metrics.forConfig(name)
		}
		tok, refused, err := b.verifyWrite(ctx, req.Storage, name, cfg, counts, old != nil, st, budget)
		if err != nil || refused != nil {
			return refused, err
		}
		verified = tok
	}
	if err := storeConfig(ctx, req.Storage, name, cfg); err != nil {
		return nil, err
	}
	if old == nil && counts != nil {
		b.metrics.adopt(name, counts) // stored now: its verify grant counts
	}
	if err := b.afterConfigWrite(ctx, req.Storage, name, changed, verified, st); err != nil {
		return nil, err
	}
	consentWarning, err := b.afterUserDelegatedWrite(ctx, req.Storage, name, old, cfg)
	if err != nil {
		return nil, err
	}
	resp := configWarnings(eff)
	for _, w := range []string{discoveryWarning, keyDropped, consentWarning, hostsWarning} {
		if w != "" {
			resp = withWarning(resp, w)
		}
	}
	if w := agentWindowWarning(ctx, req.Storage, name, cfg, eff, verified); w != "" {
		resp = withWarning(resp, w)
	}
	if generated {
		resp = generatedKeyAnswer(resp, name, cfg)
	}
	return resp, nil
}

// statusForWrite: an update keeps the config's status; a create starts
// from none (clearLeftovers).
func (b *backend) statusForWrite(ctx context.Context, s logical.Storage, name string, old *vendorConfig) (*grantStatus, error) {
	if old == nil {
		return clearLeftovers(ctx, s, name)
	}
	return loadStatus(ctx, s, name)
}

// generatedKeyAnswer tells the operator what the vendor needs to know of a
// key it has never seen: where its JWKS is, or the public key to upload.
func generatedKeyAnswer(resp *logical.Response, name string, cfg *vendorConfig) *logical.Response {
	if resp == nil {
		resp = &logical.Response{}
	}
	k, err := oauth.ParsePrivateKey(cfg.PrivateKey)
	if err != nil {
		return resp
	}
	kid := signingKid(cfg)
	resp.Data = map[string]interface{}{"kid": kid, "public_key": k.PublicPEM()}
	resp.AddWarning(fmt.Sprintf("generated an %s signing key (kid %s) that never leaves Vault: register jwks/%s as the client's jwks_uri, "+
		"or upload public_key, before the first read; the write was not verified (the vendor does not know the key yet)", strings.ToUpper(cfg.KeyType), kid, name))
	return resp
}

// refusal answers a write that stores nothing: a 504 (a step ran out of
// time) as the error it is, anything else as a 400.
func refusal(err error) (*logical.Response, error) {
	var coded logical.HTTPCodedError
	if errors.As(err, &coded) {
		return nil, err
	}
	return logical.ErrorResponse(err.Error()), nil
}

// discoverFor asks the config's issuer, when the write touched what
// discovery decides, and applies its answer to cfg. With a token_url of
// the operator's own, discovery is not needed to run: its failure is a
// warning (returned), and client_auth goes unchecked against the server's
// list. Discovery gets at most half of what is left of the write's budget
// when a verify grant follows.
func (b *backend) discoverFor(ctx context.Context, name string, cfg *vendorConfig, d *framework.FieldData, budget writeBudget) (string, error) {
	if _, ok := d.GetOk("token_url"); ok {
		cfg.TokenURLDiscovered = false // the operator's own from now on
	}
	if _, ok := d.GetOk("device_auth_url"); ok {
		cfg.DeviceAuthURLDiscovered = false
	}
	if !needsDiscovery(cfg, d) {
		return "", nil
	}
	verify := d.Get("verify").(bool)
	if cfg.TokenURL != "" && !verify {
		return "", nil // verify=false asks no server; token_url is known
	}
	// What the metadata request itself uses is checked before it is made.
	eff := cfg.effective()
	if err := validateDiscoveryInputs(eff); err != nil {
		return "", err
	}
	dctx, cancel, given, byBudget := budget.discoveryContext(ctx, eff.Timeout, verify)
	defer cancel()
	md, err := b.discover(dctx, name, eff)
	err = redactedField(err, eff)
	late := err != nil && ranOut(dctx)
	switch {
	case err == nil:
		return "", redactedField(applyDiscovery(cfg, eff, md), eff)
	case cfg.TokenURL != "" && !cfg.TokenURLDiscovered:
		reason := err.Error()
		if late {
			reason = budget.discoveryLate(given, byBudget)
		}
		return fmt.Sprintf("issuer: the metadata could not be read (%s): the token_url given is used, and client_auth was not checked against the methods the issuer supports", reason), nil
	case late:
		return "", budget.discoveryTimedOut(name, given, byBudget)
	default:
		return "", fmt.Errorf("%w; give token_url to write without discovery", err)
	}
}

// requestChanged: any credential or request field differs. Only the
// fields that shape what readers get, not what the vendor is asked,
// keep the cached token; so does device_auth_url, which only a consent
// asks.
func requestChanged(old, cur *vendorConfig) bool {
	strip := func(c vendorConfig) vendorConfig {
		c.DeviceAuthURL, c.DeviceAuthURLDiscovered = "", false
		c.RefreshBefore, c.MaxTTL, c.Lease, c.Timeout, c.APIKeyInCreds, c.Generation = 0, 0, nil, 0, nil, 0
		c.ExchangeURLs = nil // where its token may go, not how it is asked for
		return c
	}
	return !reflect.DeepEqual(strip(*old), strip(*cur))
}

func configWarnings(eff *vendorConfig) *logical.Response {
	p, ok := presets[eff.Preset]
	if !ok {
		return nil
	}
	u, err := url.Parse(eff.TokenURL)
	if err != nil || p.knownHost(u.Hostname()) {
		return nil
	}
	resp := &logical.Response{}
	resp.AddWarning(fmt.Sprintf("token_url host %q is not one of %s's published token hosts (%s)",
		u.Hostname(), p.Vendor, strings.ReplaceAll(" "+strings.Join(p.KnownHosts, ", "), " .", " *.")[1:]))
	return resp
}

func withWarning(resp *logical.Response, w string) *logical.Response {
	if resp == nil {
		resp = &logical.Response{}
	}
	resp.AddWarning(w)
	return resp
}

// agentWindowWarning: an explicit refresh_before too short for Vault
// Agent's re-read of a lease to get a new token (timing.go,
// agentWindowShort). The token lifetime is known at write from the
// verified token, else the cached one, else default_ttl as written, else
// the lifetime the preset's vendor documents; when none says, nothing is
// claimed. A storage error only skips the warning: the config is stored.
func agentWindowWarning(ctx context.Context, s logical.Storage, name string, cfg, eff *vendorConfig, verified *cachedToken) string {
	if cfg.RefreshBefore <= 0 || !eff.leaseEnabled() {
		return ""
	}
	l, source := knownLifetime(ctx, s, name, cfg, eff, verified)
	need, short := agentWindowShort(cfg.RefreshBefore, l)
	if !short {
		return ""
	}
	return fmt.Sprintf("refresh_before=%s is too short for Vault Agent with %s tokens (%s): Agent re-reads a lease at 85-95%% of its TTL, "+
		"and a re-read before the refresh window opens gets the same token back with a shorter lease: it needs a window of at least %s. "+
		"Set at least that, or unset refresh_before (the default window, %s for this lifetime, is enough); lease=false is not affected",
		cfg.RefreshBefore, l, source, need, refreshWindowFor(l, 0))
}

func knownLifetime(ctx context.Context, s logical.Storage, name string, cfg, eff *vendorConfig, verified *cachedToken) (time.Duration, string) {
	if verified != nil {
		return verified.lifetime(), "the verified token's lifetime"
	}
	if tok, err := loadToken(ctx, s, name); err == nil && tok != nil && tok.Generation == cfg.Generation {
		return tok.lifetime(), "the cached token's lifetime"
	}
	if cfg.DefaultTTL > 0 {
		return cfg.DefaultTTL, "default_ttl"
	}
	if p, ok := presets[eff.Preset]; ok && p.Lifetime > 0 {
		return p.Lifetime, p.Vendor + "'s documented token lifetime"
	}
	return 0, ""
}

func (b *backend) pathConfigRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.Get("name").(string)
	cfg, err := mustLoadConfig(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	eff := cfg.effective()
	data := readableFields(eff)
	if eff.signsWithKey() {
		if kid := signingKid(cfg); kid != "" {
			data["kid"] = kid
		}
		if kid := kidOf(cfg.NextPrivateKey); kid != "" {
			data["next_kid"] = kid
		}
	}
	if eff.userDelegated() {
		if err := b.consentFields(ctx, req.Storage, name, data); err != nil {
			return nil, err
		}
	}
	return &logical.Response{Data: data}, nil
}

func (b *backend) pathConfigDelete(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.Get("name").(string)
	if !storableName(name) {
		return nil, nil // storage could not hold it: nothing to delete
	}
	// Under the lock a grant in flight finishes first: nothing it stores
	// outlives the delete, and a config re-created under the name starts
	// clean.
	unlock := b.locks.lock(name)
	defer unlock()
	defer b.forgetLocked(name)
	// The config goes first: once it is gone the name is deleted, and
	// what a failed delete leaves behind is removed by the next delete or
	// create (clearLeftovers). Keys live in the config.
	if err := deleteRecords(ctx, req.Storage, name, configPrefix); err != nil {
		return nil, err
	}
	b.metrics.forget(name)
	b.pending.Delete(name)
	return nil, deleteRecords(ctx, req.Storage, name, perConfigPrefixes...)
}

// perConfigPrefixes: every record kept under a config's name beside
// config/<name>, which a config's delete removes and a new config under
// the name must not inherit (clearLeftovers).
var perConfigPrefixes = []string{tokenPrefix, statusPrefix, readMarkPrefix, refreshPrefix, consentPrefix, devicePrefix, consentMarkPrefix}

// clearLeftovers: a config created under a name starts clean, whatever a
// delete that failed after removing the config left of the old one (its
// status counts, last_error, read mark). Returns the fresh status.
func clearLeftovers(ctx context.Context, s logical.Storage, name string) (*grantStatus, error) {
	if err := deleteRecords(ctx, s, name, perConfigPrefixes...); err != nil {
		return nil, err
	}
	return &grantStatus{}, nil
}

func (b *backend) pathConfigList(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	names, err := req.Storage.List(ctx, configPrefix)
	if err != nil {
		return nil, fmt.Errorf("listing configs: %w", err)
	}
	return logical.ListResponse(names), nil
}

const pathConfigHelpSyn = "Configure a vendor connection: where and how to get a token, and the credentials."

const pathConfigHelpDesc = `
A vendor connection names a token endpoint, the grant to run and its
credentials. client_secret, api_key, password, private_key and
credentials_json are write-only: a read shows client_secret_set,
api_key_set, password_set, ... instead.

A preset (alphasense, alertsite, alation, agentsync, google, salesforce,
docusign, box, zoom, databricks, google-sts) fills the defaults
for that vendor; any field given explicitly wins. Writes are partial:
fields not given keep their value. Changing a credential or a request
field drops the cached token; changing only refresh_before, max_ttl,
lease, timeout, api_key_in_creds or exchange_urls keeps it.
`
