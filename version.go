package oauthvendor

// Version is the plugin's semver, set at build time by the Makefile
// (-ldflags "-X github.com/oauthvendor/vault-plugin-secrets-oauthvendor.Version=v...")
// and registered with the same -version, so that Vault reports it.
var Version = "v0.0.0-dev"

// pluginName is the binary's and the catalog's name.
const pluginName = "vault-plugin-secrets-oauthvendor"
