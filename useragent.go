package oauthvendor

import (
	"github.com/hashicorp/vault/sdk/helper/useragent"
	"github.com/hashicorp/vault/sdk/logical"
)

func useragentFor(env *logical.PluginEnvironment) string {
	return useragent.PluginString(env, pluginName)
}
