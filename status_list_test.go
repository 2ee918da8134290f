package oauthvendor

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

func (e *fakeEnv) listStatus(data map[string]interface{}) *logical.Response {
	e.t.Helper()
	return e.mustOK(logical.ListOperation, "status/", data)
}

// agreesWithStatusRead: each name's line in the list says what
// status/<name> says, read from the config, the token and the status.
func (e *fakeEnv) agreesWithStatusRead(when string) map[string]interface{} {
	e.t.Helper()
	resp := e.listStatus(nil)
	infos := resp.Data["key_info"].(map[string]interface{})
	for _, name := range resp.Data["keys"].([]string) {
		st := e.status(name)
		want := map[string]interface{}{"state": st["state"], "last_error": st["last_error"], "expires_at": ""}
		if exp, ok := st["expires_at"]; ok {
			want["expires_at"] = exp
		}
		if got := infos[name]; !reflect.DeepEqual(got, want) {
			e.t.Errorf("%s: list says %v for %q, status/%s says %v", when, got, name, name, want)
		}
	}
	return infos
}

func TestStatusListEveryState(t *testing.T) {
	env := newFakeEnv(t)
	for _, name := range []string{"ok", "stale", "failing", "idle", "held"} {
		env.configure(name, "secret-"+name)
	}
	env.read("creds/ok")
	env.read("creds/stale")
	env.vendor.setMode("failing", vendorMode{status: 401, oauthError: "invalid_client"})
	env.readErr("failing")
	infos := env.agreesWithStatusRead("after the first reads")
	if got := infos["failing"].(map[string]interface{})["state"]; got != "backing-off" {
		t.Errorf("failing right after its failure: %v, want backing-off", got)
	}

	env.clock.Advance(46 * time.Minute) // every token inside its refresh window
	env.vendor.setMode("stale", vendorMode{status: 503})
	if resp := env.read("creds/stale"); len(resp.Warnings) == 0 {
		t.Fatal("want the stale token with a warning")
	}
	env.vendor.setMode("held", vendorMode{hold: true})
	done := make(chan error, 1)
	go func() { done <- env.readErr("held") }()
	<-env.vendor.arrived
	infos = env.agreesWithStatusRead("with a grant in flight")
	env.vendor.release("held")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"ok": "ok", "stale": "serving-stale", "failing": "failing", "idle": "ok", "held": "refreshing"}
	for name, state := range want {
		if got := infos[name].(map[string]interface{})["state"]; got != state {
			t.Errorf("%s: state %v, want %s", name, got, state)
		}
	}
	if infos["stale"].(map[string]interface{})["last_error"] == "" || infos["idle"].(map[string]interface{})["expires_at"] != "" {
		t.Errorf("list lines: %v", infos)
	}

	env.clock.Advance(time.Hour) // every token expired
	infos = env.agreesWithStatusRead("after every token expired")
	if got := infos["stale"].(map[string]interface{})["state"]; got != "failing" {
		t.Errorf("stale once its token expired: %v, want failing", got)
	}
	env.write("rotate/ok", nil)
	env.write("config/stale", map[string]interface{}{"client_secret": "new"}) // drops the token
	env.agreesWithStatusRead("after a rotate and a config write")
}

// TestStatusListReadsOneRecordPerName: the list's cost is one List and one
// Get per name listed (10 000 configs: 10 000 reads, not 30 000), and a
// page costs only its own names.
func TestStatusListReadsOneRecordPerName(t *testing.T) {
	cs := &countingStorage{}
	env := newFakeEnvWith(t, cs, newFakeClock())
	const n = 50
	for i := range n {
		name := fmt.Sprintf("c%02d", i)
		env.configure(name, "x")
		env.read("creds/" + name)
	}
	before := cs.gets.Load()
	if keys := env.listStatus(nil).Data["keys"].([]string); len(keys) != n {
		t.Fatalf("listed %d names, want %d", len(keys), n)
	}
	if got := cs.gets.Load() - before; got != n {
		t.Fatalf("listing %d names made %d storage reads, want %d", n, got, n)
	}
	before = cs.gets.Load()
	page := env.listStatus(map[string]interface{}{"after": "c09", "limit": 5}).Data["keys"].([]string)
	if !reflect.DeepEqual(page, []string{"c10", "c11", "c12", "c13", "c14"}) {
		t.Fatalf("page after c09, limit 5: %v", page)
	}
	if got := cs.gets.Load() - before; got != 5 {
		t.Fatalf("a page of 5 made %d storage reads", got)
	}
	if resp, err := env.do(logical.ListOperation, "status/", map[string]interface{}{"limit": -1}); err != nil || !resp.IsError() {
		t.Fatalf("limit=-1: %v %v, want a 400 naming limit", resp, err)
	}
}

func TestStatusListEmpty(t *testing.T) {
	env := newFakeEnv(t)
	resp, err := env.do(logical.ListOperation, "status/", nil)
	if err != nil || resp.IsError() {
		t.Fatalf("empty list: %v %v", resp, err)
	}
	if keys, _ := resp.Data["keys"].([]string); len(keys) != 0 {
		t.Fatalf("empty list: %v", resp.Data)
	}
}
