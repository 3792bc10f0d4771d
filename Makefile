# regsync: `make run` runs the demo, `make test` runs every test. Neither
# needs anything running: with DATABASE_URL unset both start a throwaway
# PostgreSQL from the local binaries (PGBIN, default
# /usr/lib/postgresql/15/bin) and stop it when they finish.

GO ?= go
ARGS ?=

.PHONY: run test bench build fuzz chaos

run:
	$(GO) run ./cmd/regsync demo $(ARGS)

# Every test, a small run of the reliability harness, and each fuzz target
# for a moment.
test:
	$(GO) test -race -count=1 ./...
	$(GO) run ./cmd/regsync-chaos --domains 2000 --transfers 100 --processes 2 --kills 3
	$(MAKE) --no-print-directory fuzz FUZZTIME=2s

# The reliability harness at full size: 10,000 domains, 300 transfers, three
# worker processes, four SIGKILLs and a PostgreSQL crash-restart.
chaos:
	$(GO) run ./cmd/regsync-chaos $(ARGS)

# Throughput of status_sync jobs against River's no-op jobs, first on a
# throwaway server without fsync, then with fsync and synchronous commit on.
# The last line of output is the durable run's ratio.
bench:
	$(GO) run ./cmd/regsync-bench $(ARGS)
	$(GO) run ./cmd/regsync-bench --durable $(ARGS)

build:
	$(GO) build -o bin/regsync ./cmd/regsync

# Each fuzz target for FUZZTIME (default 10s).
FUZZTIME ?= 10s
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$target"; \
			$(GO) test -run='^$$' -fuzz="^$$target$$" -fuzztime=$(FUZZTIME) $$pkg; \
		done; \
	done
