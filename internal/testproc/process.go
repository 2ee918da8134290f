// Package testproc runs the child processes of the end-to-end tests and
// the bench (Vault servers, Vault Agent, the vendor simulator): output to
// a log file, a clean environment, readiness polling and a teardown that
// leaves nothing behind.
package testproc

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process is a child process whose output goes to a log file.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when it has exited
	err  error         // its exit status, once done
}

// Start runs bin with its output appended to dir/logName and HOME set to
// dir, in its own process group.
func Start(dir, logName, bin string, args ...string) (*Process, error) {
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
	p := &Process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid is the child's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is the exit status, once Done.
func (p *Process) Err() error { return p.err }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal sends sig to the process alone (not its group).
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Stop is StopWithin with a 15 s grace.
func (p *Process) Stop() { p.StopWithin(15 * time.Second) }

// StopWithin asks politely (Vault stops its plugins on SIGTERM), insists
// after grace, then sweeps the process group for anything left behind
// (the plugin processes of a Vault that did not stop them).
func (p *Process) StopWithin(grace time.Duration) {
	if !p.Exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
		}
	}
	killGroup(p.cmd)
	<-p.done
}

// Poll calls ready every 100 ms until it succeeds (returning its value),
// the process exits, or limit passes.
func (p *Process) Poll(limit time.Duration, ready func() (string, bool)) (string, error) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if v, ok := ready(); ok {
			return v, nil
		}
		if p.Exited() {
			return "", fmt.Errorf("%s exited early: %v", filepath.Base(p.cmd.Path), p.err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", fmt.Errorf("%s not ready after %s", filepath.Base(p.cmd.Path), limit)
}

// WaitFile waits for the process to write a non-empty file and returns
// its first line.
func (p *Process) WaitFile(path string, limit time.Duration) (string, error) {
	return p.Poll(limit, func() (string, bool) {
		b, err := os.ReadFile(path)
		line, _, _ := strings.Cut(string(b), "\n")
		return strings.TrimSpace(line), err == nil && strings.TrimSpace(line) != ""
	})
}

// WaitHTTP waits for url to answer 200 (for Vault's sys/health: unsealed
// and active).
func (p *Process) WaitHTTP(url string, limit time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	_, err := p.Poll(limit, func() (string, bool) {
		resp, err := client.Get(url)
		if err != nil {
			return "", false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return "", resp.StatusCode == http.StatusOK
	})
	return err
}

// childEnv is this process's environment without VAULT_* variables (a
// developer's VAULT_ADDR or VAULT_TOKEN must not steer the children) and
// with HOME in the work dir (no ~/.vault-token written or read).
func childEnv(home string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VAULT_") && !strings.HasPrefix(kv, "HOME=") {
			out = append(out, kv)
		}
	}
	return append(out, "HOME="+home)
}

// FreePortPair returns a port P such that P and P+1 are free right now:
// `vault server -dev` listens on P and puts its cluster listener on P+1.
func FreePortPair() (int, error) {
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
