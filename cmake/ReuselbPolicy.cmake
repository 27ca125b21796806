# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# reuselb_policy(NAME SOURCE [DEPENDS files...] [INCLUDE_DIRS dirs...])
#
# Compiles a user's steering policy (SOURCE, a .bpf.c that includes <reuselb/policy.bpf.h>)
# into ${CMAKE_CURRENT_BINARY_DIR}/NAME.bpf.o, ready for `reuselb policy -p PORT load` or
# bpftool, and adds the target NAME_policy (built by default). The variable NAME_POLICY_OBJECT
# is set in the caller's scope to the object's path.
#
# In the reuselb tree the headers come from the source tree. Out of the tree, install reuselb
# (headers go to <prefix>/include/reuselb/, this file to <prefix>/lib/cmake/reuselb/), then:
#
#	list(APPEND CMAKE_MODULE_PATH /usr/local/lib/cmake/reuselb)
#	include(ReuselbPolicy)
#	reuselb_policy(mypolicy mypolicy.bpf.c)
#
# The header directory is looked up next to this file, then on the system; set
# REUSELB_INCLUDE_DIR (the directory that holds reuselb/policy.bpf.h) to choose another.
# Needs clang, gcc (for the multiarch triple) and libbpf's headers (<bpf/bpf_helpers.h>).
# Warnings are reported, not errors, unless RLB_WERROR is set (as in reuselb's own CI).

include_guard(GLOBAL)

# bpf_object() (cmake/BpfObject.cmake) finds these in the tree; a user's project has neither.
if(NOT BPF_CLANG)
	find_program(BPF_CLANG NAMES clang clang-14 clang-15 clang-16 REQUIRED)
endif()
if(NOT RLB_TRIPLE)
	execute_process(COMMAND gcc -dumpmachine OUTPUT_VARIABLE RLB_TRIPLE
			OUTPUT_STRIP_TRAILING_WHITESPACE)
endif()

# In the source tree (cmake/../include) that copy wins over any installed one. Installed, this
# file is in <prefix>/lib[/<triple>]/cmake/reuselb/: the headers are three or four levels up.
if(NOT REUSELB_INCLUDE_DIR AND EXISTS ${CMAKE_CURRENT_LIST_DIR}/../include/reuselb/policy.bpf.h)
	get_filename_component(REUSELB_INCLUDE_DIR ${CMAKE_CURRENT_LIST_DIR}/../include ABSOLUTE)
endif()
if(NOT REUSELB_INCLUDE_DIR)
	find_path(REUSELB_INCLUDE_DIR NAMES reuselb/policy.bpf.h
		HINTS ${CMAKE_CURRENT_LIST_DIR}/../../../include
		      ${CMAKE_CURRENT_LIST_DIR}/../../../../include
		DOC "directory that holds reuselb/policy.bpf.h")
endif()
if(NOT REUSELB_INCLUDE_DIR)
	message(FATAL_ERROR "reuselb_policy: reuselb/policy.bpf.h not found: install reuselb "
			    "(make install) or set REUSELB_INCLUDE_DIR to its include directory")
endif()

function(reuselb_policy name source)
	cmake_parse_arguments(ARG "" "" "DEPENDS;INCLUDE_DIRS" ${ARGN})
	set(obj ${CMAKE_CURRENT_BINARY_DIR}/${name}.bpf.o)
	set(werror)
	if(RLB_WERROR)
		set(werror -Werror)
	endif()
	get_filename_component(src ${source} ABSOLUTE)
	set(includes)
	foreach(dir ${ARG_INCLUDE_DIRS})
		list(APPEND includes -I${dir})
	endforeach()
	set(headers)
	foreach(h policy.bpf.h abi.h hash.h)
		list(APPEND headers ${REUSELB_INCLUDE_DIR}/reuselb/${h})
	endforeach()
	add_custom_command(
		OUTPUT ${obj}
		COMMAND ${BPF_CLANG} -g -O2 -Wall ${werror} -target bpf -mcpu=v3
			${includes} -I${REUSELB_INCLUDE_DIR} -idirafter /usr/include/${RLB_TRIPLE}
			-c ${src} -o ${obj}
		DEPENDS ${src} ${headers} ${ARG_DEPENDS}
		COMMENT "BPF policy ${source}"
		VERBATIM)
	add_custom_target(${name}_policy ALL DEPENDS ${obj})
	set(${name}_POLICY_OBJECT ${obj} PARENT_SCOPE)
endfunction()
