package oauthvendor

import (
	"context"
	"errors"
	"sort"
	"strings"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

// Writes of subject_config keep the graph of "A exchanges B's token"
// acyclic and shallow: a grant of A holds A's name lock while it reads B
// (subject.go), so a cycle would be two grants waiting on each other.
// Every write that gives subject_config holds b.subjects from before its
// name lock until it has stored: the chain it checks is the one in
// storage, and no other write can close a loop meanwhile. Writes that do
// not give it keep their config's edge as it was. Grants never take
// b.subjects, so a write waiting for it holds nothing a grant needs.

// lockSubjects takes the subject graph's lock when the write gives
// subject_config, and returns its release.
func (b *backend) lockSubjects(d *framework.FieldData) (unlock func()) {
	if _, ok := d.GetOk("subject_config"); !ok {
		return func() {}
	}
	b.subjects.Lock()
	return b.subjects.Unlock
}

// checkSubjectChain follows subject_config from the config being written
// (name, whose token endpoint has origin to) through storage: the first
// hop must exist and let its token go to that origin (exchange_urls), no
// hop may come back to name, and the chain is at most maxSubjectChain
// long. A refusal is a *fieldError; anything else is storage's.
func checkSubjectChain(ctx context.Context, s logical.Storage, name, to, subject string) error {
	chain := []string{name}
	for subject != "" {
		chain = append(chain, subject)
		switch {
		case subject == name && len(chain) == 2:
			return fieldErr("subject_config", "%s is this config: a config cannot exchange its own token", quote(subject))
		case subject == name:
			return fieldErr("subject_config", "would make a cycle: %s", strings.Join(chain, " -> "))
		case len(chain)-1 > maxSubjectChain:
			return fieldErr("subject_config", "the chain %s is longer than %d exchanges", strings.Join(chain, " -> "), maxSubjectChain)
		}
		cfg, err := loadConfig(ctx, s, subject)
		if err != nil {
			return err
		}
		if cfg == nil {
			if len(chain) == 2 {
				return fieldErr("subject_config", "no config named %s on this mount", quote(subject))
			}
			return nil // a dangling hop further on is that config's own failure
		}
		if len(chain) == 2 && !allowsExchangeTo(cfg, to) {
			return fieldErr("subject_config", "%s does not let its token go to %s: add this token_url to %s's exchange_urls (a write that gives its credentials)", quote(subject), to, subject)
		}
		subject = cfg.SubjectConfig
	}
	return nil
}

// subjectChainRefusal is the write's answer to checkSubjectChain's error.
func subjectChainRefusal(err error) (*logical.Response, error) {
	var fe *fieldError
	if errors.As(err, &fe) {
		return logical.ErrorResponse(err.Error()), nil
	}
	return nil, err
}

// allowsExchangeTo: c's owner named the token endpoint (origin to) its
// token may be sent to as a subject token. Like the secrets of a config
// (secretsFollowHost), its token goes only where whoever knows its
// credentials said.
func allowsExchangeTo(c *vendorConfig, to string) bool {
	for _, u := range c.ExchangeURLs {
		if origin(u) == to {
			return true
		}
	}
	return false
}

// exchangeURLsNeedSecrets: a write that adds an origin to exchange_urls
// lets the config's token go there, so it must give the config's stored
// write-only credentials again (as turning on api_key_in_creds must give
// api_key): whoever may write configs but never knew them cannot send its
// tokens to a host of their choosing. A config holding none (a public
// client, an exchanger) has nothing to ask for.
func exchangeURLsNeedSecrets(old, cur *vendorConfig, d *framework.FieldData) error {
	if old == nil {
		return nil
	}
	added := false
	for _, u := range cur.ExchangeURLs {
		added = added || !allowsExchangeTo(old, origin(u))
	}
	if !added {
		return nil
	}
	var missing []string
	for field, set := range old.sentSecretsSet() {
		if _, given := d.GetOk(field); set && !given && writeOnly[field] {
			missing = append(missing, field)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	return fieldErr("exchange_urls", "adding a token endpoint lets this config's token go there: give %s again in the same write", strings.Join(missing, ", "))
}
