# The BLAS behind cblas_sgemm, chosen with -DCG_BLAS=openblas|mkl. Sets
#   CG_BLAS_LIB      the library to link
#   CG_BLAS_INCLUDE  the directory whose cblas.h the sources include
#   CG_BLAS_LIBDIR   its directory (rpath, pkg-config)
#   CG_BLAS_SOURCES  extra library sources the choice needs
# There is one code path: the sources call CBLAS and OpenBLAS's
# openblas_set_num_threads, which the MKL choice maps onto MKL.
set(CG_BLAS "openblas" CACHE STRING "BLAS library: openblas (default) or mkl")
set_property(CACHE CG_BLAS PROPERTY STRINGS openblas mkl)
set(CG_BLAS_SOURCES "")

if(CG_BLAS STREQUAL "openblas")
  # Prefer the OpenMP build of OpenBLAS: it shares our OpenMP thread pool
  # instead of fighting it with its own pthreads.
  set(CG_OPENBLAS_OPENMP_DIR /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp)
  find_library(CG_BLAS_LIB NAMES openblas PATHS ${CG_OPENBLAS_OPENMP_DIR} NO_DEFAULT_PATH)
  if(NOT CG_BLAS_LIB)
    find_library(CG_BLAS_LIB NAMES openblas REQUIRED)
  endif()
  find_path(CG_BLAS_INCLUDE cblas.h
            PATHS /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp NO_DEFAULT_PATH)
  if(NOT CG_BLAS_INCLUDE)
    find_path(CG_BLAS_INCLUDE cblas.h PATH_SUFFIXES openblas REQUIRED)
  endif()
elseif(CG_BLAS STREQUAL "mkl")
  # libmkl_rt from PyPI's `mkl` and `mkl-include` (pip install into
  # CG_MKL_ROOT, by default bench/.venv: `make bench BLAS=mkl` does it) or
  # from Debian's libmkl-dev. MKL runs on GNU OpenMP threads (see
  # cmake/mkl/openblas_compat.c), so it shares our thread pool too.
  set(CG_MKL_ROOT "${CMAKE_CURRENT_SOURCE_DIR}/bench/.venv" CACHE PATH "Where MKL is installed")
  find_library(CG_BLAS_LIB NAMES mkl_rt libmkl_rt.so.3 libmkl_rt.so.2 libmkl_rt.so.1
               HINTS ${CG_MKL_ROOT}/lib /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE})
  find_path(CG_MKL_INCLUDE mkl_cblas.h HINTS ${CG_MKL_ROOT}/include /usr/include/mkl)
  if(NOT CG_BLAS_LIB OR NOT CG_MKL_INCLUDE)
    message(FATAL_ERROR "CG_BLAS=mkl: libmkl_rt or mkl_cblas.h not found under ${CG_MKL_ROOT} "
                        "or /usr (pip install mkl mkl-include into it, or apt-get install libmkl-dev)")
  endif()
  set(CG_BLAS_INCLUDE ${CMAKE_CURRENT_SOURCE_DIR}/cmake/mkl ${CG_MKL_INCLUDE})
  set(CG_BLAS_SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/cmake/mkl/openblas_compat.c)
else()
  message(FATAL_ERROR "CG_BLAS must be openblas or mkl, got '${CG_BLAS}'")
endif()
get_filename_component(CG_BLAS_LIBDIR ${CG_BLAS_LIB} DIRECTORY)
message(STATUS "BLAS (${CG_BLAS}): ${CG_BLAS_LIB}")
