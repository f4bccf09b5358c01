# Mailroom: the two commands the README promises.
#   make run    build and start a zero-configuration trial server (mailroom dev)
#   make test   install what the tests need (imaptest too), then gofmt, go vet, staticcheck,
#               type-check, lint and build-check the webmail app (internal/webapp),
#               go test -race (with the imaptest compliance suite)

export PATH := $(PATH):/usr/local/go/bin
GO      ?= go
BIN     := $(CURDIR)/bin

.PHONY: all build run test deps lint webapp bench fuzz clean

all: build

build:
	$(GO) build -o $(BIN)/mailroom ./cmd/mailroom

run: build
	$(BIN)/mailroom dev

deps:
	./scripts/install-test-deps.sh

lint: deps
	@fmt=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$fmt" ]; then echo "gofmt needed:"; echo "$$fmt"; exit 1; fi
	$(GO) vet ./...
	$(BIN)/staticcheck ./...
	cd internal/webapp && npm run --silent check

# Rebuild the webmail's browser app into internal/webapp/dist (committed:
# go build embeds it). make test fails while dist/ is out of date.
webapp:
	cd internal/webapp && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build

# imaptest (built by deps) runs in internal/imap/imaptest_test.go.
# deps installs PostgreSQL, so its tests must run here, not skip.
# The protocol tests (every package whose tests start a server with
# internal/testrig, or open a store with internal/testrig/teststore) run
# twice: on SQLite with everything else, then on PostgreSQL.
RIG_PKGS = $$($(GO) list -f '{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./... | awk '/ mailroom\/internal\/testrig(\/teststore)?( |$$)/ {print $$1}')
test: lint
	MAILROOM_IMAPTEST=$(BIN)/imaptest/imaptest MAILROOM_REQUIRE_POSTGRES=1 $(GO) test -race -timeout 30m ./...
	MAILROOM_IMAPTEST=$(BIN)/imaptest/imaptest MAILROOM_REQUIRE_POSTGRES=1 MAILROOM_TEST_BACKEND=postgres \
		$(GO) test -race -timeout 30m $(RIG_PKGS)

# The measurements in docs/benchmarks.md.
bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 1 ./internal/store/sqlitestore/
	$(GO) test -run '^$$' -bench . ./internal/mime/

# A short run of every fuzz target (each for FUZZTIME).
FUZZTIME ?= 30s
fuzz:
	./scripts/fuzz-all.sh $(FUZZTIME)

clean:
	rm -rf $(BIN)
