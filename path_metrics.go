package oauthvendor

import (
	"bytes"
	"context"
	"fmt"
	"net/http"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/prometheus/common/expfmt"
)

func pathMetrics(b *backend) *framework.Path {
	return &framework.Path{
		Pattern: "metrics$",
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.ReadOperation: &framework.PathOperation{
				Callback: b.pathMetricsRead,
				Summary:  "Prometheus text exposition of this mount's grants, reads and token expiries.",
			},
		},
		HelpSynopsis: "Prometheus metrics of this mount.",
		HelpDescription: `Answers in the Prometheus text format (a raw body, for a scrape job with
a Vault token as its bearer token). Series per config: grants by result,
token requests, grant duration, token expiry and reads by source. Counters
are this node's since the plugin started; labels never hold error text, a
token or a secret.`,
	}
}

// metricsFormat is the classic text format (version 0.0.4), which every
// Prometheus server accepts whatever its Accept header prefers.
var metricsFormat = expfmt.NewFormat(expfmt.TypeTextPlain)

func (b *backend) pathMetricsRead(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	// The configs in storage are the ones with series (see metrics): a
	// failed list fails the scrape (up=0) rather than dropping series.
	stored, err := req.Storage.List(ctx, configPrefix)
	if err != nil {
		return nil, fmt.Errorf("listing configs for metrics: %w", err)
	}
	families, err := b.metrics.gather(stored)
	if err != nil {
		return nil, fmt.Errorf("gathering metrics: %w", err)
	}
	buf := bytes.NewBuffer(make([]byte, 0, 4096)) // never nil: JSON would make it null
	enc := expfmt.NewEncoder(buf, metricsFormat)
	for _, mf := range families {
		if err := enc.Encode(mf); err != nil {
			return nil, fmt.Errorf("encoding metrics: %w", err)
		}
	}
	// A raw body: Vault writes it as is, with this content type and status.
	return &logical.Response{Data: map[string]interface{}{
		logical.HTTPContentType: string(metricsFormat),
		logical.HTTPRawBody:     buf.Bytes(),
		logical.HTTPStatusCode:  http.StatusOK,
	}}, nil
}
