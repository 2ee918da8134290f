//go:build e2e

package e2e

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthvendor/vault-plugin-secrets-oauthvendor/internal/vendorsim"
)

// A token_exchange config exchanges another config's token (subject_config)
// at the simulator's RFC 8693 endpoint, which accepts only live tokens it
// issued to AgentSync as subject tokens. AgentSync's tokens live 12 s, so
// the subject refreshes several times while readers loop on the exchanging
// config (expires_with_subject: each exchanged token dies with its
// subject, so it refreshes too, each time with the subject's current
// token): no read fails, every token read is the exchange's and live,
// and every exchange the simulator saw carried one of AgentSync's tokens.
func TestTokenExchangeSubjectConfigWhileSubjectRefreshes(t *testing.T) {
	const (
		subject   = "xchg-subject"
		exchanger = "xchg-exchanger"
		readers   = 4
		loop      = 30 * time.Second
	)
	env.sim.setKnobs(t, vendorsim.AgentSync, map[string]any{"lifetime": "12s"})
	env.sim.setKnobs(t, vendorsim.Exchange, map[string]any{"subject_from": vendorsim.AgentSync})
	// The subject lets its token go to the exchange (the sim's origin).
	configureVendor(t, subject, vendorsim.AgentSync, map[string]any{"exchange_urls": env.sim.base})
	writeConfig(t, exchanger, map[string]any{
		"token_url": env.sim.base + vendorsim.ExchangeTokenPath, "grant_type": "token_exchange",
		"subject_config": subject, "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
		"client_auth": "none", "expires_with_subject": true, "scopes": "all-apis",
	})
	subjectBefore := env.sim.stats(t, vendorsim.AgentSync).TokensIssued
	xBefore := env.sim.stats(t, vendorsim.Exchange)

	var (
		reads, failures atomic.Int64
		mu              sync.Mutex
		tokens          = map[string]bool{}
		wg              sync.WaitGroup
		stop            = time.Now().Add(loop)
	)
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				s, err := env.vault.Logical().Read(mountPath + "/creds/" + exchanger)
				reads.Add(1)
				if err != nil || s == nil {
					failures.Add(1)
					t.Errorf("read of %s: %v", exchanger, err)
					continue
				}
				tok, _ := s.Data["access_token"].(string)
				if s.LeaseDuration > 12 {
					t.Errorf("lease of %d s outlives the 12 s subject token", s.LeaseDuration)
				}
				mu.Lock()
				tokens[tok] = true
				mu.Unlock()
				time.Sleep(100 * time.Millisecond)
			}
		}()
	}
	wg.Wait()

	for tok := range tokens {
		if env.sim.valid(t, vendorsim.AgentSync, tok) {
			t.Errorf("a read of %s returned the subject's token", exchanger)
		}
	}
	last := readCreds(t, exchanger)
	if !env.sim.valid(t, vendorsim.Exchange, accessToken(t, last)) {
		t.Errorf("the token read now is not a live token of the exchange")
	}
	if last.Data["issued_token_type"] != "urn:ietf:params:oauth:token-type:access_token" || last.Data["token_type"] != "Bearer" {
		t.Errorf("creds data %v: want the exchange's issued_token_type beside token_type", keys(last.Data))
	}
	subjectIssued := env.sim.stats(t, vendorsim.AgentSync).TokensIssued - subjectBefore
	x := env.sim.stats(t, vendorsim.Exchange)
	exchanged, subjects := x.TokensIssued-xBefore.TokensIssued, x.SubjectTokens-xBefore.SubjectTokens
	t.Logf("%d reads, %d failed; subject minted %d tokens; %d exchanges, %d distinct tokens read", reads.Load(), failures.Load(), subjectIssued, exchanged, len(tokens))
	if failures.Load() != 0 {
		t.Fatalf("%d of %d reads failed", failures.Load(), reads.Load())
	}
	if subjectIssued < 2 || exchanged < 2 || len(tokens) < 2 {
		t.Fatalf("in %s the subject minted %d tokens and %d exchanges ran (%d tokens read); want both refreshing", loop, subjectIssued, exchanged, len(tokens))
	}
	if subjects != exchanged || x.TokenRequests-xBefore.TokenRequests != exchanged {
		t.Fatalf("%d exchange requests, %d granted, %d with AgentSync's live token as subject: want all alike",
			x.TokenRequests-xBefore.TokenRequests, exchanged, subjects)
	}
	cfg, err := env.vault.Logical().Read(mountPath + "/config/" + exchanger)
	if err != nil || cfg.Data["subject_config"] != subject || cfg.Data["client_auth"] != "none" {
		t.Fatalf("config read: %v %v", cfg, err)
	}
}
