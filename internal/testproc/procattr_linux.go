//go:build linux

package testproc

import (
	"os/exec"
	"syscall"
)

// childProcAttr puts a child in its own process group (so that Vault and
// the plugins it starts can be stopped together) and sends it SIGTERM if
// the test binary or driver dies without cleaning up (a -timeout panic
// skips teardown), so nothing outlives it on a shared machine.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

func killGroup(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
