package testproc

import (
	"context"
	"fmt"

	"github.com/hashicorp/vault/api"
)

// RegisterAndMount does what an operator does with a new secrets plugin
// binary: register it in the catalog by sha256 and version, then mount it
// at mount pinned to that version.
func RegisterAndMount(ctx context.Context, c *api.Client, name, sha256, version, mount string) error {
	if err := c.Sys().RegisterPluginWithContext(ctx, &api.RegisterPluginInput{
		Name: name, Type: api.PluginTypeSecrets, Command: name, SHA256: sha256, Version: version,
	}); err != nil {
		return fmt.Errorf("registering %s %s: %w", name, version, err)
	}
	if err := c.Sys().MountWithContext(ctx, mount, &api.MountInput{
		Type: name, Config: api.MountConfigInput{PluginVersion: version},
	}); err != nil {
		return fmt.Errorf("mounting %s at %s/: %w", name, mount, err)
	}
	return nil
}

// VaultClient talks to the Vault at addr as token ("" for none yet). No
// client-side retries: the tests and the bench count vendor requests, and
// a client retrying a 502 would add some. VAULT_* variables of the caller's
// environment are ignored (no namespace).
func VaultClient(addr, token string) (*api.Client, error) {
	cfg := api.DefaultConfig()
	cfg.Address = addr
	cfg.MaxRetries = 0
	c, err := api.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	if token != "" {
		c.SetToken(token)
	}
	c.ClearNamespace()
	return c, nil
}
