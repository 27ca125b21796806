# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# One command's "reuselb CMD --help" as man(7) source, for reuselb(8)'s COMMANDS section: the
# usage lines as the synopsis, the text as paragraphs, the option lines as tagged paragraphs,
# and each "Title:" block (Policies, Modes, Exit status, EXAMPLES, ...) as an indented,
# unfilled block. Its parts follow cli_help() (user/cli/target.c): a change there shows here.

function esc(s)
{
	gsub(/\\/, "\\e", s)
	gsub(/-/, "\\-", s)
	if (s ~ /^[.']/)
		s = "\\&" s
	return s
}

# "  -p, --port=PORT", "      --udp", "  WORKER": the head of an option or operand line, which
# two spaces or more part from its help (a head has single spaces only)
function option_head(line,    head)
{
	head = line
	sub(/^ +/, "", head)
	sub(/  +.*$/, "", head)
	return head
}

function option_roff(head,    out, name, arg)
{
	if (head ~ /^[A-Z]/)
		return "\\fI" esc(head) "\\fR"
	out = ""
	if (head ~ /^-[^-], /) {
		out = "\\fB" esc(substr(head, 1, 2)) "\\fR, "
		head = substr(head, 5)
	}
	name = head
	arg = ""
	if (index(head, "=")) {
		name = substr(head, 1, index(head, "=") - 1)
		arg = substr(head, index(head, "=") + 1)
	}
	out = out "\\fB" esc(name) "\\fR"
	if (arg != "")
		out = out "=\\fI" esc(arg) "\\fR"
	return out
}

function end_block()
{
	if (state == "block")
		print ".fi\n.RE"
	state = "text"
}

# a blank line in the help: the next thing starts a new paragraph
function paragraph()
{
	if (pending)
		print ".PP"
	pending = 0
}

BEGIN { state = "usage" }

state == "usage" {
	if ($0 == "") {
		print ".fi"
		state = "text"
		pending = 1
		next
	}
	if (NR == 1) {
		print ".nf"
		sub(/^Usage: /, "")
	} else {
		sub(/^       /, "")
	}
	print esc($0)
	next
}

# an option or an operand: "  -x, --long=ARG   help", "      --long   help", "  NAME   help"
(state == "text" || state == "options") && /^  (-[^ -](, --|  )|    --|[A-Z][A-Z]+ )/ {
	state = "options"
	pending = 0
	print ".TP"
	print option_roff(option_head($0))
	help = $0
	sub(/^ +/, "", help)
	sub(/^[^ ]+( [^ ]+)*  +/, "", help)
	print esc(help)
	next
}
state == "options" && /^      +[^ -]/ {
	line = $0
	sub(/^ +/, "", line)
	print esc(line)
	next
}

/^$/ {
	end_block()
	pending = 1
	next
}

# "Exit status:", "EXAMPLES:": an indented block follows
/^[A-Za-z][A-Za-z ]*:$/ {
	end_block()
	pending = 0
	print ".PP\n\\fB" esc($0) "\\fR\n.RS 2\n.nf"
	state = "block"
	next
}

state == "block" {
	line = $0
	sub(/^  /, "", line)
	print esc(line)
	next
}

{
	state = "text"
	paragraph()
	line = $0
	sub(/^ +/, "", line)
	print esc(line)
}

END { end_block() }
