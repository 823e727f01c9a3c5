#!/usr/bin/env bash
# README's C API tutorial must compile as written and run: extract the code
# block between the tutorial markers, build it against this build tree, run.
set -euo pipefail
src=${CG_SOURCE_DIR:?}; build=${CG_BUILD_DIR:?}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
sed -n '/<!-- tutorial:start -->/,/<!-- tutorial:end -->/p' "$src/README.md" |
  sed '1,/^```c$/d; /^```$/,$d' >"$tmp/tutorial.c"
[[ -s $tmp/tutorial.c ]] || { echo "no tutorial code block found in README.md"; exit 1; }
flags=()
grep -q '^CG_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" && flags=(-fsanitize=address,undefined)
blas=/usr/lib/x86_64-linux-gnu/openblas-openmp
gcc -std=c11 -Wall -Wextra -Werror "${flags[@]}" -I"$src/include" "$tmp/tutorial.c" \
  "$build/libcgrad.a" -L"$blas" -Wl,-rpath,"$blas" -lopenblas -lcjson -lz -lm -fopenmp \
  -o "$tmp/tutorial"
"$tmp/tutorial"
