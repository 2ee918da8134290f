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
	l := n.ref(name)
	l.Lock()
	return n.releaser(name, l)
}

// tryLock takes the lock of one name if nobody holds it.
func (n *nameLocks) tryLock(name string) (unlock func(), ok bool) {
	l := n.ref(name)
	if !l.TryLock() {
		n.unref(name, l)
		return nil, false
	}
	return n.releaser(name, l), true
}

// ref finds or makes the lock of a name and counts the caller in.
func (n *nameLocks) ref(name string) *nameLock {
	n.mu.Lock()
	defer n.mu.Unlock()
	l, ok := n.locks[name]
	if !ok {
		l = &nameLock{}
		n.locks[name] = l
	}
	l.refs++
	return l
}

func (n *nameLocks) unref(name string, l *nameLock) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if l.refs--; l.refs == 0 {
		delete(n.locks, name)
	}
}

func (n *nameLocks) releaser(name string, l *nameLock) func() {
	return func() {
		l.Unlock()
		n.unref(name, l)
	}
}
