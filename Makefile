# The two commands of the README are `make run` and `make test`; both install what they need.
SWIFT ?= swift
FORMAT_PATHS = Package.swift Sources Tests Benchmarks/Package.swift Benchmarks/Sources
DURATION ?= 1800
POWER_CUTS ?= 20

.PHONY: deps build run test lint format chaos chaos-cluster chaos-soak chaos-power release-binary bench bench-postgres bench-cluster bench-supervision bench-admin bench-transfer bench-torrent deb package-test bench-all

deps: ## Install the Debian packages the build needs (only those missing).
	@.ci/install-deps

build: deps ## Debug build of every target.
	$(SWIFT) build

run: build ## Start `ferry serve` on the embedded defaults (state in ./ferry-state).
	.build/debug/ferry serve

test: deps lint ## Build everything (warnings are errors) and run the whole test suite.
	$(SWIFT) build --build-tests
	$(SWIFT) test

lint: ## Check formatting against .swift-format.
	$(SWIFT) format lint --strict --recursive $(FORMAT_PATHS)

format: ## Rewrite sources in the house format.
	$(SWIFT) format format --in-place --recursive $(FORMAT_PATHS)

chaos: build ## The chaos suite's short run (every scenario, 3 power cuts; the disk and power scenarios need root).
	Chaos/chaos.py

chaos-cluster: build ## The cluster scenario alone: three ferry serve nodes on one PostgreSQL under kills, a freeze and a database restart (SEED=N).
	Chaos/chaos.py --scenario cluster $${SEED:+--seed $$SEED}

chaos-soak: build ## The chaos suite with DURATION seconds of fire (default 1800), then the other scenarios (POWER_CUTS power cuts).
	Chaos/chaos.py --duration $(DURATION) --power-cuts $(POWER_CUTS)

release-binary: deps ## The static release binary (.build-release/release/ferry), as `make deb` builds it.
	$(SWIFT) build -c release --static-swift-stdlib -Xlinker -z -Xlinker now --scratch-path $${FERRY_RELEASE_SCRATCH:-.build-release} --product ferry

chaos-power: release-binary ## POWER_CUTS real power cuts (default 20) of a qemu guest running the release binary (root; run before each release).
	FERRY_POWER_BIN=$${FERRY_RELEASE_SCRATCH:-.build-release}/release/ferry Chaos/chaos.py --scenario power --power-cuts $(POWER_CUTS)

bench: deps ## Run the queue benchmark against litequeue and print the figures.
	Benchmarks/run-queue-benchmark

bench-postgres: deps ## Run the queue benchmark on PostgreSQL (a throwaway server at full durability) against pgqueuer and procrastinate.
	Benchmarks/run-postgres-benchmark

bench-cluster: deps ## Run the cluster benchmark: wake-up latency across nodes and node-death take-over time, on a throwaway PostgreSQL.
	SCRATCH_PATH=$${SCRATCH_PATH:-.build-bench} Benchmarks/run-cluster-benchmark

bench-supervision: deps ## Run the supervision benchmark against supervisord (needs a quiet machine).
	Benchmarks/run-supervision-benchmark

bench-admin: deps ## Run the admin API benchmark (wrk on health and metrics while transfers run).
	Benchmarks/run-admin-benchmark

bench-transfer: deps ## Run the transfer benchmark (downloads and uploads against aria2c, rclone and dd).
	Benchmarks/run-transfer-benchmark

bench-torrent: deps ## Run the torrent benchmark (a 1 GiB torrent from a loopback seeder through Ferry beside plain aria2c).
	Benchmarks/run-torrent-benchmark

bench-all: deps ## Run every benchmark beside the tools it compares with and rewrite BENCHMARKS.md's latest run.
	Benchmarks/run-all

deb: deps ## Build ferry_<version>_<arch>.deb here (release build, static Swift standard library).
	Packaging/build-deb

package-test: deps ## Build the package; lintian, systemd-analyze and the end-to-end test under systemd-nspawn.
	Packaging/package-test
