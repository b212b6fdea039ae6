# twister in Go: native node, bridge, signaling and the browser (WASM) node.
# `make run` starts a local network; `make test` runs every test (CI runs it).

GO       ?= go
GOROOT   := $(shell $(GO) env GOROOT)
WASMEXEC := $(GOROOT)/lib/wasm
# Packages that also build and pass their tests under GOOS=js GOARCH=wasm.
WASM_PKGS := ./bencode/... ./keys/... ./text/... ./resource/... ./dm/... ./post/... \
             ./chain/consensus/... ./chain/light/... ./chain/wire/... ./swarm/wire/... ./signaling/ \
             ./bridge/wire/... ./webnode/ ./keystore/
FUZZTIME ?= 30s

.PHONY: all build run test test-native test-wasm wasm bench fuzz deps vet clean

all: build

build:
	$(GO) build ./...

# A local regtest network on 127.0.1.x with the web client (see README).
run: wasm
	$(GO) run ./cmd/devnet

# What the tests need beyond Go: Node.js and npm (wasm tests, fake-indexeddb
# for the IndexedDB stores) and Chromium (browser tests), from Debian.
deps:
	@command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq nodejs npm; }
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium; }
	@[ -d web/js/node_modules/fake-indexeddb ] || npm ci --prefix web/js --no-audit --no-fund

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

test: deps vet test-native test-wasm

test-native:
	$(GO) test -count=1 -timeout 15m ./...

test-wasm:
	NODE_PATH="$(CURDIR)/web/js/node_modules" NODE_OPTIONS="--require fake-indexeddb/auto" \
	PATH="$(WASMEXEC):$$PATH" GOOS=js GOARCH=wasm $(GO) test -count=1 -timeout 10m $(WASM_PKGS)

# The browser node's WebAssembly bundle, embedded by package web (js/).
# Inlining is off except in the packages signature checks run in (secp256k1,
# keys, SHA-256, bencode, post): the code is larger but compresses about 8%
# better (brotli: 2.21 MB -> 2.04 MB), and verifying 1,000 posts stays
# within ~10% of the inlined build (all=-l alone costs 30% there).
# (binaryen's wasm-opt -O2/-Os/-Oz was measured too: 40-80 s for a brotli
# size within +-0.5%, so it is not used.)
WASM_GCFLAGS := -gcflags=all=-l -gcflags=github.com/decred/dcrd/dcrec/secp256k1/v4= \
                -gcflags=github.com/gotwister/twister/keys= -gcflags=crypto/internal/fips140/sha256= \
                -gcflags=github.com/gotwister/twister/bencode= -gcflags=github.com/gotwister/twister/post=
wasm:
	mkdir -p web/dist
	GOOS=js GOARCH=wasm $(GO) build -trimpath $(WASM_GCFLAGS) -ldflags='-s -w' -o web/dist/twister.wasm ./wasm
	gzip -9 -k -f web/dist/twister.wasm
	cp "$(WASMEXEC)/wasm_exec.js" web/dist/

bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./...
	PATH="$(WASMEXEC):$$PATH" GOOS=js GOARCH=wasm $(GO) test -run '^$$' -bench . -benchtime 1s ./keys ./dm ./post

# Runs every fuzz target for FUZZTIME each (seed corpora run in `make test`).
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf web/dist
