package oauthvendor

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/helper/consts"
	"github.com/hashicorp/vault/sdk/logical"
	"golang.org/x/sync/singleflight"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
)

// backend holds only per-mount state: plugin.ServeMultiplex serves every
// mount from one process.
type backend struct {
	*framework.Backend

	now func() time.Time

	// flights coalesce concurrent cold reads of one config into one grant;
	// locks serialise, per config name, grants (reads, rotate, proactive
	// refresh) with config writes and deletes.
	flights singleflight.Group
	locks   *nameLocks
	// subjects serialises the config writes that set subject_config, so
	// that the chain check and the store are one step (subject_chain.go);
	// taken before any name lock.
	subjects sync.Mutex

	// transports are the vendor connection pools, one per TLS setting,
	// shared by the configs (internal/oauth/transport.go).
	transports *oauth.Pool

	mu      sync.RWMutex
	entries map[string]*entry

	// jwks: name -> *jwksCache, the public JWKS built from the stored
	// config (path_jwks.go); apart from entries, so that jwks/<name> never
	// waits on the name lock a grant holds.
	jwks sync.Map

	// issuer is the mount's OIDC issuer as served and signed with
	// (issuer.go), nil until loaded; issuerMu serialises oidc/config's
	// load-modify-store (config and rotate-key).
	issuer   atomic.Pointer[issuerState]
	issuerMu sync.Mutex
	// issuerDrops counts invalidations of oidc/config: a load that began
	// before one must not install what it read (issuer.go issuerState).
	issuerDrops atomic.Uint64

	// pending: name -> *refreshRecord, a rotated refresh token storage
	// refused, kept until it is stored (refreshtoken.go).
	pending sync.Map

	// devices polls the pending device consents on the active node
	// (device_poller.go).
	devices *devicePoller

	// marksLoaded: this backend has loaded the read marks (readmark.go).
	marksLoaded atomic.Bool
	// consentMarksLoaded: this backend has set the needs-consent gauges
	// from the consent marks (consentmark.go).
	consentMarksLoaded atomic.Bool
	// unmarked: name -> struct{}, a connection that needs consent whose
	// consent mark storage refused; written again by each periodic pass
	// until stored (consentmark.go).
	unmarked sync.Map

	// tuneHTTP, when set, adjusts every vendor client (tests: a scripted
	// transport, no retry waits).
	tuneHTTP func(*retryablehttp.Client)

	uaOnce    sync.Once
	userAgent string

	metrics *metrics

	// writeLimit bounds a config write's vendor steps (writebudget.go);
	// tests shorten it.
	writeLimit time.Duration
}

// Factory is the plugin's entry point, for every mount.
func Factory(ctx context.Context, conf *logical.BackendConfig) (logical.Backend, error) {
	b := newBackend(time.Now)
	if err := b.Setup(ctx, conf); err != nil {
		return nil, err
	}
	return b, nil
}

func newBackend(now func() time.Time) *backend {
	b := &backend{now: now, locks: newNameLocks(), transports: oauth.NewPool(), entries: map[string]*entry{}, writeLimit: writeLimit,
		devices: newDevicePoller()}
	b.metrics = newMetrics(b)
	b.Backend = &framework.Backend{
		Help:        strings.TrimSpace(backendHelp),
		BackendType: logical.TypeLogical,
		PathsSpecial: &logical.Paths{
			SealWrapStorage: []string{configPrefix, tokenPrefix, oidcPrefix, refreshPrefix, consentPrefix, devicePrefix},
			// Public keys for a vendor's jwks_uri, like Vault's identity
			// .well-known/keys; the mount's own issuer documents.
			// The consents' redirect target: the user's browser has no token.
			Unauthenticated: []string{jwksPrefix + "*", wellKnownDiscovery, wellKnownKeys, callbackPath},
		},
		Paths: framework.PathAppend(
			pathConfig(b),
			[]*framework.Path{pathCreds(b), pathRotate(b), pathStatus(b), pathStatusList(b), pathMetrics(b), pathJWKS(b), pathRotateKey(b), pathConsent(b), pathCallback(b)},
			pathOIDC(b),
			pathPresets(),
		),
		Secrets:        []*framework.Secret{secretToken(b)},
		Invalidate:     b.invalidate,
		Clean:          b.clean,
		PeriodicFunc:   b.periodic,
		InitializeFunc: b.initialize,
		RunningVersion: Version,
	}
	return b
}

// readOnly: this node cannot write storage (a performance standby, or a
// non-local mount on a performance secondary). A miss that needs the
// vendor returns logical.ErrReadOnly so Vault forwards it to the node that
// can cache the result: only the active node mints.
func (b *backend) readOnly() bool {
	rs := b.System().ReplicationState()
	return rs.HasState(consts.ReplicationPerformanceStandby) ||
		(rs.HasState(consts.ReplicationPerformanceSecondary) && !b.System().LocalMount())
}

func (b *backend) pluginUserAgent(ctx context.Context) string {
	b.uaOnce.Do(func() {
		if env, err := b.System().PluginEnv(ctx); err == nil {
			b.userAgent = useragentFor(env)
		}
	})
	return b.userAgent
}

// invalidate drops in-memory state when storage changes under this node
// (a standby following the active node's writes).
func (b *backend) invalidate(_ context.Context, key string) {
	switch {
	case key == oidcConfigKey:
		// Counted first: a load in flight sees the count move and does
		// not install the record it read before the write (issuer.go).
		b.issuerDrops.Add(1)
		b.issuer.Store(nil) // the next use reads the active node's record
	case strings.HasPrefix(key, configPrefix):
		name := strings.TrimPrefix(key, configPrefix)
		unlock := b.locks.lock(name)
		b.forgetLocked(name)
		unlock()
	case strings.HasPrefix(key, tokenPrefix):
		// Under the lock: a refresh on this node holding the old token
		// must not put it back after the drop.
		name := strings.TrimPrefix(key, tokenPrefix)
		unlock := b.locks.lock(name)
		if e := b.cached(name); e != nil {
			e.tok.Store(nil)
		}
		unlock()
	}
}

func (b *backend) clean(context.Context) {
	b.stopDevicePoller() // first: a step in flight takes b.mu
	b.jwks.Clear()
	b.issuer.Store(nil)
	b.mu.Lock()
	defer b.mu.Unlock()
	for name := range b.entries {
		b.dropLocked(name)
	}
}

const backendHelp = `
The oauthvendor secrets engine brokers vendor OAuth access tokens.

Operators store each vendor connection once at config/<name> (credentials
are write-only); applications read creds/<name> and get a shared, cached
access token with a lease that ends before the token does.
`
