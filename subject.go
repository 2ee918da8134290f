package oauthvendor

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/oauth"
)

// A token_exchange config's subject token (RFC 8693 2.1) is a JWT of its
// assertion_source (the mount's issuer, Vault's identity token: made by
// the connection, assertion_source.go), or the current token of its
// subject_config, read as creds/<subject> reads it (read:
// the shared cache, that config's own refresh schedule and back-off, its
// metrics and read mark). The exchanging config never stores it: it is
// fetched per grant, and lives only in that grant's request.
//
// Locks: A's grant holds A's name lock while it reads B, which may take
// B's. Waits therefore follow subject_config edges, and config writes
// keep those acyclic (subject_chain.go), so no two grants wait on each
// other. Should storage ever hold a cycle anyway (edited by hand), the
// chain carried in the context refuses it, and subjectWait bounds the
// wait of a grant that joined a flight waiting on itself.

// maxSubjectChain bounds A -> B -> C ...: each hop is a grant inside the
// one before it, all inside one creds read.
const maxSubjectChain = 4

// subjectWait bounds one subject read: long enough for a whole chain of
// grants at their longest timeout, so it only ever cuts a wait that
// cannot end.
const subjectWait = maxSubjectChain * maxTimeout

// subjectChainKey carries the names whose grants are waiting for this
// read, innermost last.
type subjectChainKey struct{}

// subjectSource is the supplier of the subject token of conn's grants:
// subject_config's token, else the JWT of its assertion_source made at
// connect (nil when its config exchanges none).
func (b *backend) subjectSource(s logical.Storage, conn *connection) oauth.SubjectSource {
	subject := conn.cfg.SubjectConfig
	if subject == "" {
		return conn.ownSubject
	}
	return func(ctx context.Context) (*oauth.SubjectToken, error) {
		chain, _ := ctx.Value(subjectChainKey{}).([]string)
		if len(chain) == 0 {
			chain = []string{conn.name}
		}
		if slices.Contains(chain, subject) || len(chain) > maxSubjectChain {
			return nil, fmt.Errorf("subject_config %q: the chain %s is a cycle or longer than %d", subject,
				strings.Join(append(slices.Clip(chain), subject), " -> "), maxSubjectChain)
		}
		ctx = context.WithValue(ctx, subjectChainKey{}, append(slices.Clip(chain), subject))
		ctx, cancel := context.WithTimeout(ctx, subjectWait)
		defer cancel()
		subjectCfg, got, err := b.read(ctx, s, subject)
		if err != nil {
			// Its own error: its secrets are redacted already, and it
			// never holds the token.
			return nil, fmt.Errorf("subject_config %q: %w", subject, err)
		}
		// Checked at every grant too: the subject's exchange_urls may have
		// changed since this config was written.
		if to := origin(conn.cfg.TokenURL); !allowsExchangeTo(subjectCfg, to) {
			return nil, fmt.Errorf("subject_config %q does not let its token go to %s (its exchange_urls)", subject, to)
		}
		return &oauth.SubjectToken{Token: got.tok.AccessToken, ExpiresAt: got.tok.ExpiresAt}, nil
	}
}
