// The Google Benchmark runner for every suite in bench/.
#include <benchmark/benchmark.h>

BENCHMARK_MAIN();
