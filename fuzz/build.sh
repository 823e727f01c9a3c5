#!/bin/sh
# Builds the libFuzzer targets into fuzz/bin (see README.md). Only the
# sources a target needs are compiled, without OpenMP, so clang needs no
# libomp and the sanitizers see every line of the parsers.
set -eu
cd "$(dirname "$0")/.."
CC=${CC:-clang}
FLAGS="-g -O1 -std=c11 -D_DEFAULT_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Iinclude -Isrc/core -Isrc/io -Isrc/nn/layers"
CORE="src/core/error.c src/core/tensor.c src/core/arena.c src/core/rng.c src/io/fileio.c"
mkdir -p fuzz/bin
if [ -d src/data ] && ls src/data/*.c >/dev/null 2>&1; then
  $CC $FLAGS -o fuzz/bin/fuzz_csv fuzz/fuzz_csv.c src/data/*.c $CORE -lcjson -lz -lm
  $CC $FLAGS -o fuzz/bin/fuzz_idx fuzz/fuzz_idx.c src/data/*.c $CORE -lcjson -lz -lm
  $CC $FLAGS -o fuzz/bin/fuzz_text fuzz/fuzz_text.c src/data/*.c $CORE -lcjson -lz -lm
fi
# `cgrad plot`'s log reader and the learning curves it draws (CLI side,
# with cairo when there is one).
if pkg-config --exists cairo; then
  $CC $FLAGS -Icli -Icli/render $(pkg-config --cflags cairo) -o fuzz/bin/fuzz_run_log \
    fuzz/fuzz_run_log.c cli/run_log.c cli/render/canvas.c cli/render/curves.c $CORE \
    -lcjson $(pkg-config --libs cairo) -lm
fi
# The model-file parser reaches name tables across the library (activations,
# optimizers, schedules), so this target links the whole library but
# threads.c (gcc's omp.h; fuzz/single_thread.c stands in); OpenMP pragmas are ignored
# without -fopenmp.
BLAS=/usr/lib/x86_64-linux-gnu/openblas-openmp
LIB_SOURCES=$(find src -name '*.c' ! -name threads.c | sort)
$CC $FLAGS -Isrc/ops -I/usr/include/x86_64-linux-gnu/openblas-openmp -o fuzz/bin/fuzz_modelfile \
  fuzz/fuzz_modelfile.c fuzz/single_thread.c $LIB_SOURCES -L$BLAS -Wl,-rpath,$BLAS -lopenblas -lcjson -lz -lm
# Checkpoints are read as the CLI reads them (cli_model_load: model, table,
# vocabulary, weights, optimizer state), so this target links the library
# and the CLI but main.c, without plots and on one thread.
CLI_SOURCES=$(find cli -maxdepth 1 -name '*.c' ! -name main.c | sort)
$CC $FLAGS -Isrc/ops -Icli -I/usr/include/x86_64-linux-gnu/openblas-openmp -o fuzz/bin/fuzz_safetensors \
  fuzz/fuzz_safetensors.c fuzz/single_thread.c $LIB_SOURCES $CLI_SOURCES cli/render/without_cairo.c \
  -L$BLAS -Wl,-rpath,$BLAS -lopenblas -lcjson -lz -lm
