package oauthvendor

import "github.com/hashicorp/go-hclog"

// configLogger is the HTTP client's logger for one config: the mount's
// logger, with the config's name added at each call. hclog's With (and
// Named) copy the whole logger, a few hundred bytes that 10 000 warm
// configs would hold for the few debug lines a grant writes.
type configLogger struct {
	l    hclog.Logger
	name string
}

func (b *backend) httpLogger(name string) configLogger {
	return configLogger{l: b.Logger(), name: name}
}

func (c configLogger) with(kv []interface{}) []interface{} {
	return append([]interface{}{"config", c.name}, kv...)
}

// The retryablehttp.LeveledLogger methods.

func (c configLogger) Error(msg string, kv ...interface{}) { c.l.Error(msg, c.with(kv)...) }
func (c configLogger) Warn(msg string, kv ...interface{})  { c.l.Warn(msg, c.with(kv)...) }
func (c configLogger) Info(msg string, kv ...interface{})  { c.l.Info(msg, c.with(kv)...) }
func (c configLogger) Debug(msg string, kv ...interface{}) { c.l.Debug(msg, c.with(kv)...) }
