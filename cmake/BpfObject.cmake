# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# bpf_object(NAME SOURCE [DEPENDS headers...] [FLAGS clang flags...])
# Compiles SOURCE with clang for the BPF target and generates NAME.skel.h with bpftool; the
# interface target NAME_skel puts the skeleton on a consumer's include path. Warnings are errors
# only with RLB_WERROR.

find_program(BPF_CLANG NAMES clang REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)
execute_process(COMMAND gcc -dumpmachine OUTPUT_VARIABLE RLB_TRIPLE
		OUTPUT_STRIP_TRAILING_WHITESPACE)

function(bpf_object name source)
	cmake_parse_arguments(ARG "" "" "DEPENDS;FLAGS" ${ARGN})
	set(obj ${CMAKE_CURRENT_BINARY_DIR}/${name}.bpf.o)
	set(skel ${CMAKE_CURRENT_BINARY_DIR}/${name}.skel.h)
	set(werror)
	if(RLB_WERROR)
		set(werror -Werror)
	endif()
	add_custom_command(
		OUTPUT ${obj}
		COMMAND ${BPF_CLANG} -g -O2 -Wall ${werror} -target bpf -mcpu=v3
			-I${PROJECT_SOURCE_DIR}/include
			-idirafter /usr/include/${RLB_TRIPLE} ${ARG_FLAGS}
			-c ${CMAKE_CURRENT_SOURCE_DIR}/${source} -o ${obj}
		DEPENDS ${source} ${ARG_DEPENDS}
		COMMENT "BPF ${source}"
		VERBATIM)
	add_custom_command(
		OUTPUT ${skel}
		COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name}_bpf > ${skel}
		DEPENDS ${obj}
		COMMENT "skeleton ${name}.skel.h"
		VERBATIM)
	add_custom_target(${name}_skel_gen DEPENDS ${skel})
	add_library(${name}_skel INTERFACE)
	add_dependencies(${name}_skel ${name}_skel_gen)
	target_include_directories(${name}_skel INTERFACE ${CMAKE_CURRENT_BINARY_DIR})
endfunction()
