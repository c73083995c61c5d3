# haip: `make build`, `sudo make test` (everything, as CI runs it), `sudo make demo`, `sudo make bench`.
SHELL := /bin/bash
NODE_TEST := node --test --test-reporter=spec

.PHONY: all deps build unit lab e2e test test-node18 demo bench docs deb clean

all: build

deps:
	@bash scripts/deps.sh

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

build: deps node_modules/.package-lock.json
	npx tsc -p tsconfig.json
	@chmod +x bin/haip

unit: build
	$(NODE_TEST) dist/test/unit/

# One file at a time: timing figures on a 2-core machine mean little when labs race each other.
lab: build
	@bash scripts/deps.sh --lab
	@set -e; for f in dist/test/lab/*.test.js; do echo "== $$f"; $(NODE_TEST) "$$f"; done

# The .deb installed into a booted Debian 12 container (systemd-nspawn) in a lab namespace.
e2e: build
	bash test/e2e/run.sh

test: unit lab e2e

deb:
	bash scripts/deb.sh

# Unit and lab tests again on Debian 12's own nodejs 18, in a private mount namespace.
test-node18: build
	bash scripts/node18.sh

demo: build
	node dist/test/lab/demo.js

docs: build
	node -e "process.stdout.write(require('./dist/tools/configReference').configReference())" > docs/configuration.md

# Failover/failback, flapping, CPU and memory in lab namespaces; about 13 minutes, writes bench/results.json.
bench: build
	node dist/bench/run.js

clean:
	rm -rf dist build
