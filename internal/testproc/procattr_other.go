//go:build !linux

package testproc

import (
	"os/exec"
	"syscall"
)

// childProcAttr: no parent-death signal or group kill outside Linux; the
// callers' teardown stops the children.
func childProcAttr() *syscall.SysProcAttr { return nil }

func killGroup(cmd *exec.Cmd) { _ = cmd.Process.Kill() }
