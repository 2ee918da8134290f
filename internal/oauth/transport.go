package oauth

import (
	"net/http"
	"sync"
	"sync/atomic"
)

// Connection pools are shared by every config with the same TLS settings:
// a mount with 10 000 configs at one vendor host keeps a handful of idle
// connections to it, not one pool (and one idle connection) per config.
// What stays per config is light: the retry policy, its logger and the
// config's timeout (grant.go).

// Idle caps of a shared transport. A token request is one POST per
// refresh cycle and config; the caller's periodic refresh runs
// IdleConnsPerHost grants at once, so this many idle connections per host
// serve it without a new handshake.
const (
	IdleConnsPerHost    = 16
	maxIdleConnsPerHost = IdleConnsPerHost
	maxIdleConns        = 4 * IdleConnsPerHost
)

// transportKey is what makes two configs' connections interchangeable:
// the TLS settings of the client side. Configs whose keys are equal share
// one *http.Transport. Add a field here (and in transportKeyOf) for every
// setting that changes how a connection is made (a client certificate).
type transportKey struct {
	caCert, clientCert, clientKey string
}

// transportKeyOf is the one place a config's transport key is built: the
// inputs of tlsConfigFor (tlsconfig.go).
func transportKeyOf(cfg *Config) transportKey {
	return transportKey{caCert: cfg.CACert, clientCert: cfg.TLSClientCert, clientKey: cfg.TLSClientKey}
}

// Pool hands out shared transports, counted by the connections
// (config versions) using them; the last release closes its idle
// connections and forgets it.
type Pool struct {
	mu     sync.Mutex
	shared map[transportKey]*sharedTransport
}

type sharedTransport struct {
	tr   *http.Transport
	refs int
	pool *Pool
	key  transportKey
}

// NewPool is an empty pool; a Client takes its transport from one.
func NewPool() *Pool {
	return &Pool{shared: map[transportKey]*sharedTransport{}}
}

// acquire returns the transport for cfg's TLS settings, building it on
// first use, and its release (idempotent). The release is a method value
// of a share, not a closure over the key: a warm config holds it for its
// whole life, and 10 000 of them hold 10 000.
func (p *Pool) acquire(cfg *Config) (*http.Transport, func(), error) {
	key := transportKeyOf(cfg)
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.shared[key]
	if !ok {
		tr, err := newTransport(cfg)
		if err != nil {
			return nil, nil, err
		}
		s = &sharedTransport{tr: tr, pool: p, key: key}
		p.shared[key] = s
	}
	s.refs++
	sh := &transportShare{s: s}
	return s.tr, sh.release, nil
}

// transportShare is one connection's share of a shared transport.
type transportShare struct {
	s    *sharedTransport
	done atomic.Bool
}

func (sh *transportShare) release() {
	if sh.done.CompareAndSwap(false, true) {
		sh.s.pool.release(sh.s)
	}
}

func (p *Pool) release(s *sharedTransport) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.refs--; s.refs > 0 {
		return
	}
	// Requests still in flight on it finish; their connections are not
	// reused by anyone, and close after IdleConnTimeout at the latest.
	s.tr.CloseIdleConnections()
	if p.shared[s.key] == s {
		delete(p.shared, s.key)
	}
}

// Size is the number of distinct transports in use (tests, the bench).
func (p *Pool) Size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.shared)
}
