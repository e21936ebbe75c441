# The README's commands. `make test` installs what is missing, builds, and runs every
# test, integration tests included (they start their own redis-server processes).
SHELL := /bin/bash
SWIFT ?= swift

.PHONY: deps build test bench-redis clean

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build

test: deps
	@echo "make test: redis-server $$(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') at $$(command -v redis-server), hiredis $$(pkg-config --modversion hiredis)"
	$(SWIFT) build --build-tests
	@scripts/check-links-hiredis.sh
	$(SWIFT) test --disable-xctest

bench-redis: deps
	scripts/bench-redis-client.sh

clean:
	rm -rf .build
