//go:build e2e && !linux

package e2e

import "syscall"

// childProcAttr: no parent-death signal outside Linux; TestMain's teardown
// stops the children.
func childProcAttr() *syscall.SysProcAttr { return nil }
