# The README's commands. `make test` installs what is missing, builds, and runs every
# test, integration tests included (they start their own redis-server processes).
SHELL := /bin/bash
SWIFT ?= swift
# Suites that assert wall-clock bounds (a deadline within 100 ms, a lease kept alive, a
# bucket that must not refill between requests):
# they run after the rest, alone, so two busy cores of parallel tests cannot blur what
# they measure.
TIMING_SUITES := RedisPausedServerTests|RedisRestartedServerTests|WatchdogTests|RateLimitTests|RateLimitedHTTPTests
# The lab cluster's Kubernetes build (scripts/lab/k8s-build.sh) when the cache lacks it:
# about 10 minutes of Go, started after the timing suites so that it overlaps the e2e
# scripts (mostly waiting on sockets and sleeps) instead of adding to the run.
K8S_BUILD_LOG ?= /tmp/payment-api-k8s-build.log

.PHONY: deps build demo tour test e2e faults failover-e2e processor-e2e jitter bench bench-redis bench-wait clean prometheus-e2e container-e2e cluster-e2e fuzz fuzz-check

deps:
	@scripts/install-deps.sh curl:curl jq:jq bc:bc python3:python3 nginx:nginx openssl:openssl pgrep:procps setpriv:util-linux

build: deps
	$(SWIFT) build

test: deps
	@echo "make test: redis-server $$(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') at $$(command -v redis-server), hiredis $$(pkg-config --modversion hiredis)"
	$(SWIFT) build --build-tests
	@scripts/check-links-hiredis.sh
	$(SWIFT) test --disable-xctest --skip '$(TIMING_SUITES)'
	@echo "make test: timing-sensitive suites alone, on a quiet machine"
	$(SWIFT) test --disable-xctest --filter '$(TIMING_SUITES)'
	@scripts/lab/k8s-build.sh --deps
	@echo "make test: Kubernetes for scripts/lab-cluster.sh builds in the background (nice 19, unless cached) while the e2e scripts run; log $(K8S_BUILD_LOG)"
	@nice -n 19 scripts/lab/k8s-build.sh >$(K8S_BUILD_LOG) 2>&1 </dev/null &
	@scripts/api-e2e.sh
	@scripts/sim-e2e.sh
	@scripts/cluster-e2e.sh
	@scripts/redlock-e2e.sh
	@scripts/faults-e2e.sh
	@scripts/failover-e2e.sh
	@scripts/processor-e2e.sh
	@scripts/hostile-e2e.sh
	@FUZZ_SECONDS=25 scripts/fuzz.sh
	@scripts/openapi-check.sh
	@scripts/prometheus-e2e.sh
	@scripts/k8s-check.sh
	@scripts/container-e2e.sh
	@scripts/lab-cluster.sh

demo: deps
	$(SWIFT) build -c release --product payment-api
	$(SWIFT) build -c release --product payment-simulator
	scripts/demo.sh

tour: deps
	$(SWIFT) build --product payment-api
	scripts/tour.sh

# Scale-out: Redis Cluster (3+3), 3 replicas behind nginx, rolling restart, master
# failover, global bucket; then Redlock over 3 lock nodes with nodes killed.
e2e: deps
	$(SWIFT) build --product payment-api
	$(SWIFT) build --product payment-simulator
	scripts/cluster-e2e.sh
	scripts/redlock-e2e.sh

# Fault injection: Redis down, killed, hung; payment-api SIGKILLed; work slower than its
# lease; a failover with the replication link cut (REDIS_WAIT_REPLICAS on and off); the
# HTTP processor with faults, lease takeovers and declines, verified three ways.
faults: deps
	$(SWIFT) build --product payment-api
	$(SWIFT) build --product payment-simulator
	scripts/faults-e2e.sh
	scripts/failover-e2e.sh
	scripts/processor-e2e.sh

failover-e2e: deps
	$(SWIFT) build --product payment-api
	$(SWIFT) build --product payment-simulator
	scripts/failover-e2e.sh

processor-e2e: deps
	$(SWIFT) build --product payment-api
	$(SWIFT) build --product payment-simulator
	scripts/processor-e2e.sh

jitter: deps
	$(SWIFT) build -c release --product payment-api
	$(SWIFT) build -c release --product payment-simulator
	scripts/jitter-compare.sh

# The benchmark harness (docs/performance.md): release builds, then ours beside the Go
# peer (../shared/peers/go) and hello-bench under wrk (/healthz, new payments, replays at
# 1/64/512 connections, alternating rounds) and the simulator's open loop. BENCH_SECONDS,
# BENCH_WARMUP, BENCH_ROUNDS, BENCH_BIN_PATH (skip the builds).
bench: deps
	scripts/bench.sh

bench-redis: deps
	scripts/bench-redis-client.sh

# What REDIS_WAIT_REPLICAS=1 costs a new payment (a master and a replica on loopback).
bench-wait: deps
	scripts/bench-wait.sh

clean:
	rm -rf .build

# Static checks of the Kubernetes packaging (helm/, k8s/, scripts/);
# installs its tools into .tools/ on first use. Needs no cluster and no Docker.
.PHONY: k8s-check
k8s-check:
	@scripts/k8s-check.sh

# A real Prometheus (Debian's) scraping two payment-api run as the pod user: every
# documented metric, every dashboard query with data, the chart's alerts pending.
prometheus-e2e: deps
	$(SWIFT) build --product payment-api
	$(SWIFT) build --product payment-simulator
	scripts/prometheus-e2e.sh

# The image built from the Dockerfile on local base images (Docker engine in a network
# namespace of its own) and run as the chart runs it; the base images and the engine's
# data are cached under /var/cache/payment-api-lab, outside the clone.
container-e2e:
	scripts/container-e2e.sh

# The chart on a real one-node Kubernetes 1.20 (built from Debian's source, cached under
# /var/cache/payment-api-lab/k8s): helm install, probes, the simulator Job, helm test,
# Prometheus, an upgrade under load, rollback, overlays (docs/kubernetes.md). Not to be
# confused with scripts/cluster-e2e.sh, the Redis Cluster e2e of `make e2e`.
cluster-e2e:
	scripts/lab-cluster.sh

# Coverage-guided fuzzing of the parsers (docs/fuzzing.md): libFuzzer + ASan, built in
# .build-fuzz. `make fuzz` runs each target 300 s (FUZZ_SECONDS=N to choose, FUZZ_MERGE=1
# to keep new inputs in Fuzz/Corpus); fuzz-check is the short fixed budget of make test.
fuzz:
	FUZZ_SECONDS=$(or $(FUZZ_SECONDS),300) scripts/fuzz.sh

fuzz-check:
	FUZZ_SECONDS=25 scripts/fuzz.sh
