# haip: `make build`, `sudo make test` (every stage, as CI runs it), `sudo make demo`, `sudo make bench`.
SHELL := /bin/bash
NODE_TEST := node --test --test-reporter=spec

.PHONY: all deps build unit lab e2e fresh test test-node18 demo bench bench-loss bench-policy docs deb release clean

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
	@bash scripts/deps.sh --unit
	$(NODE_TEST) dist/test/unit/

# One file at a time: timing figures on a 2-core machine mean little when labs race each other.
# Every file runs, also after a failing one; the target fails at the end.
lab: build
	@bash scripts/deps.sh --lab
	@failed=; for f in dist/test/lab/*.test.js; do echo "== $$f"; $(NODE_TEST) "$$f" || failed="$$failed $${f##*/}"; done; \
	if [ -n "$$failed" ]; then echo "lab: failed in$$failed"; exit 1; fi

# The .deb installed into a booted Debian 12 container (systemd-nspawn) in a lab namespace.
e2e: build
	bash test/e2e/run.sh

# The README's commands in a fresh Debian 12 rootfs (debootstrapped once and cached): make unit, make deb, make demo.
fresh:
	bash test/fresh/run.sh

# Every stage, each to its end; the last line is "N passed, N failed" over all of them.
test: build
	@bash scripts/test.sh unit lab e2e fresh

deb:
	bash scripts/deb.sh

# The next version in package.json and a debian/changelog stanza to fill in (docs/decisions.md, "How a release is made").
release:
	bash scripts/release.sh "$(VERSION)"

# Unit and lab tests again on Debian 12's own nodejs 18, in a private mount namespace.
test-node18: build
	bash scripts/node18.sh

demo: build
	node dist/test/lab/demo.js

docs: build
	node -e "process.stdout.write(require('./dist/tools/configReference').configReference())" > docs/configuration.md

# Failover/failback, flapping, CPU and memory in lab namespaces; about 13 minutes, writes bench/results.json.
bench: build
	@bash scripts/deps.sh --bench
	node dist/bench/run.js
	node dist/bench/policy.js

# Traffic policies alone: throughput with 0, 1 and 100 traffic rules, recovery after a silent loss; writes bench/policy.json.
bench-policy: build
	@bash scripts/deps.sh --bench
	node dist/bench/policy.js

# 30 minutes of 30 % random loss on the primary, default and fast profiles side by side: writes bench/loss.json.
bench-loss: build
	BENCH_ONLY=loss node dist/bench/run.js

clean:
	rm -rf dist build
