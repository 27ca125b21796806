# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Included right after project() (CMAKE_PROJECT_INCLUDE) by scripts/kernel-matrix: links every
# executable statically, so that it runs in a guest whose initramfs holds no shared libraries.
# pkg_check_modules finds libbpf.a instead of libbpf.so, and libbpf's private dependencies
# (libelf, zlib) come last on every link line, after -lbpf.
set(CMAKE_FIND_LIBRARY_SUFFIXES .a)
set(CMAKE_EXE_LINKER_FLAGS "${CMAKE_EXE_LINKER_FLAGS} -static")
set(CMAKE_C_STANDARD_LIBRARIES "${CMAKE_C_STANDARD_LIBRARIES} -lelf -lz")
