//go:build e2e && linux

package e2e

import "syscall"

// childProcAttr: children get SIGTERM when the test binary dies (a -timeout
// panic skips TestMain's teardown), so no Vault or simulator outlives it on
// a shared machine.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
