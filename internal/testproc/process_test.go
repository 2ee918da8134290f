package testproc

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestStartWaitFileStop(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "ready")
	p, err := Start(dir, "log", "/bin/sh", "-c", "echo hello > "+out+"; echo to-log; sleep 30")
	if err != nil {
		t.Fatal(err)
	}
	line, err := p.WaitFile(out, 5*time.Second)
	if err != nil || line != "hello" {
		t.Fatalf("WaitFile = %q, %v", line, err)
	}
	p.StopWithin(time.Second)
	if !p.Exited() {
		t.Fatal("still running after Stop")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "log")); string(b) != "to-log\n" {
		t.Fatalf("log = %q", b)
	}
}

func TestPollReportsEarlyExit(t *testing.T) {
	p, err := Start(t.TempDir(), "log", "/bin/sh", "-c", "exit 3")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Poll(5*time.Second, func() (string, bool) { return "", false }); err == nil {
		t.Fatal("Poll did not report the exit")
	}
}

func TestFreePortPair(t *testing.T) {
	if p, err := FreePortPair(); err != nil || p <= 0 {
		t.Fatalf("FreePortPair = %d, %v", p, err)
	}
}
