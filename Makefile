# Front door for a new user. `make demo` and `make test` install the Debian
# packages they need (scripts/install-deps.sh), build, and run.
BUILD ?= build
JOBS  ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: deps configure build demo test test-quality bench clean

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

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

bench: build
	scripts/bench.sh

clean:
	rm -rf $(BUILD)
