# tinyrank — the front door. The real build is CMake; these targets drive it.
#   make            build the library, tests and tutorials into build/
#   make test       build, then run every test (doctest prints the summary line last)
#   make tutorials  build the chapter programs into build/tutorials/
#   make reproduce  the main job (see README)
#   make deps       install the Debian packages listed in DEVELOPERS.md
#   make golden     regenerate tests/golden/ fixtures with PyTorch
#   make book-quotes  refresh the code blocks that book/*.md quotes from the sources
BUILD_DIR ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all build test tutorials reproduce deps check-deps golden book-quotes clean

all: build

# Every build first installs whatever build package is missing (and says which).
check-deps:
	@scripts/install-deps --missing --build-only

$(BUILD_DIR)/CMakeCache.txt: | check-deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release

build: check-deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(CURDIR) && $(BUILD_DIR)/tinyrank_tests

tutorials: build

reproduce: build
	@echo "make reproduce: not yet — the reproduction lands with the robustness issues; see README.md"

# Refresh the code quoted in book/*.md from the named regions of the sources.
book-quotes: build
	$(BUILD_DIR)/book_quotes --write .

deps:
	scripts/install-deps

golden:
	scripts/install-deps --missing --torch
	for script in tests/golden/make_*.py; do /usr/bin/python3 $$script || exit 1; done

clean:
	rm -rf $(BUILD_DIR)
