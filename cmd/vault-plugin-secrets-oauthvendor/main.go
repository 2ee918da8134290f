// Command vault-plugin-secrets-oauthvendor is the plugin binary Vault runs.
package main

import (
	"os"
	"runtime/debug"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/sdk/plugin"

	oauthvendor "github.com/oauthvendor/vault-plugin-secrets-oauthvendor"
)

// gcPercent is the plugin's GOGC unless the environment sets one. Go's
// default (100) lets garbage grow as large as the live heap before a
// collection; a mount with 10 000 warm configs (about 2.2 KiB of live heap
// each) then holds twice that in RSS. At 50 the headroom halves; the cost
// is more frequent, short collections on the read path (BENCHMARKS.md has
// the hit rates with it).
const gcPercent = 50

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	meta := &api.PluginAPIClientMeta{}
	flags := meta.FlagSet()
	if err := flags.Parse(os.Args[1:]); err != nil {
		fatal(err)
	}
	err := plugin.ServeMultiplex(&plugin.ServeOpts{
		BackendFactoryFunc: oauthvendor.Factory,
		// Only used by Vault versions that predate AutoMTLS.
		TLSProviderFunc: api.VaultPluginTLSProvider(meta.GetTLSConfig()),
	})
	if err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	hclog.New(&hclog.LoggerOptions{}).Error("plugin shutting down", "error", err)
	os.Exit(1)
}
