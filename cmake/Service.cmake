# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# What a system installation adds to the binary and the library: man pages made from the CLI's
# own --help and from docs/custom-policies.md, bash completion, systemd units, the Grafana
# dashboard, example policies' sources and an example configuration (contrib/).
include(GNUInstallDirs)

set(RLB_MAN_DIR ${PROJECT_BINARY_DIR}/man)
set(RLB_CONTRIB ${PROJECT_SOURCE_DIR}/contrib)
add_custom_command(OUTPUT ${RLB_MAN_DIR}/man8/reuselb.8
	COMMAND ${CMAKE_COMMAND} -E make_directory ${RLB_MAN_DIR}/man8
	COMMAND ${RLB_CONTRIB}/man/gen-man $<TARGET_FILE:reuselb_cli> ${PROJECT_SOURCE_DIR}
		${RLB_MAN_DIR}/man8/reuselb.8
	DEPENDS reuselb_cli ${RLB_CONTRIB}/man/gen-man ${RLB_CONTRIB}/man/help2roff.awk
		${RLB_CONTRIB}/man/reuselb.8.in ${PROJECT_SOURCE_DIR}/include/reuselb/abi.h
	COMMENT "reuselb(8) from the commands' --help")
add_custom_command(OUTPUT ${RLB_MAN_DIR}/man7/reuselb-policy.7
	COMMAND ${CMAKE_COMMAND} -E make_directory ${RLB_MAN_DIR}/man7
	COMMAND awk -v version=${PROJECT_VERSION} -f ${RLB_CONTRIB}/man/md2roff.awk
		${PROJECT_SOURCE_DIR}/docs/custom-policies.md > ${RLB_MAN_DIR}/man7/reuselb-policy.7
	DEPENDS ${RLB_CONTRIB}/man/md2roff.awk ${PROJECT_SOURCE_DIR}/docs/custom-policies.md
	COMMENT "reuselb-policy(7) from docs/custom-policies.md")
add_custom_target(man ALL DEPENDS ${RLB_MAN_DIR}/man8/reuselb.8 ${RLB_MAN_DIR}/man7/reuselb-policy.7)

# Units name the installed binary. Debian keeps packages' units in /lib/systemd/system.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
	set(RLB_UNIT_DIR /lib/systemd/system)
else()
	set(RLB_UNIT_DIR ${CMAKE_INSTALL_PREFIX}/lib/systemd/system)
endif()
set(RLB_SBINDIR ${CMAKE_INSTALL_FULL_SBINDIR})
foreach(unit reuselb@.service reuselb-attach@.service)
	configure_file(${RLB_CONTRIB}/systemd/${unit}.in ${PROJECT_BINARY_DIR}/systemd/${unit} @ONLY)
	install(FILES ${PROJECT_BINARY_DIR}/systemd/${unit} DESTINATION ${RLB_UNIT_DIR})
endforeach()

install(FILES ${RLB_MAN_DIR}/man8/reuselb.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${RLB_MAN_DIR}/man7/reuselb-policy.7 DESTINATION ${CMAKE_INSTALL_MANDIR}/man7)
install(FILES ${RLB_CONTRIB}/bash-completion/reuselb
	DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
set(RLB_DOC_DIR ${CMAKE_INSTALL_DATADIR}/doc/reuselb)
install(FILES ${RLB_CONTRIB}/systemd/example.conf ${RLB_CONTRIB}/grafana/reuselb.json
	${PROJECT_SOURCE_DIR}/examples/threads.c
	DESTINATION ${RLB_DOC_DIR}/examples)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/policies/ DESTINATION ${RLB_DOC_DIR}/examples/policies
	FILES_MATCHING PATTERN "*.bpf.c" PATTERN "bad_*" EXCLUDE PATTERN "drop_*" EXCLUDE)
