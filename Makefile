# regsync: `make run` runs the demo, `make test` runs every test. Neither
# needs anything running: with DATABASE_URL unset both start a throwaway
# PostgreSQL from the local binaries (PGBIN, default
# /usr/lib/postgresql/15/bin) and stop it when they finish.

GO ?= go
ARGS ?=

.PHONY: run test bench build fuzz chaos stress

run:
	$(GO) run ./cmd/regsync demo $(ARGS)

# Every test, a short run of each reliability-harness scenario, and each
# fuzz target for a moment; before them the deploy/ checks and the linter. The fuzzing budget is a count of executions,
# not a duration: Go 1.26's fuzz coordinator can fail a target with
# "context deadline exceeded" when a duration ends under CPU load
# (go.dev/issue/75804).
test:
	$(GO) test -race -count=1 ./...
	$(GO) run ./cmd/regsync-chaos --small
	$(MAKE) --no-print-directory fuzz FUZZTIME=2000x

# The reliability harness at full size: every fault scenario (kills,
# credentials, row-locks, connection-kills, slow-confirm, hostile-bodies)
# with 10,000 domains, 300 transfers and three worker processes each.
chaos:
	$(GO) run ./cmd/regsync-chaos $(ARGS)

# The Go tests many times over, to find what fails only sometimes: a
# flaky test costs a whole submission. STRESS_COUNT runs of each test,
# with the race detector, not stopping at the first failure.
STRESS_COUNT ?= 10
stress:
	$(GO) test -race -count=$(STRESS_COUNT) ./...

# Every benchmark figure next to its goal: throughput of status_sync jobs
# against River's own no-op jobs, scale-out, guarded changes per worker,
# the sweep of a million due domains, a real serve on a million domains
# (migration, scrapes, memory, the API's latency), three registrars at
# their rate limits, the history tables and a million-line domain import;
# first on a throwaway server without fsync, then the throughput, the
# sweep and the import with fsync and synchronous commit on. The last line of output is
# the durable run's status-sync/noop ratio.
bench:
	$(GO) run ./cmd/regsync-bench $(ARGS)
	$(GO) run ./cmd/regsync-bench --durable --suites throughput,sweep,import $(ARGS)

build:
	$(GO) build -o bin/regsync ./cmd/regsync

# Each fuzz target for FUZZTIME: a duration (default 10s) or a count of
# executions such as 2000x. Targets are found by name in the test files,
# so that packages without one are not compiled for nothing.
FUZZTIME ?= 10s
fuzz:
	@set -e; for file in $$(grep -rl --include='*_test.go' '^func Fuzz' cmd internal registrar store worker migrations); do \
		for target in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$file); do \
			echo "fuzz ./$$(dirname $$file) $$target"; \
			$(GO) test -run='^$$' -fuzz="^$$target$$" -fuzztime=$(FUZZTIME) ./$$(dirname $$file); \
		done; \
	done

# Operations: the deploy/ checks, lint and the vulnerability scan. The tools
# they fetch go into .tools/ (ignored by git), each once.
TOOLS := $(CURDIR)/.tools
GOLANGCI_LINT_VERSION := v2.15.0
GOVULNCHECK_VERSION := v1.9.0

.PHONY: tools test-deploy lint vuln

# make test also runs the deploy/ checks and the linter, first.
test: test-deploy lint

# promtool for the alert rule checks and the prometheus server for the
# live alert test, from Debian's prometheus package, when .tools/ or PATH
# lacks either. It never fails: where apt cannot get them, the checks that
# need them skip and say why.
tools:
	@{ [ -x "$(TOOLS)/promtool" ] || command -v promtool >/dev/null; } && \
		{ [ -x "$(TOOLS)/prometheus" ] || command -v prometheus >/dev/null; } || \
		sh deploy/fetch-prometheus.sh "$(TOOLS)"

# The tests of deploy/, a Go module of its own (see deploy/doc.go): the
# Kubernetes manifests, compose file, systemd unit, alert rules and their
# unit tests, and the dashboard; and the alerts and dashboard on a real
# Prometheus scraping a live regsync serve. -mod=mod lets it follow
# dependency changes of regsync's module, whose metrics it registers.
test-deploy: tools
	cd deploy && $(GO) test -count=1 -mod=mod ./...

# golangci-lint, pinned, with .golangci.yml; on regsync's module and on
# deploy/. The first run installs it: about a minute where Go's build cache
# is warm, about 3 minutes more where it is not.
lint:
	@"$(TOOLS)/golangci-lint" version 2>/dev/null | grep -q 'version $(GOLANGCI_LINT_VERSION:v%=%) ' || \
		GOBIN="$(TOOLS)" $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	"$(TOOLS)/golangci-lint" run ./...
	cd deploy && "$(TOOLS)/golangci-lint" run --config ../.golangci.yml ./...

# govulncheck, pinned. It needs its vulnerability database online: where
# that cannot be reached it says so and skips instead of failing.
vuln:
	@"$(TOOLS)/govulncheck" -version 2>/dev/null | grep -q 'govulncheck@$(GOVULNCHECK_VERSION)$$' || \
		GOBIN="$(TOOLS)" $(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION)
	@out=$$("$(TOOLS)/govulncheck" ./... 2>&1); rc=$$?; \
	if [ $$rc -ne 0 ] && printf '%s\n' "$$out" | grep -q 'fetching vulnerabilities'; then \
		echo "vuln: SKIPPED: govulncheck cannot reach its vulnerability database from here; run make vuln where it can."; \
		printf '%s\n' "$$out" | tail -n 1; \
		exit 0; \
	fi; \
	printf '%s\n' "$$out"; exit $$rc
