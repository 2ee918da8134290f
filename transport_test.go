package oauthvendor

import (
	"github.com/hashicorp/go-retryablehttp"
)

// standaloneClient is a config's client over a transport of its own, for
// tests that adjust the transport (no proxy, no header cap).
func standaloneClient(cfg *vendorConfig) (*retryablehttp.Client, error) {
	tr, err := newTransport(cfg)
	if err != nil {
		return nil, err
	}
	return newHTTPClient(tr, nil), nil
}
