# Coffer's commands. `make run` and `make test` set up everything they need
# on a fresh machine with the Rust toolchain, and skip what is installed.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# trunk needs a wasm-bindgen CLI of exactly the version in Cargo.lock.
WASM_BINDGEN_VERSION := $(shell awk '/^name = "wasm-bindgen"$$/ {getline; gsub(/[^0-9.]/, ""); print}' Cargo.lock)
CARGO_BIN := $(HOME)/.cargo/bin
export PATH := $(CARGO_BIN):$(PATH)
export TRUNK_SKIP_VERSION_CHECK := true
# Playwright drives Debian's chromium; it never downloads a browser.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

SITE_RELEASE := target/site
SITE_TEST := target/site-test

.PHONY: help run build test test-rust test-infra test-e2e bench lambda tools \
	wasm-target trunk wasm-bindgen chromium moto npm site site-test fmt lint clean

help:
	@echo "make run    start the embedded portal on http://127.0.0.1:3000"
	@echo "make test   run every test (Rust, S3 protocol against moto, Playwright)"
	@echo "make build  build target/release/coffer-server and the site it serves"
	@echo "make bench  run the benchmarks and print their figures"
	@echo "make lambda build $(LAMBDA_ZIP), the server as a Lambda package"

## Tools, each installed only when missing.

tools: wasm-target trunk wasm-bindgen

wasm-target:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown \
		|| rustup target add wasm32-unknown-unknown

trunk:
	@command -v trunk >/dev/null \
		|| cargo install trunk --version '~0.21' --locked

wasm-bindgen:
	@[ "$$(wasm-bindgen --version 2>/dev/null)" = "wasm-bindgen $(WASM_BINDGEN_VERSION)" ] \
		|| cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) --force

chromium:
	@command -v chromium >/dev/null \
		|| { apt-get update && apt-get install -y chromium; }

# moto 5.1.22 is the last release whose ListParts and
# CompleteMultipartUpload answers aws-sdk-s3 can parse.
MOTO_VERSION := 5.1.22

moto:
	@python3 -c 'import moto, sys; sys.exit(moto.__version__ != "$(MOTO_VERSION)")' 2>/dev/null \
		&& command -v moto_server >/dev/null \
		|| pip install 'moto[server]==$(MOTO_VERSION)'

npm: end2end/node_modules/.package-lock.json

end2end/node_modules/.package-lock.json: end2end/package.json end2end/package-lock.json
	cd end2end && npm ci --no-audit --no-fund
	@touch $@

## Builds.

site: tools
	cd frontend && trunk build --release --offline --dist ../$(SITE_RELEASE)

# Tests hydrate a debug bundle: it builds in half the time.
site-test: tools
	cd frontend && trunk build --offline --dist ../$(SITE_TEST)

build: site
	cargo build --release -p coffer-server

run: build
	./target/release/coffer-server

## Tests.

test: test-rust test-infra test-e2e

test-rust: moto npm
	cargo test --workspace --exclude coffer-frontend

# The Terraform under infra/: checkov offline with Coffer's own checks, and
# the tests of its security properties. Installs its pinned Python tools.
test-infra:
	bash infra/check.sh

test-e2e: site-test chromium npm
	cargo build -p coffer-server
	cd end2end && npx playwright test

## Benchmarks and packaging.

# The page half of the upload benchmark drives Chromium through the
# release site.
bench: site chromium npm
	cargo bench -p coffer-server --bench s3_throughput --bench models_page \
		--bench upload_page --bench lambda_cold_start --bench audit_page
	cargo bench -p coffer-logs --bench parse

# The server as a Lambda function: `bootstrap` (the release binary, which
# serves the Lambda runtime API when it finds it) and the site beside it,
# for the build machine's architecture. Lambda's provided.al2023 has glibc
# 2.34, so a binary that needs a newer symbol is refused here, not there.
LAMBDA_ZIP := target/lambda/coffer-server.zip
LAMBDA_GLIBC := 2.34

lambda: site
	cargo build --release -p coffer-server
	@needed="$$(objdump -T target/release/coffer-server | grep -o 'GLIBC_[0-9.]*' \
		| sed 's/GLIBC_//' | sort -uV | tail -1)"; \
	if [ "$$(printf '%s\n' "$$needed" $(LAMBDA_GLIBC) | sort -V | tail -1)" != "$(LAMBDA_GLIBC)" ]; then \
		echo "coffer-server needs glibc $$needed; Lambda has $(LAMBDA_GLIBC)"; exit 1; \
	fi; \
	echo "coffer-server needs glibc $$needed or later; Lambda has $(LAMBDA_GLIBC)"
	rm -rf target/lambda/package $(LAMBDA_ZIP)
	mkdir -p target/lambda/package
	cp target/release/coffer-server target/lambda/package/bootstrap
	strip target/lambda/package/bootstrap
	cp -r $(SITE_RELEASE) target/lambda/package/site
	cd target/lambda/package && python3 -m zipfile -c ../coffer-server.zip bootstrap site
	@echo "$(LAMBDA_ZIP): $$(du -k $(LAMBDA_ZIP) | cut -f1) KiB"

fmt:
	cargo fmt --all

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

clean:
	cargo clean
	rm -rf end2end/node_modules end2end/test-results end2end/playwright-report
