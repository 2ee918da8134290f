//go:build tools

// Package tools pins the Vault server the end-to-end tests and the demo run.
// It lives in its own module so Vault's dependency tree never enters the
// plugin's go.mod.
package tools

import _ "github.com/hashicorp/vault"
