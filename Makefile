# The README's commands. Each group's scripts live in the folder of its name: scripts/
# (entry points), e2e/, checks/, lab/, bench/, Fuzz/.
SHELL := /bin/bash
SWIFT ?= swift
E2E_SUITES := api simulator redis-cluster redlock faults failover processor hostile-clients allocations openapi prometheus tracing
# The debug products every e2e suite runs (e2e/lib.sh stages both).
DEBUG_PRODUCTS := $(SWIFT) build --product payment-api && $(SWIFT) build --product payment-simulator

.PHONY: test lab deps lab-deps build demo tour clean e2e $(addprefix e2e-,$(E2E_SUITES)) checks fuzz fuzz-check \
	lab-container lab-kubernetes lab-k8s-build bench bench-redis-client bench-wait bench-jitter

# The two tiers, each printing its plan with estimates and a table of times. test: the
# debug build, the Swift suites, every e2e suite, the static checks and a short fuzz run;
# no image, no Kubernetes (scripts/test.sh). lab: the image and the chart on real
# containers and Kubernetes, as root (scripts/lab.sh). .ci/run runs both.
test:
	@scripts/test.sh
lab:
	@scripts/lab.sh

# What apt brings for each tier, installed only when missing.
deps:
	@scripts/test.sh --deps
lab-deps:
	@scripts/lab.sh --deps

# Building, the demo (release build, processor double, simulator), the API tour.
build: deps
	$(SWIFT) build
demo: deps
	$(SWIFT) build -c release --product payment-api
	$(SWIFT) build -c release --product payment-simulator
	scripts/demo.sh
tour: deps
	$(SWIFT) build --product payment-api
	scripts/tour.sh
clean:
	rm -rf .build .build-fuzz .build-bench

# The e2e suites (e2e/): real redis-server, nginx, Prometheus, the processor double and
# payment-api on loopback, run as the pods run them. `make e2e`: all, with a table of
# times; `make e2e-NAME`: e2e/NAME.sh alone (e2e-redis-cluster is Redis Cluster).
e2e: deps
	$(DEBUG_PRODUCTS)
	@scripts/test.sh e2e
$(addprefix e2e-,$(E2E_SUITES)): e2e-%: deps
	$(DEBUG_PRODUCTS)
	e2e/$*.sh

# Static checks, no servers (checks/): the Kubernetes packaging, shell and YAML, the
# Dockerfile, the alert rules and dashboard; tools from PyPI into .tools/ on first use.
checks: deps
	@scripts/test.sh checks

# Coverage-guided fuzzing of the parsers (Fuzz/, docs/fuzzing.md): libFuzzer + ASan in
# .build-fuzz. fuzz-check: make test's short run (25 s a target, 2 at a time); fuzz: 300 s
# a target (FUZZ_SECONDS=N to choose, FUZZ_MERGE=1 to keep new inputs in Fuzz/Corpus).
fuzz: deps
	FUZZ_SECONDS=$(or $(FUZZ_SECONDS),300) Fuzz/run.sh
fuzz-check: deps
	@scripts/test.sh fuzz

# One part of the lab (lab/, root): the image built and run under the pods' security; the
# chart on the one-node Kubernetes; that Kubernetes' binaries alone (built from Debian's
# source unless /var/cache/payment-api-lab has them).
lab-container:
	lab/container.sh
lab-kubernetes:
	lab/kubernetes.sh
lab-k8s-build:
	lab/lib/k8s-build.sh

# Benchmarks (bench/, docs/performance.md), release builds: ours beside the Go peer and
# hello-bench under wrk (BENCH_SECONDS, BENCH_WARMUP, BENCH_ROUNDS, BENCH_BIN_PATH); the
# Redis client beside redis-benchmark; what REDIS_WAIT_REPLICAS=1 costs; the simulator's
# jitter strategies in a thundering herd. bench/Package.swift's executables build into
# .build-bench.
bench: deps
	bench/run.sh
bench-redis-client: deps
	bench/redis-client.sh
bench-wait: deps
	bench/wait.sh
bench-jitter: deps
	$(SWIFT) build -c release --product payment-api
	$(SWIFT) build -c release --product payment-simulator
	bench/jitter.sh
