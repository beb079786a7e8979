# Thin wrapper: every target first makes sure the Debian packages and a
# configured CMake tree exist. The real build is CMakeLists.txt.
#   make demo    the main job on the embedded default
#   make test    every test (unit, integration, acceptance), then again under ASan+UBSan
#   make bench   the benchmark table (Release build)
#   make fuzz    every libFuzzer target (clang, ASan+UBSan) for FUZZ_SECONDS each
#   make lint    clang-format, cppcheck and clang-tidy on stream/ and model/
#   make clean   remove the build trees

RELEASE := build/release
ASAN    := build/asan
FUZZ    := build/fuzz
FUZZ_SECONDS ?= 60
JOBS    ?= $(shell nproc)
CTEST   := ctest --output-on-failure --timeout 900 -j$(JOBS)
SAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
           UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
           LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0

.PHONY: all deps build build-asan demo test test-release test-asan bench fuzz lint memcheck clean

all: build

deps:
	@scripts/install-deps

$(RELEASE)/CMakeCache.txt: | deps
	cmake -S . -B $(RELEASE) -DCMAKE_BUILD_TYPE=Release >/dev/null

$(ASAN)/CMakeCache.txt: | deps
	cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Asan >/dev/null

$(FUZZ)/CMakeCache.txt: | deps
	CC=clang cmake -S . -B $(FUZZ) -DCMAKE_BUILD_TYPE=Fuzz >/dev/null

build: deps $(RELEASE)/CMakeCache.txt
	cmake --build $(RELEASE) -j$(JOBS)

build-asan: deps $(ASAN)/CMakeCache.txt
	cmake --build $(ASAN) -j$(JOBS)

demo: build
	$(RELEASE)/jackpot config check
	$(RELEASE)/jackpot dev --weeks 16 --max

test-release: build
	cd $(RELEASE) && $(CTEST)

test-asan: build-asan
	cd $(ASAN) && $(SAN_ENV) $(CTEST)

test: test-release test-asan

bench: build
	scripts/bench $(RELEASE)

fuzz: deps $(FUZZ)/CMakeCache.txt
	cmake --build $(FUZZ) -j$(JOBS) --target jp_fuzz
	scripts/fuzz $(FUZZ) $(FUZZ_SECONDS)

memcheck: build
	cd $(RELEASE) && ctest --output-on-failure -L unit -E 'test_cli|test_config' \
	  --overwrite MemoryCheckCommandOptions="--leak-check=full --error-exitcode=1" \
	  -T memcheck

lint: build
	scripts/lint $(RELEASE)

clean:
	rm -rf build
