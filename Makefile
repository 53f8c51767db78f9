# spheregrad -- plain Makefile.
#
#   make              build everything (library, build/spheregrad, tests, benchmarks)
#   make run          build and run the main job (build/spheregrad on its embedded default)
#   make test         build and run every test suite
#   make bench        build and run the Google Benchmark suites
#   make bench-report the suites with repetitions, as the Markdown tables of docs/performance.md
#   make bench-compare the Ex 1.7 training step against PyTorch and LibTorch, side by side
#   make pytorch-example a run's checkpoint loaded into PyTorch (docs/pytorch.md)
#   make browser-test the reports in headless Chromium
#   make clean        remove build/
#
# Missing system packages (Eigen, doctest, Google Benchmark, nlohmann-json, CLI11) are installed
# with apt-get when running as root or with password-less sudo; otherwise make stops and
# prints the exact command to run.  Override paths/flags on the command line, e.g.
#   make test ARCH=x86-64-v3 THREADS=1

CXX      ?= g++
ARCH     ?= native
OPT      ?= -O3
BUILD    ?= build
EIGEN_INC ?= /usr/include/eigen3

# Determinism rules (README, "Determinism and build flags"): no -ffast-math, contraction pinned off so that an
# expression rounds the same way in every loop version; Eigen's own threading off -- we
# parallelize over disjoint output rows ourselves.  -fno-math-errno only lets sqrt inline;
# it changes no value.
CXXFLAGS ?= $(OPT) -march=$(ARCH)
CXXFLAGS += -std=c++20 -fopenmp -ffp-contract=off -fno-math-errno -DEIGEN_DONT_PARALLELIZE \
            -Wall -Wextra -I. -isystem $(EIGEN_INC) -MMD -MP
# Eigen packs GEMM operands into buffers on the stack up to this many bytes, on the heap above
# it. 512 KiB covers a 64-row block (autodiff/kernels/product.cpp) with any inner dimension, so
# that a training step allocates nothing; thread stacks are megabytes.
CXXFLAGS += -DEIGEN_STACK_ALLOCATION_LIMIT=524288
# GCC 12 reports false 'may be used uninitialized' warnings inside its own AVX-512 intrinsics
# when Eigen's kernels are inlined into our code; every other warning stays on.
CXXFLAGS += -Wno-maybe-uninitialized
LDFLAGS  += -fopenmp -lmvec

# Sanitizer build: make test SAN=1 (separate build folder).
ifeq ($(SAN),1)
  BUILD    := build/san
  CXXFLAGS += -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer
  # At -O1 the same GCC 12 false positives inside AVX-512 intrinsics come as -Wuninitialized.
  CXXFLAGS += -Wno-uninitialized
  LDFLAGS  += -fsanitize=address,undefined
endif

LIB_DIRS  := autodiff autodiff/kernels nn losses schedule examples/color examples/experiment examples/report examples/thomson examples/cli
LIB_SRCS  := $(filter-out examples/cli/main.cpp, \
               $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.cpp)))
