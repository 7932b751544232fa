# tinyrank — the front door. The real build is CMake; these targets drive it.
#   make            build the library, tests and tutorials into build/
#   make test       build, then run every test (doctest prints the summary line last)
#   make tutorials  build the chapter programs into build/tutorials/
#   make reproduce  the main job: the paper's claims tested on MNIST, into results/ (README)
#   make deps       install the Debian packages listed in DEVELOPERS.md
#   make golden     regenerate tests/golden/ fixtures with PyTorch
#   make book-quotes  refresh the code blocks that book/*.md quotes from the sources
#   make book       refresh the quotes, then render the book to HTML in build/book/ (pandoc)
#   make figures    run every tutorial in full and redraw book/figures/ (gnuplot);
#                   CHAPTERS="05 07" for some chapters only
#   make bench      time training, inference and attacks on MNIST against the sgemm ceiling
#   make bench-compare  the same workloads in tinyrank and PyTorch, as one table
#                   (BENCH_ARGS="--quick", "--only lenet5 --reps 5", … for both)
BUILD_DIR ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BOOK_DIR ?= $(BUILD_DIR)/book
FIGURES_DATA ?= $(BUILD_DIR)/figures-data
FIGURES_DIR ?= book/figures
CHAPTERS ?=

.PHONY: all build test tutorials reproduce deps check-deps golden book-quotes book has-pandoc figures bench bench-compare clean

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

# The main job: the standard preset of `tinyrank reproduce` into results/ (about 15 minutes on
# 2 cores; an interrupted run continues where it stopped). PRESET=quick|full for the others.
PRESET ?= standard
reproduce: build
	$(BUILD_DIR)/tinyrank reproduce --preset $(PRESET) --out results

# Refresh the code quoted in book/*.md from the named regions of the sources.
book-quotes: build
	$(BUILD_DIR)/book_quotes --write .

# The book as HTML: index.html, one page per chapter and book.html with everything, the math
# as MathML (scripts/render-book). Only the book_quotes tool is built for it.
book: has-pandoc check-deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) --target book_quotes -j $(JOBS)
	$(BUILD_DIR)/book_quotes --write .
	scripts/render-book --out $(BOOK_DIR) --cache $(BUILD_DIR)/book-cache

has-pandoc:
	@command -v pandoc > /dev/null || { echo "make book: pandoc is not installed; run scripts/install-deps --missing (Debian package pandoc)" >&2; exit 1; }

# Every tutorial in full with one BLAS thread, its CSV files in $(FIGURES_DATA)/chNN, then every
# book/figures/NN-*.gp drawn from them into $(FIGURES_DIR) (scripts/make-figures).
figures: build
	scripts/make-figures --bin $(BUILD_DIR)/tutorials --data $(FIGURES_DATA) --out $(FIGURES_DIR) $(CHAPTERS)

# Benchmarks (DEVELOPERS.md, "Benchmarks"): every workload with 1 thread and all cores, results
# also as JSON in $(BENCH_DIR). BENCH_ARGS passes options to both programs.
BENCH_ARGS ?=
BENCH_DIR ?= $(BUILD_DIR)/bench
bench: build
	@mkdir -p $(BENCH_DIR)
	$(BUILD_DIR)/tinyrank_bench --json $(BENCH_DIR)/tinyrank.json $(BENCH_ARGS)

# tinyrank_bench, then tests/bench/pytorch_reference.py (PyTorch on the OpenMP OpenBLAS), then one table.
bench-compare: build
	@scripts/install-deps --missing --build-only --torch
	/usr/bin/python3 tests/bench/compare.py --bench $(BUILD_DIR)/tinyrank_bench --out $(BENCH_DIR) $(BENCH_ARGS)

deps:
	scripts/install-deps

golden:
	scripts/install-deps --missing --torch
	for script in tests/golden/make_*.py; do /usr/bin/python3 $$script || exit 1; done

clean:
	rm -rf $(BUILD_DIR)
