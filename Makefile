# Portcullis — see README.md. `make run` and `make test` are all a fresh machine needs.
SHELL   := bash
GO      ?= go
BIN     := bin/portcullis
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell c=$$(git rev-parse --short=12 HEAD 2>/dev/null) && { git diff --quiet HEAD 2>/dev/null || c=$$c-dirty; echo $$c; })
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
PKGS    := ./cmd/... ./gateway/... ./policy/... ./bundles/... ./internal/...

SUMMARY := bin/testsummary
COUNTS  := bin/test-counts.jsonl

.PHONY: build run test vet unit rego e2e deploy-test image testsummary bench bench-scale fuzz clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/portcullis

# The gateway on the example config, in front of the demo upstream. Ctrl-C stops both.
run: build
	@$(BIN) demo keys --dir .demo
	@bash -c 'trap "kill 0" EXIT; \
		$(BIN) demo upstream --listen 127.0.0.1:9000 --assertion-jwks http://127.0.0.1:8081/.well-known/jwks.json & \
		$(BIN) run --config portcullis.yaml'

# vet, then the unit, Rego and end-to-end tests (all three run even when one
# fails), then one line of what ran and, last, "N passed, N failed, N skipped".
test: vet testsummary
	@rm -f $(COUNTS); status=0; \
	$(MAKE) --no-print-directory unit || status=1; \
	$(MAKE) --no-print-directory rego || status=1; \
	$(MAKE) --no-print-directory e2e || status=1; \
	$(MAKE) --no-print-directory deploy-test || status=1; \
	$(SUMMARY) report $(COUNTS) || status=1; \
	exit $$status

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l cmd gateway policy internal tests bundles)" || { echo "gofmt needed:"; gofmt -l cmd gateway policy internal tests bundles; exit 1; }

# go test -json rendered like plain go test output (failures in full), counted.
unit: testsummary
	set -o pipefail; $(GO) test -json -race -count=1 $(PKGS) | $(SUMMARY) go -counts $(COUNTS)

rego: testsummary
	set -o pipefail; $(GO) tool opa test bundles/ | $(SUMMARY) rego -counts $(COUNTS)

e2e: testsummary
	set -o pipefail; $(GO) test -json -count=1 -timeout 8m ./tests/... | $(SUMMARY) go -counts $(COUNTS)

# The deploy module (deploy/go.mod, kept apart so that Helm and the
# Kubernetes API stay out of the gateway's go.mod): the image and Helm chart
# tests. Its first run compiles Helm, which takes minutes; later runs reuse it.
deploy-test: testsummary
	cd deploy && $(GO) vet ./... && test -z "$$(gofmt -l .)"
	cd deploy && $(GO) tool helm version --short  # compiled here, not inside a test's timeout
	set -o pipefail; cd deploy && $(GO) test -json -count=1 ./... | ../$(SUMMARY) go -counts ../$(COUNTS)

# The OCI image of the static binary (README, "Running in production"):
# an OCI layout in bin/image and a `docker load` tarball, bin/portcullis-image.tar.
IMAGE_ARCH ?= $(shell $(GO) env GOARCH)
image:
	CGO_ENABLED=0 GOOS=linux GOARCH=$(IMAGE_ARCH) $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/portcullis-linux-$(IMAGE_ARCH) ./cmd/portcullis
	cd deploy && $(GO) run ./cmd/image -binary ../bin/portcullis-linux-$(IMAGE_ARCH) -arch $(IMAGE_ARCH) \
		-config image/portcullis.yaml -bundle ../bundles/portcullis -out ../bin/image -tar ../bin/portcullis-image.tar \
		-version $(VERSION) -revision $(COMMIT) -created $$(git log -1 --format=%ct 2>/dev/null || echo 0)

testsummary:
	@mkdir -p bin && $(GO) build -o $(SUMMARY) ./internal/testsummary

# Load benchmark against a bare reverse proxy in the same run (see README, "Performance").
bench:
	$(GO) run ./tests/bench $(BENCHFLAGS)

# Cost curves on every axis (routes, JWT issuers and keys, token cache, API
# keys, policy size, bundle data, decision-log rate): in-process benchmarks
# and the real binary; a table and bench-results/scale-<time>.json (see
# README, "Performance at scale"). SCALEFLAGS: -quick, -axes, -gateway path.
bench-scale:
	$(GO) run ./tests/bench -scale $(SCALEFLAGS)

# A short run of every fuzz target (FUZZTIME each).
FUZZTIME ?= 10s
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

clean:
	rm -rf bin
