# vault-plugin-secrets-oauthvendor
#   make demo   real Vault dev server + plugin + vendor simulator, ends in `vault read oauthvendor/creds/alphasense`
#   make test   go vet, unit tests with -race, fuzz smoke, then the end-to-end suite in a real Vault

SHELL        := /bin/bash
VERSION      := $(shell cat VERSION)
MODULE       := github.com/oauthvendor/vault-plugin-secrets-oauthvendor
PLUGIN       := vault-plugin-secrets-oauthvendor
BIN_DIR      := $(CURDIR)/bin
PLUGIN_DIR   := $(BIN_DIR)/plugins
LDFLAGS      := -X '$(MODULE).Version=$(VERSION)'
# Execution counts, not seconds: a loaded machine takes longer instead of
# failing (a time budget hits Go's fuzz coordinator deadline race,
# golang/go#75804). About 10 s each on 2 idle cores.
FUZZ_PARSE   ?= 40000x
FUZZ_CONFIG  ?= 20000x

export PLUGIN_VERSION := $(VERSION)
export PLUGIN_DIR

.PHONY: all build vendorsim vault test unit e2e fuzz demo dev bench fmt vet clean release release-check

all: build

build:
	@mkdir -p $(PLUGIN_DIR)
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o $(PLUGIN_DIR)/$(PLUGIN) ./cmd/$(PLUGIN)

vendorsim:
	@mkdir -p $(BIN_DIR)
	go build -o $(BIN_DIR)/vendorsim ./cmd/vendorsim

# Prints the Vault binary's path; builds Vault from the Go module proxy
# into the user's cache on first use (minutes on 2 cores).
vault:
	@scripts/vault-bin.sh

vet:
	go vet ./...
	go vet -tags e2e ./e2e/

unit:
	go test -race -count=1 ./...

# Each fuzz target for a fixed number of executions; crashers land in testdata/fuzz
# and run as regression cases in every `go test` after that.
fuzz:
	go test -run '^$$' -fuzz '^FuzzParseTokenResponse$$' -fuzztime $(FUZZ_PARSE) ./internal/oauth
	go test -run '^$$' -fuzz '^FuzzConfigValidate$$' -fuzztime $(FUZZ_CONFIG) .

e2e: build vendorsim
	VAULT_BIN="$$(scripts/vault-bin.sh)" OIDC_PROVIDER_DIR="$$(scripts/oidc-provider.sh)" PROMETHEUS_BIN="$$(scripts/prometheus-bin.sh)" CHROMIUM_BIN="$$(scripts/chromium.sh)" go test -tags e2e -count=1 -timeout 40m -v ./e2e/

test: vet unit fuzz release-check e2e

# Release binaries for linux, darwin, windows x amd64, arm64 in dist/, with
# SHA256SUMS and the `vault plugin register` line of each (dist/REGISTER.txt).
release:
	rm -rf dist
	scripts/release.sh

# Two release builds give the same checksums (one target from an empty
# build cache); about 2 CPU-minutes per target on a cold machine.
release-check:
	scripts/release-check.sh

demo: build vendorsim
	scripts/demo.sh

dev: build vendorsim
	scripts/demo.sh --keep

bench: build vendorsim
	scripts/bench.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN_DIR) dist
