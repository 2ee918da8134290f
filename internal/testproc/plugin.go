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
