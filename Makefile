# edmsdr — see README.md. `make drill` runs a drill on a throwaway local cluster; `make test` runs
# everything CI runs.
GO ?= go
BIN := bin/edmsdr
DRILL_BIN := bin/edmsdr-drill
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: all build drill test vet depcheck images sweep fuzz clean

all: build

# The operator binary and, beside it, the drill binary that `edmsdr drill` runs.
build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/edmsdr
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(DRILL_BIN) ./cmd/edmsdr-drill

drill: build
	$(BIN) drill --db auto --report out/drill

test:
	scripts/test.sh

vet:
	gofmt -l . && $(GO) vet ./...

depcheck:
	scripts/depcheck.sh

images:
	scripts/images.sh

sweep:
	$(GO) run ./cmd/sweep

# Every fuzz target of the repository (discovered), FUZZTIME each; crashers land in testdata/fuzz/.
FUZZTIME ?= 30s
fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

clean:
	rm -rf bin out
