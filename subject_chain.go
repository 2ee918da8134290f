package oauthvendor

import (
	"context"
	"errors"
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
// (name) through storage: the first hop must exist, no hop may come back
// to name, and the chain is at most maxSubjectChain long. A refusal is a
// *fieldError; anything else is storage's.
func checkSubjectChain(ctx context.Context, s logical.Storage, name, subject string) error {
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
