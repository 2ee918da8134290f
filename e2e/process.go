//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// process is a child process whose output goes to a log file.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when it has exited
	err  error         // its exit status, once done
}

// startProcess runs bin with its output appended to dir/logName and HOME
// set to dir.
func startProcess(dir, logName, bin string, args ...string) (*process, error) {
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
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop asks politely (Vault stops its plugins on SIGTERM), then insists.
func (p *process) stop() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// waitFile waits for the process to write a non-empty file and returns
// its first line.
func (p *process) waitFile(path string, limit time.Duration) (string, error) {
	return p.poll(limit, func() (string, bool) {
		b, err := os.ReadFile(path)
		line, _, _ := strings.Cut(string(b), "\n")
		return strings.TrimSpace(line), err == nil && strings.TrimSpace(line) != ""
	})
}

// waitHTTP waits for url to answer 200 (for Vault's sys/health: unsealed
// and active).
func (p *process) waitHTTP(url string, limit time.Duration) error {
	client := httpClient(2 * time.Second)
	_, err := p.poll(limit, func() (string, bool) {
		resp, err := client.Get(url)
		if err != nil {
			return "", false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return "", resp.StatusCode == 200
	})
	return err
}

func (p *process) poll(limit time.Duration, ready func() (string, bool)) (string, error) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if v, ok := ready(); ok {
			return v, nil
		}
		if p.exited() {
			return "", fmt.Errorf("%s exited early: %v", filepath.Base(p.cmd.Path), p.err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", fmt.Errorf("%s not ready after %s", filepath.Base(p.cmd.Path), limit)
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
