# Everything a fresh Debian machine needs is installed by these targets.
SHELL := /bin/bash
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: dev test build deps deps-test bench clean manifests

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

## Single-file install manifests for this version (kubectl >= 1.27 for its kustomize v5):
## dist/shardline-<version>.yaml (config/default) and dist/shardline-<version>-quickstart.yaml (with MinIO).
VERSION := $(shell node -p "require('./package.json').version")
manifests:
	mkdir -p dist
	kubectl kustomize config/default > dist/shardline-$(VERSION).yaml
	kubectl kustomize config/quickstart > dist/shardline-$(VERSION)-quickstart.yaml

clean:
	rm -rf dist .shardline
