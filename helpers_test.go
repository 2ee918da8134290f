package oauthvendor

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/logical"
)

// syncBuffer collects log output from concurrent goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fakeClock is the injected clock: tests move time instead of sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type testEnv struct {
	t       testing.TB
	logs    *syncBuffer
	b       *backend
	storage logical.Storage
	clock   *fakeClock
	sys     *logical.StaticSystemView
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	return newTestEnvWith(t, &logical.InmemStorage{}, newFakeClock())
}

// newTestEnvWith builds a backend over given storage: a second call with
// the same storage is a plugin restart or a new leader.
func newTestEnvWith(t testing.TB, s logical.Storage, clock *fakeClock) *testEnv {
	t.Helper()
	return newTestEnvSys(t, s, clock, func(sys *logical.StaticSystemView) logical.SystemView { return sys })
}

// newTestEnvSys is newTestEnvWith with the SystemView wrap makes of the
// static one (a fake of what StaticSystemView does not implement).
func newTestEnvSys(t testing.TB, s logical.Storage, clock *fakeClock, wrap func(*logical.StaticSystemView) logical.SystemView) *testEnv {
	t.Helper()
	conf := logical.TestBackendConfig()
	conf.StorageView = s
	sys := &logical.StaticSystemView{DefaultLeaseTTLVal: 768 * time.Hour, MaxLeaseTTLVal: 768 * time.Hour}
	conf.System = wrap(sys)
	// Trace-level plugin logs go to a buffer that leak checks scan.
	logs := &syncBuffer{}
	conf.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Trace, Output: logs})
	b := newBackend(clock.Now)
	if err := b.Setup(context.Background(), conf); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.clean(context.Background()) })
	return &testEnv{t: t, logs: logs, b: b, storage: s, clock: clock, sys: sys}
}

// do runs one request. A config write that does not say otherwise is
// verify=false: most tests write configs for hosts that do not exist, or
// count the read path's requests; verify_test.go and the schedule test
// say verify=true.
func (e *testEnv) do(op logical.Operation, path string, data map[string]interface{}) (*logical.Response, error) {
	if _, ok := data["verify"]; !ok && strings.HasPrefix(path, configPrefix) && (op == logical.UpdateOperation || op == logical.CreateOperation) {
		with := map[string]interface{}{"verify": false}
		for k, v := range data {
			with[k] = v
		}
		data = with
	}
	return e.b.HandleRequest(context.Background(), &logical.Request{
		Operation: op, Path: path, Data: data, Storage: e.storage,
	})
}

// mustOK fails the test unless the request succeeded without an error response.
func (e *testEnv) mustOK(op logical.Operation, path string, data map[string]interface{}) *logical.Response {
	e.t.Helper()
	resp, err := e.do(op, path, data)
	if err != nil {
		e.t.Fatalf("%s %s: %v", op, path, err)
	}
	if resp != nil && resp.IsError() {
		e.t.Fatalf("%s %s: %v", op, path, resp.Error())
	}
	return resp
}

func (e *testEnv) write(path string, data map[string]interface{}) *logical.Response {
	e.t.Helper()
	return e.mustOK(logical.UpdateOperation, path, data)
}

func (e *testEnv) read(path string) *logical.Response {
	e.t.Helper()
	return e.mustOK(logical.ReadOperation, path, nil)
}

// codedStatus returns the HTTP status a handler error maps to (0 when none).
func codedStatus(err error) int {
	if coded, ok := err.(logical.HTTPCodedError); ok {
		return coded.Code()
	}
	return 0
}