# The built-in experiments (examples/experiments/: JSON files and their dopesheets) are compiled
# in, generated into one source file of raw string literals.
EXPERIMENT_FILES := $(sort $(wildcard examples/experiments/*.json examples/experiments/*.csv))
EXPERIMENTS_SRC  := $(BUILD)/gen/builtin_experiments.cpp
# The reports' page, style and script (examples/report/assets/) and Debian's dygraphs are
# compiled in the same way, so that every report.html is one self-contained file.
REPORT_ASSETS    := $(sort $(wildcard examples/report/assets/*))
REPORT_ASSETS_SRC := $(BUILD)/gen/report_assets.cpp
LIB_OBJS  := $(LIB_SRCS:%.cpp=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/builtin_experiments.o $(BUILD)/obj/gen/report_assets.o
LIB       := $(BUILD)/libspheregrad.a
CLI       := $(BUILD)/spheregrad
TUTORIALS := $(patsubst examples/tutorials/%.cpp,$(BUILD)/tutorial_%,$(wildcard examples/tutorials/*.cpp))
TEST_SRCS := $(wildcard tests/*.cpp)
TEST_OBJS := $(TEST_SRCS:%.cpp=$(BUILD)/obj/%.o)
TEST_BIN  := $(BUILD)/run_tests
BENCH_SRCS := $(wildcard bench/*.cpp)
BENCH_OBJS := $(BENCH_SRCS:%.cpp=$(BUILD)/obj/%.o)
BENCH_BIN := $(BUILD)/run_bench

# ---------------------------------------------------------------- system packages
# header-that-must-exist=debian-package
DYGRAPHS   := /usr/share/javascript/dygraphs
CORE_PKGS  := $(EIGEN_INC)/Eigen/Core=libeigen3-dev /usr/include/nlohmann/json.hpp=nlohmann-json3-dev \
              /usr/include/CLI/CLI.hpp=libcli11-dev $(DYGRAPHS)/dygraph.min.js=libjs-dygraphs
TEST_PKGS  := /usr/include/doctest/doctest.h=doctest-dev /usr/bin/python3=python3
BENCH_PKGS := /usr/include/benchmark/benchmark.h=libbenchmark-dev
FUZZ_PKGS  := /usr/bin/clang++-14=clang-14 \
              /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a=libclang-rt-14-dev \
              /usr/lib/llvm-14/lib/clang/14.0.6/include/omp.h=libomp-14-dev

GOALS := $(or $(MAKECMDGOALS),all)
NEED  := $(CORE_PKGS)
ifneq ($(filter all test,$(GOALS)),)
  NEED += $(TEST_PKGS)
endif
ifneq ($(filter all bench bench-% $(BENCH_BIN),$(GOALS)),)
  NEED += $(BENCH_PKGS)
endif
ifneq ($(filter fuzz,$(GOALS)),)
  NEED += $(FUZZ_PKGS)
endif

.PHONY: all run test bench bench-report bench-compare torch-deps clean deps tutorials fuzz pytorch-example browser-test \
        findings findings-check paper paper-check
# Keep object files that only a tutorial uses (make would delete them as intermediates).
.SECONDARY:

all: $(CLI) $(TEST_BIN) $(BENCH_BIN) $(TUTORIALS)

# Installs the Debian packages named in the shell variable $$missing (if any) with apt-get, as
# root or through password-less sudo; otherwise prints the exact command to run and fails.
# One logical line: make joins the continuation lines before the shell sees them.
INSTALL_MISSING = if [ -n "$$missing" ]; then \
  echo "spheregrad: missing packages:$$missing"; \
  if [ "$$(id -u)" = 0 ]; then SUDO=""; \
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo"; \
  else echo "spheregrad: cannot install them (not root, no password-less sudo). Run:" >&2; \
       echo "  sudo apt-get update && sudo apt-get install -y$$missing" >&2; exit 1; fi; \
  echo "spheregrad: installing with apt-get:$$missing"; \
  { $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null && \
    $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing >/dev/null; } || \
  { echo "spheregrad: apt-get failed. Run:" >&2; \
    echo "  sudo apt-get update && sudo apt-get install -y$$missing" >&2; exit 1; }; \
  fi

# Checked on every invocation (a test -e per header), so a machine that lost a package is
# noticed instead of failing deep inside the compiler.
deps:
	@missing=""; \
	for pair in $(NEED); do \
	  [ -e "$${pair%%=*}" ] || missing="$$missing $${pair#*=}"; \
	done; \
	$(INSTALL_MISSING)

$(BUILD)/obj/%.o: %.cpp | deps
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(EXPERIMENTS_SRC): $(EXPERIMENT_FILES) Makefile
	@mkdir -p $(dir $@)
	@{ echo '// Generated by the Makefile from examples/experiments/ -- do not edit.'; \
	  echo '#include <vector>'; \
	  echo 'namespace sg::train {'; \
	  echo 'struct EmbeddedFile { const char* name; const char* text; };'; \
	  echo 'const std::vector<EmbeddedFile>& embedded_experiment_files() {'; \
	  echo '  static const std::vector<EmbeddedFile> files = {'; \
	  for f in $(EXPERIMENT_FILES); do \
	    printf '{"%s", R"spheregrad_file(' "$$(basename $$f)"; cat $$f; echo ')spheregrad_file"},'; \
	  done; \
	  echo '  };'; echo '  return files;'; echo '}'; echo '}'; } > $@

$(REPORT_ASSETS_SRC): $(REPORT_ASSETS) Makefile | deps
	@mkdir -p $(dir $@)
	@{ echo '// Generated by the Makefile from examples/report/assets/ and libjs-dygraphs -- do not edit.'; \
	  echo 'namespace sg::figures {'; \
	  for f in $(REPORT_ASSETS) $(DYGRAPHS)/dygraph.min.js $(DYGRAPHS)/dygraph.min.css; do \
	    name=$$(basename $$f | tr '.-' '__'); \
	    printf 'extern const char* const asset_%s;\nconst char* const asset_%s = R"spheregrad_file(' $$name $$name; \
	    cat $$f; echo ')spheregrad_file";'; \
	  done; echo '}'; } > $@

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.cpp | deps
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(CLI): $(BUILD)/obj/examples/cli/main.o $(LIB)
	$(CXX) $^ -o $@ $(LDFLAGS)

$(BUILD)/tutorial_%: $(BUILD)/obj/examples/tutorials/%.o $(LIB)
	$(CXX) $^ -o $@ $(LDFLAGS)

$(TEST_BIN): $(TEST_OBJS) $(LIB)
	$(CXX) $^ -o $@ $(LDFLAGS)

$(BENCH_BIN): $(BENCH_OBJS) $(LIB)
	$(CXX) $^ -o $@ $(LDFLAGS) -lbenchmark -lpthread

tutorials: $(TUTORIALS)

run: $(CLI)
	./$(CLI) train --overwrite

# The suite runs at 2 threads; the determinism tests switch thread counts themselves. Then the
# tutorials (XOR learned; softplus's gradient check), a short kill campaign (12 SIGKILLs at random moments; by hand: 100) and the
# adversarial probes of tests/probes.sh (its table in $(BUILD)/probes.txt).
test: $(TEST_BIN) $(CLI) $(TUTORIALS)
	OMP_NUM_THREADS=2 SPHEREGRAD_CLI=./$(CLI) ./$(TEST_BIN)
	./$(BUILD)/tutorial_xor > /dev/null && echo "tutorial_xor: learned XOR (4 of 4 correct)"
	./$(BUILD)/tutorial_softplus
	bash tests/line_budget.sh
	SPHEREGRAD_CLI=./$(CLI) bash tests/kill_campaign.sh 12 800
	SPHEREGRAD_CLI=./$(CLI) bash tests/probes.sh > $(BUILD)/probes.txt || { cat $(BUILD)/probes.txt; exit 1; }
	tail -1 $(BUILD)/probes.txt
	$(MAKE) --no-print-directory findings-check
	$(MAKE) --no-print-directory paper-check

# The measured parts of docs/findings.md, regenerated from runs (examples/findings/findings.py;
# the sweeps go to out/findings/). findings-check runs the same studies on 4 seeds each and
# writes build/findings-check.md, so that make test keeps the generator working.
findings: $(CLI)
	/usr/bin/python3 examples/findings/findings.py --cli ./$(CLI)

findings-check: $(CLI)
	/usr/bin/python3 examples/findings/findings.py --cli ./$(CLI) --seeds 0-3 --midway-seeds 0-3 \
	  --ablation-seeds 0 --ablation-test-seeds 0-3 --spike-seeds 0-3 --conflict-seeds 0-1 --m2-seeds 0-3 \
	  --ex12-detail-seeds 0-3 --cube-seeds 0-3 \
	  --out $(BUILD)/findings-check --write $(BUILD)/findings-check.md

# The paper's tables and figures, regenerated from runs (examples/paper/paper.py, into docs/paper.md
# and docs/paper/; the sweeps go to out/paper/). paper-check runs it on 4 seeds into build/.
paper: $(CLI)
	/usr/bin/python3 examples/paper/paper.py --cli ./$(CLI)

paper-check: $(CLI)
	/usr/bin/python3 examples/paper/paper.py --cli ./$(CLI) --seeds 0-3 --tail-seeds 4-7 --out $(BUILD)/paper-check \
	  --write $(BUILD)/paper-check.md

# Extra arguments for Google Benchmark, e.g. make bench BENCH_ARGS=--benchmark_filter=Repulsion
bench: $(BENCH_BIN)
	./$(BENCH_BIN) $(BENCH_ARGS)

# ---------------------------------------------------------------- reports and the PyTorch peers
# Both print Markdown (docs/performance.md) and leave it in $(BUILD)/bench-*.md. Python: the
# system's /usr/bin/python3, standard library only, plus torch for the peers.
BENCH_REPS ?= 3
bench-report: $(BENCH_BIN)
	/usr/bin/python3 bench/report.py --bench $(BENCH_BIN) --repetitions $(BENCH_REPS)

# The peers need Debian's python3-torch (for /usr/bin/python3) and libtorch-dev (its C++ API), and
# run at their best with OpenBLAS (libopenblas0-openmp) and tcmalloc (libtcmalloc-minimal4).
# Checked only here, never by make test; installed like the packages of `deps`.
TORCH_INC := /usr/include/torch/csrc/api/include
PEER_LIBTORCH := $(BUILD)/peer_libtorch
torch-deps:
	@missing=""; \
	/usr/bin/python3 -c "import torch" 2>/dev/null || missing="$$missing python3-torch"; \
	[ -e $(TORCH_INC)/torch/torch.h ] || missing="$$missing libtorch-dev"; \
	[ -e /usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3 ] || missing="$$missing libopenblas0-openmp"; \
	[ -e /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 ] || missing="$$missing libtcmalloc-minimal4"; \
	$(INSTALL_MISSING)

# The LibTorch peer is plain C++17 against Debian's headers; none of our flags apply to it.
$(PEER_LIBTORCH): bench/peer/ex17_libtorch.cpp | torch-deps
	@mkdir -p $(dir $@)
	$(CXX) -O2 -std=c++17 -isystem $(TORCH_INC) $< -o $@ -ltorch -ltorch_cpu -lc10

# Extra arguments for bench/peer/compare.py, e.g. COMPARE_ARGS="--rounds 5 --batches 64,4096"
bench-compare: $(BENCH_BIN) $(CLI) $(PEER_LIBTORCH) | torch-deps
	/usr/bin/python3 bench/peer/compare.py --bench $(BENCH_BIN) --cli $(CLI) --libtorch $(PEER_LIBTORCH) $(COMPARE_ARGS)

# docs/pytorch.md's example: a run's checkpoint loaded into PyTorch with strict=True, its latents
# reproduced. Optional (never part of make test); installs Debian's python3-torch when missing.
pytorch-example: $(CLI)
	@missing=""; /usr/bin/python3 -c "import torch, numpy" 2>/dev/null || missing=" python3-torch python3-numpy"; \
	$(INSTALL_MISSING)
	./$(CLI) train --overwrite --quiet --out $(BUILD)/pytorch-example
	/usr/bin/python3 examples/python/load_in_pytorch.py $(BUILD)/pytorch-example

# The reports in headless Chromium (tests/browser_test.sh; screenshots in build/browser/). CI runs
# it; installs Debian's chromium when missing.
browser-test: $(CLI)
	@missing=""; command -v chromium >/dev/null 2>&1 || missing=" chromium"; $(INSTALL_MISSING)
	SPHEREGRAD_CLI=./$(CLI) BROWSER_OUT=$(BUILD)/browser bash tests/browser_test.sh

# libFuzzer (clang) on the three parsers of untrusted files and on resuming a run from a
# checkpoint (the whole library, built with clang), FUZZ_SECONDS each. The seed corpora
# live in tests/fuzz/corpus/; new inputs collect in build/fuzz/, crashes as build/fuzz/crash-*.
# A crash found is fixed and its input added to the seed corpus as a regression case.
FUZZ_SECONDS ?= 30
FUZZ_FLAGS := -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I.
FUZZ_EXPERIMENT_SRCS := tests/fuzz/fuzz_experiment.cpp examples/experiment/experiment.cpp examples/experiment/load.cpp \
                        examples/experiment/json_reader.cpp examples/color/color.cpp \
                        nn/models.cpp schedule/*.cpp $(EXPERIMENTS_SRC)
FUZZ_LIB_FLAGS := -march=$(ARCH) -fopenmp -ffp-contract=off -DEIGEN_DONT_PARALLELIZE -DEIGEN_STACK_ALLOCATION_LIMIT=524288 \
                  -isystem $(EIGEN_INC)
# The checkpoint harness links the library (all but the command line), built with clang into
# build/fuzz/obj/ (make -j2 fuzz builds it on two cores).
FUZZ_RUN_SRCS := tests/fuzz/fuzz_checkpoint.cpp $(filter-out examples/cli/%,$(LIB_SRCS))
FUZZ_RUN_OBJS := $(FUZZ_RUN_SRCS:%.cpp=build/fuzz/obj/%.o) build/fuzz/obj/gen/builtin_experiments.o \
                 build/fuzz/obj/gen/report_assets.o
build/fuzz/obj/%.o: %.cpp | deps
	@mkdir -p $(dir $@)
	clang++-14 $(FUZZ_FLAGS) $(FUZZ_LIB_FLAGS) -MMD -MP -c $< -o $@
build/fuzz/obj/gen/%.o: $(BUILD)/gen/%.cpp | deps
	@mkdir -p $(dir $@)
	clang++-14 $(FUZZ_FLAGS) $(FUZZ_LIB_FLAGS) -c $< -o $@
build/fuzz/checkpoint: $(FUZZ_RUN_OBJS)
	clang++-14 $(FUZZ_FLAGS) -fopenmp $^ -o $@ -lmvec

fuzz: deps $(EXPERIMENTS_SRC) $(REPORT_ASSETS_SRC) build/fuzz/checkpoint
	@mkdir -p build/fuzz/work-dopesheet build/fuzz/work-safetensors build/fuzz/work-experiment build/fuzz/work-checkpoint
	clang++-14 $(FUZZ_FLAGS) tests/fuzz/fuzz_dopesheet.cpp schedule/*.cpp -o build/fuzz/dopesheet
	clang++-14 $(FUZZ_FLAGS) tests/fuzz/fuzz_safetensors.cpp nn/safetensors.cpp -o build/fuzz/safetensors
	cd build/fuzz && { ./dopesheet -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 \
	  work-dopesheet ../../tests/fuzz/corpus/dopesheet > dopesheet.log 2>&1; rc=$$?; \
	  grep -E "Done|stat::number_of_executed_units|ERROR" dopesheet.log; exit $$rc; }
	cd build/fuzz && { ./safetensors -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -print_final_stats=1 \
	  work-safetensors ../../tests/fuzz/corpus/safetensors > safetensors.log 2>&1; rc=$$?; \
	  grep -E "Done|stat::number_of_executed_units|ERROR" safetensors.log; exit $$rc; }
	clang++-14 $(FUZZ_FLAGS) -isystem $(EIGEN_INC) $(FUZZ_EXPERIMENT_SRCS) -o build/fuzz/experiment
	cd build/fuzz && { ./experiment -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -print_final_stats=1 \
	  work-experiment ../../tests/fuzz/corpus/experiment > experiment.log 2>&1; rc=$$?; \
	  grep -E "Done|stat::number_of_executed_units|ERROR" experiment.log; exit $$rc; }
	cd build/fuzz && { ./checkpoint -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -print_final_stats=1 \
	  work-checkpoint ../../tests/fuzz/corpus/checkpoint > checkpoint.log 2>&1; rc=$$?; \
	  grep -E "Done|stat::number_of_executed_units|ERROR" checkpoint.log; exit $$rc; }

clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d) $(TEST_OBJS:.o=.d) $(BENCH_OBJS:.o=.d) $(BUILD)/obj/examples/cli/main.d \
         $(patsubst $(BUILD)/tutorial_%,$(BUILD)/obj/examples/tutorials/%.d,$(TUTORIALS)) $(FUZZ_RUN_OBJS:.o=.d)
