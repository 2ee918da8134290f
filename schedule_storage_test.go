package oauthvendor

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/vault/sdk/logical"
)

// The schedule test's storage: InmemStorage with faults the schedule arms
// on any operation (Put, Get, Delete, List) of any key (config/, token/,
// status/, read marks, the list prefixes), the order in which each
// credential was first stored, and a read-only view for the standby.

type storageOp string

const (
	opPut    storageOp = "Put"
	opGet    storageOp = "Get"
	opDelete storageOp = "Delete"
	opList   storageOp = "List"
)

// scheduleStorage is InmemStorage with faults armed by the schedule.
type scheduleStorage struct {
	logical.InmemStorage
	w *world

	mu     sync.Mutex
	faults map[string]int // "Put config/a" -> how many of the next fail
	order  map[string]int // credential identity -> when it first became current
	seq    int
	keys   []string       // every name@generation stored: the flight keys
	lost   map[string]int // token Puts failed since the config was created
}

func newScheduleStorage(w *world) *scheduleStorage {
	return &scheduleStorage{w: w, faults: map[string]int{}, order: map[string]int{}, lost: map[string]int{}}
}

func (s *scheduleStorage) lostTokens(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lost[name]
}

func (s *scheduleStorage) flightKeys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.keys...)
}

func (s *scheduleStorage) arm(op storageOp, key string, k int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[string(op)+" "+key] += k
}

func (s *scheduleStorage) disarm() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
}

func (s *scheduleStorage) fire(op storageOp, key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := string(op) + " " + key
	if s.faults[k] > 0 {
		s.faults[k]--
		s.w.count("storage fault " + string(op))
		return true
	}
	return false
}

// identityOf is what authenticates a config at the vendor: its secret,
// its signing key's kid, or its client certificate's digest.
func identityOf(cfg *vendorConfig) string {
	switch cfg.ClientAuth {
	case authPrivateKeyJWT:
		return "kid:" + kidOf(cfg.PrivateKey)
	case authTLSClient:
		return "cert:" + certDigest(cfg.TLSClientCert)
	}
	return cfg.ClientSecret
}

func (s *scheduleStorage) Put(ctx context.Context, e *logical.StorageEntry) error {
	if s.fire(opPut, e.Key) {
		if strings.HasPrefix(e.Key, tokenPrefix) {
			s.mu.Lock()
			s.lost[strings.TrimPrefix(e.Key, tokenPrefix)]++
			s.mu.Unlock()
		}
		// A status Put that fails loses a count; so does a config Put
		// that fails after its verify grant (the write stores nothing).
		if name, ok := cutAnyPrefix(e.Key, statusPrefix, configPrefix); ok {
			s.w.mu.Lock()
			s.w.statusLost[name]++
			s.w.mu.Unlock()
		}
		return errInjected
	}
	defer s.w.standbyInvalidate(e.Key)
	if !strings.HasPrefix(e.Key, configPrefix) {
		return s.InmemStorage.Put(ctx, e)
	}
	// Config writes run under the name lock: nothing else stores this
	// key meanwhile, so the creation check and the order are exact.
	name := strings.TrimPrefix(e.Key, configPrefix)
	creating := s.raw(e.Key) == nil
	if err := s.InmemStorage.Put(ctx, e); err != nil {
		return err
	}
	var cfg vendorConfig
	_ = json.Unmarshal(e.Value, &cfg)
	s.mu.Lock()
	s.keys = append(s.keys, name+"@"+strconv.FormatUint(cfg.Generation, 10))
	// Ordered when it first becomes the credential that signs: a key
	// rotate-key published earlier counts from its switch (a write of
	// another key in between may have come first).
	if id := identityOf(&cfg); s.order[id] == 0 {
		s.seq++
		s.order[id] = s.seq
	}
	if creating {
		delete(s.lost, name)
	}
	s.mu.Unlock()
	if creating {
		s.w.noteCreated(name, identityOf(&cfg))
	}
	return nil
}

func cutAnyPrefix(key string, prefixes ...string) (string, bool) {
	for _, p := range prefixes {
		if rest, ok := strings.CutPrefix(key, p); ok {
			return rest, true
		}
	}
	return "", false
}

func (s *scheduleStorage) Get(ctx context.Context, key string) (*logical.StorageEntry, error) {
	if s.fire(opGet, key) {
		return nil, errInjected
	}
	return s.InmemStorage.Get(ctx, key)
}

func (s *scheduleStorage) Delete(ctx context.Context, key string) error {
	if s.fire(opDelete, key) {
		return errInjected
	}
	defer s.w.standbyInvalidate(key)
	return s.InmemStorage.Delete(ctx, key)
}

func (s *scheduleStorage) List(ctx context.Context, prefix string) ([]string, error) {
	if s.fire(opList, prefix) {
		return nil, errInjected
	}
	return s.InmemStorage.List(ctx, prefix)
}

// raw reads past the faults.
func (s *scheduleStorage) raw(key string) *logical.StorageEntry {
	e, _ := s.InmemStorage.Get(context.Background(), key)
	return e
}

func rawJSON[T any](s *scheduleStorage, key string) *T {
	e := s.raw(key)
	if e == nil {
		return nil
	}
	var v T
	if json.Unmarshal(e.Value, &v) != nil {
		return nil
	}
	return &v
}

func (s *scheduleStorage) rawConfig(name string) *vendorConfig {
	return rawJSON[vendorConfig](s, configPrefix+name)
}

func (s *scheduleStorage) rawToken(name string) *cachedToken {
	return rawJSON[cachedToken](s, tokenPrefix+name)
}

func (s *scheduleStorage) rawStatus(name string) *grantStatus {
	if st := rawJSON[grantStatus](s, statusPrefix+name); st != nil {
		return st
	}
	return &grantStatus{}
}

func (s *scheduleStorage) orderOf(identity string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.order[identity]
}

// readOnlyView is the standby's storage: the same data and read faults,
// every write refused the way a performance standby's storage view (or an
// OpenBao standby's) refuses it.
type readOnlyView struct{ s *scheduleStorage }

func (v readOnlyView) Get(ctx context.Context, key string) (*logical.StorageEntry, error) {
	return v.s.Get(ctx, key)
}

func (v readOnlyView) List(ctx context.Context, prefix string) ([]string, error) {
	return v.s.List(ctx, prefix)
}

func (v readOnlyView) Put(_ context.Context, e *logical.StorageEntry) error {
	return fmt.Errorf("put %s: %w", e.Key, logical.ErrReadOnly)
}

func (v readOnlyView) Delete(_ context.Context, key string) error {
	return fmt.Errorf("delete %s: %w", key, logical.ErrReadOnly)
}
