package oauthvendor

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/vault/sdk/logical"
)

// getJSON reads one JSON record; nil when absent. what names it in errors.
func getJSON[T any](ctx context.Context, s logical.Storage, key, what string) (*T, error) {
	entry, err := s.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	if entry == nil {
		return nil, nil
	}
	var v T
	if err := entry.DecodeJSON(&v); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", what, err)
	}
	return &v, nil
}

func putJSON(ctx context.Context, s logical.Storage, key, what string, v interface{}) error {
	entry, err := logical.StorageEntryJSON(key, v)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", what, err)
	}
	if err := s.Put(ctx, entry); err != nil {
		return fmt.Errorf("storing %s: %w", what, err)
	}
	return nil
}

// loadConfig: nil for a name no config can have (storage refuses keys
// such as "a..b"), so every path answers it with its 404, not a 500.
func loadConfig(ctx context.Context, s logical.Storage, name string) (*vendorConfig, error) {
	if !storableName(name) {
		return nil, nil
	}
	return getJSON[vendorConfig](ctx, s, configPrefix+name, fmt.Sprintf("config %q", name))
}

// mustLoadConfig is loadConfig for paths where a missing config is the
// caller's 404.
func mustLoadConfig(ctx context.Context, s logical.Storage, name string) (*vendorConfig, error) {
	cfg, err := loadConfig(ctx, s, name)
	if err == nil && cfg == nil {
		err = notFound(name)
	}
	return cfg, err
}

func storeConfig(ctx context.Context, s logical.Storage, name string, cfg *vendorConfig) error {
	return putJSON(ctx, s, configPrefix+name, fmt.Sprintf("config %q", name), cfg)
}

func loadToken(ctx context.Context, s logical.Storage, name string) (*cachedToken, error) {
	return getJSON[cachedToken](ctx, s, tokenPrefix+name, fmt.Sprintf("cached token of %q", name))
}

func storeToken(ctx context.Context, s logical.Storage, name string, t *cachedToken) error {
	return putJSON(ctx, s, tokenPrefix+name, fmt.Sprintf("cached token of %q", name), t)
}

func loadStatus(ctx context.Context, s logical.Storage, name string) (*grantStatus, error) {
	st, err := getJSON[grantStatus](ctx, s, statusPrefix+name, fmt.Sprintf("status of %q", name))
	if st == nil && err == nil {
		st = &grantStatus{}
	}
	return st, err
}

func storeStatus(ctx context.Context, s logical.Storage, name string, st *grantStatus) error {
	return putJSON(ctx, s, statusPrefix+name, fmt.Sprintf("status of %q", name), st)
}

// storableName: Vault's storage view refuses keys holding ".."
// (logical.ErrRelativePath), which the route's name pattern lets through.
func storableName(name string) bool { return !strings.Contains(name, "..") }
