//go:build e2e

package e2e

import (
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"
)

// The catalog, the mount and the plugin itself agree on the version in
// VERSION: the Makefile injects it as RunningVersion and registers with it.
func TestRegisteredVersionIsRunningVersion(t *testing.T) {
	c := env.vault
	entry, err := c.Logical().ReadWithData("sys/plugins/catalog/secret/"+pluginName,
		map[string][]string{"version": {env.version}})
	if err != nil || entry == nil {
		t.Fatalf("catalog entry %s %s: %v", pluginName, env.version, err)
	}
	if entry.Data["version"] != env.version || entry.Data["sha256"] != env.sha256 {
		t.Errorf("catalog: version %v sha256 %v, want %s %s", entry.Data["version"], entry.Data["sha256"], env.version, env.sha256)
	}

	mount, err := c.Logical().Read("sys/mounts/" + mountPath)
	if err != nil || mount == nil {
		t.Fatalf("sys/mounts/%s: %v", mountPath, err)
	}
	if got := mount.Data["running_plugin_version"]; got != env.version {
		t.Errorf("mount running_plugin_version = %v, want %s", got, env.version)
	}
	if got := mount.Data["running_sha256"]; got != env.sha256 {
		t.Errorf("mount running_sha256 = %v, want %s", got, env.sha256)
	}

	// The two above only echo what the harness registered. The plugin's own
	// RunningVersion shows when Vault is left to ask it: registered without
	// a version, the catalog records what the binary reports...
	probe := pluginName + "-selfreport"
	if err := c.Sys().RegisterPlugin(&api.RegisterPluginInput{
		Name: probe, Type: api.PluginTypeSecrets, Command: pluginName, SHA256: env.sha256,
	}); err != nil {
		t.Fatalf("registering %s without a version: %v", probe, err)
	}
	t.Cleanup(func() {
		_ = c.Sys().DeregisterPlugin(&api.DeregisterPluginInput{Name: probe, Type: api.PluginTypeSecrets, Version: env.version})
	})
	list, err := c.Sys().ListPlugins(&api.ListPluginsInput{Type: api.PluginTypeSecrets})
	if err != nil {
		t.Fatal(err)
	}
	var reported []string
	for _, p := range list.Details {
		if p.Name == probe {
			reported = append(reported, p.Version)
		}
	}
	if len(reported) != 1 || reported[0] != env.version {
		t.Errorf("self-reported version of the binary: %v, want [%s]", reported, env.version)
	}
	// ...and a registration claiming another version is refused.
	err = c.Sys().RegisterPlugin(&api.RegisterPluginInput{
		Name: probe, Type: api.PluginTypeSecrets, Command: pluginName, SHA256: env.sha256, Version: "v9.9.9",
	})
	if err == nil || !strings.Contains(err.Error(), "reported version ("+env.version+")") {
		t.Errorf("registering as v9.9.9: got %v, want a version mismatch naming %s", err, env.version)
	}
}

// Every path of API.md shows in `vault path-help` and in the OpenAPI
// document, with the operations it offers.
func TestPathHelpShowsEveryPath(t *testing.T) {
	paths := []struct {
		helpPath string // a concrete request path for `vault path-help`
		route    string // the route pattern the help names
		openapi  string // the OpenAPI path
		ops      []string
	}{
		{"config/x", "^config/(?P<name>", "/config/{name}", []string{"get", "post", "delete"}},
		{"config/", "^config/?$", "/config/", []string{"get"}},
		{"creds/x", "^creds/(?P<name>", "/creds/{name}", []string{"get"}},
		{"rotate/x", "^rotate/(?P<name>", "/rotate/{name}", []string{"post"}},
		{"presets/", "^presets/?$", "/presets/", []string{"get"}},
		{"presets/x", "^presets/(?P<name>", "/presets/{name}", []string{"get"}},
		{"status/x", "^status/(?P<name>", "/status/{name}", []string{"get"}},
	}

	root, err := env.vault.Help(mountPath)
	if err != nil {
		t.Fatalf("path-help %s: %v", mountPath, err)
	}
	spec, err := env.vault.Logical().Read("sys/internal/specs/openapi")
	if err != nil || spec == nil {
		t.Fatalf("sys/internal/specs/openapi: %v", err)
	}
	specPaths, _ := spec.Data["paths"].(map[string]any)

	for _, p := range paths {
		t.Run(p.helpPath, func(t *testing.T) {
			if !strings.Contains(root.Help, p.route) {
				t.Errorf("path-help %s/ does not list %s", mountPath, p.route)
			}
			h, err := env.vault.Help(mountPath + "/" + p.helpPath)
			if err != nil {
				t.Fatalf("path-help %s/%s: %v", mountPath, p.helpPath, err)
			}
			if !strings.Contains(h.Help, "Matching Route: "+p.route) || !strings.Contains(h.Help, "## DESCRIPTION") {
				t.Errorf("path-help %s/%s:\n%s", mountPath, p.helpPath, h.Help)
			}
			item, ok := specPaths["/"+mountPath+p.openapi].(map[string]any)
			if !ok {
				t.Fatalf("OpenAPI has no %s", "/"+mountPath+p.openapi)
			}
			for _, op := range p.ops {
				if _, ok := item[op]; !ok {
					t.Errorf("OpenAPI %s has no %s operation", p.openapi, op)
				}
			}
		})
	}
}
