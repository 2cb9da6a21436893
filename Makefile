# Everything a fresh Debian machine needs is installed by these targets.
SHELL := /bin/bash
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: dev test build deps deps-test bench clean

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps:
	bash scripts/apt-deps.sh runtime

deps-test:
	bash scripts/apt-deps.sh test

build: node_modules/.installed
	npm run build

## Local all-in-one: nats-server with JetStream in .shardline/, Kinesis API on :4567 (SHARDLINE_PORT).
## make dev F=examples/manifests applies those DataStream manifests first.
F ?=
dev: deps build
	node dist/runtime/cli.js dev $(if $(F),-f $(F))

## Every test, against real nats-server, kube-apiserver + etcd, AWS SDK and CLI.
test: deps-test build
	KUBEBUILDER_ASSETS="$$(bash scripts/kube-binaries.sh)" npm test

## Benchmarks (not tests): make bench BENCH=ingest
BENCH ?= ingest
bench: deps build
	npm run bench -- $(BENCH)

clean:
	rm -rf dist .shardline
