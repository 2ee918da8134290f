package oauthvendor

import "sync"

// nameLocks is one mutex per config name, created on demand and dropped
// when nobody holds or waits for it. Unlike locksutil's fixed stripes, a
// grant that waits on a stalled vendor never holds up a config that merely
// shares its stripe: exclusion is exact.
type nameLocks struct {
	mu    sync.Mutex
	locks map[string]*nameLock
}

type nameLock struct {
	sync.Mutex
	refs int // holders and waiters; guarded by nameLocks.mu
}

func newNameLocks() *nameLocks { return &nameLocks{locks: map[string]*nameLock{}} }

// lock takes the lock of one name and returns its release.
func (n *nameLocks) lock(name string) (unlock func()) {
	n.mu.Lock()
	l, ok := n.locks[name]
	if !ok {
		l = &nameLock{}
		n.locks[name] = l
	}
	l.refs++
	n.mu.Unlock()

	l.Lock()
	return func() {
		l.Unlock()
		n.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(n.locks, name)
		}
		n.mu.Unlock()
	}
}
