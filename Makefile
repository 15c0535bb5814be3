# Front door for a new user. `make demo` and `make test` install the Debian
# packages they need (scripts/install-deps.sh), build, and run.
BUILD ?= build
JOBS  ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: deps configure build demo console test check test-sanitize bench clean

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

demo: build
	@rm -rf $(BUILD)/demo
	./$(BUILD)/distillguard simulate --scenario demo --seed 7 --out $(BUILD)/demo/data
	./$(BUILD)/distillguard scan $(BUILD)/demo/data/events.jsonl --out $(BUILD)/demo/out
	./$(BUILD)/distillguard eval --labels $(BUILD)/demo/data/labels.jsonl --accounts $(BUILD)/demo/out/accounts.jsonl
	@echo "report: $(BUILD)/demo/out/report.html"

# The analyst console on the demo scenario: http://127.0.0.1:8080/ui/ (docs/CONSOLE.md).
console: build
	@BUILD=$(BUILD) scripts/console-demo.sh

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)
	$(MAKE) test-sanitize

# The inner loop while developing: unit tests, behaviour scenarios, CLI and
# serve tests -- everything but the long quality runs, the browser, the
# timing test and the sanitizer rebuild. `make test` is what CI runs.
check: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -LE "quality|browser|perf"

# The same suite (without the long quality runs and the NATS cluster run) under AddressSanitizer
# and UndefinedBehaviorSanitizer: distillguard reads hostile input.
test-sanitize: deps
	@cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDG_SANITIZE=ON -DDG_BUILD_BENCH=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD)-asan -j$(JOBS)
	cd $(BUILD)-asan && ctest --output-on-failure -j$(JOBS) -LE "quality|browser|perf|cluster"

bench: build
	scripts/bench.sh

clean:
	rm -rf $(BUILD) $(BUILD)-asan
