#!/usr/bin/env bash
# `make install` gives another C project what it needs: the header, the
# libraries, cgrad.pc for pkg-config and a CMake package for find_package.
set -euo pipefail
src=${CG_SOURCE_DIR:?}; build=${CG_BUILD_DIR:?}
if grep -q '^CG_SANITIZE:BOOL=ON' "$build/CMakeCache.txt"; then
  echo "skipped: sanitizer build is not installed"; exit 77
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
cp "$src/examples/xor.c" "$tmp/xor.c"

# pkg-config: dynamic link against the installed shared library.
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig:$tmp/prefix/lib/x86_64-linux-gnu/pkgconfig"
gcc -std=c11 "$tmp/xor.c" $(pkg-config --cflags --libs cgrad) -o "$tmp/xor_pc"
"$tmp/xor_pc" >/dev/null

# CMake: find_package(cgrad) and link cgrad::cgrad.
mkdir -p "$tmp/proj"
cat >"$tmp/proj/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.25)
project(consumer C)
find_package(cgrad REQUIRED)
add_executable(xor_cmake ../xor.c)
target_link_libraries(xor_cmake PRIVATE cgrad::cgrad)
CMAKE
cmake -S "$tmp/proj" -B "$tmp/proj/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/proj/build" >/dev/null
"$tmp/proj/build/xor_cmake" >/dev/null
echo "install: pkg-config and find_package consumers built and ran"
