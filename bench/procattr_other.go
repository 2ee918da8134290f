//go:build !linux

package main

import (
	"os/exec"
	"syscall"
)

func childProcAttr() *syscall.SysProcAttr { return nil }

func killGroup(cmd *exec.Cmd) { _ = cmd.Process.Kill() }
