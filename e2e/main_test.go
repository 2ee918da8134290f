//go:build e2e

package e2e

import (
	"os"
	"testing"
)

// TestMain lives in a _test file (go test only looks for it there); the
// harness itself is harness.go.
func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}
