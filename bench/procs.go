package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is a child process whose output goes to a log file in the work dir.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// startProc runs bin with HOME in dir (no ~/.vault-token read or written)
// and without the caller's VAULT_* variables.
func startProc(dir, logName, bin string, args ...string) (*proc, error) {
	logFile, err := os.OpenFile(filepath.Join(dir, logName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = childEnv(dir)
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop asks politely (Vault stops its plugins on SIGTERM), insists after
// grace, then sweeps the process group for anything left behind.
func (p *proc) stop(grace time.Duration) {
	if !p.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
		}
	}
	killGroup(p.cmd)
	<-p.done
}

// poll calls ready every 100 ms until it succeeds, the process exits or
// limit passes.
func (p *proc) poll(limit time.Duration, ready func() bool) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if ready() {
			return nil
		}
		if p.exited() {
			return fmt.Errorf("%s exited early: %v", filepath.Base(p.cmd.Path), p.err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after %s", filepath.Base(p.cmd.Path), limit)
}

func childEnv(home string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VAULT_") && !strings.HasPrefix(kv, "HOME=") {
			out = append(out, kv)
		}
	}
	return append(out, "HOME="+home)
}

// freePortPair returns a port P with P and P+1 free: `vault server -dev`
// listens on P and puts its cluster listener on P+1.
func freePortPair() (int, error) {
	for range 20 {
		l1, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l1.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+1))
		l1.Close()
		if err == nil {
			l2.Close()
			return port, nil
		}
	}
	return 0, errors.New("no free loopback port pair")
}
