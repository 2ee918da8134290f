//go:build linux

package main

import (
	"os/exec"
	"syscall"
)

// childProcAttr puts a child in its own process group (so that Vault and
// the plugins it starts can be killed together, and a Ctrl-C reaches only
// the driver, which tears down in order) and sends it SIGTERM if the
// driver dies without cleaning up.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// killGroup SIGKILLs whatever is left in the child's process group: the
// plugin processes of a Vault that did not stop them.
func killGroup(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
