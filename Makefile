# Apiary's two entry points. Both install what is missing first (see .ci/setup).
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)

.PHONY: run test build

## Build and start Apiary on the embedded default: SQLite in ./data, http://127.0.0.1:3000
run:
	.ci/setup
	.ci/build --release
	@echo "Apiary: http://$(or $(APIARY_LISTEN),127.0.0.1:3000)  (Ctrl-C stops it)"
	$(TARGET_DIR)/release/apiary serve

## Run the whole test suite: fmt, clippy, Rust tests on SQLite and PostgreSQL, browser tests
test:
	.ci/test

## Build the site and a debug server without running anything
build:
	.ci/setup
	.ci/build
