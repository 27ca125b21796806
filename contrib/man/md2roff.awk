# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# reuselb-policy(7) from docs/custom-policies.md: the one text on writing policies stays in the
# Markdown, and the man page is made from it. Knows the Markdown that file uses: headings,
# paragraphs, "- " lists, fenced and indented code, pipe tables, `code` and **bold**.
# Variables: version.

function esc(s)
{
	gsub(/\\/, "\\e", s)
	gsub(/-/, "\\-", s)
	if (s ~ /^[.']/)
		s = "\\&" s
	return s
}

# escaped text with `code` and **bold** in bold
function inline(s,    out, i, c, bold)
{
	s = esc(s)
	out = ""
	bold = 0
	while ((i = match(s, /`|\*\*/)) > 0) {
		c = substr(s, i, RLENGTH)
		out = out substr(s, 1, i - 1) (bold ? "\\fR" : "\\fB")
		bold = !bold
		s = substr(s, i + RLENGTH)
	}
	out = out s (bold ? "\\fR" : "")
	if (out ~ /^[.']/)
		out = "\\&" out
	return out
}

function code_start()
{
	print ".PP\n.RS 4\n.nf"
}

function code_end()
{
	print ".fi\n.RE"
}

BEGIN {
	print ".\\\" SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)"
	print ".\\\" Made from docs/custom-policies.md by contrib/man/md2roff.awk: edit that file."
	print ".TH REUSELB\\-POLICY 7 \"\" \"reuselb " version "\" \"reuselb\""
	print ".SH NAME"
	print "reuselb\\-policy \\- write, build and load a steering policy of your own for reuselb"
	print ".SH DESCRIPTION"
	state = "text"
}

state == "fence" {
	if ($0 ~ /^```/) {
		code_end()
		state = "text"
	} else {
		print esc($0)
	}
	next
}
/^```/ { state = "fence"; code_start(); next }

state == "indented" && (/^    / || /^$/) {
	if ($0 == "") {
		blank++
		next
	}
	for (; blank > 0; blank--)
		print ""
	print esc(substr($0, 5))
	next
}
state == "indented" { code_end(); state = "text" }

/^# / { next }
/^## / {
	h = substr($0, 4)
	print ".SH \"" toupper(esc(h)) "\""
	state = "text"
	next
}

/^\| *---/ { next }
/^\|/ {
	n = split($0, cell, /\|/)
	gsub(/^ +| +$/, "", cell[2])
	print ".TP\n" inline(cell[2])
	line = ""
	for (i = 3; i < n; i++) {
		c = cell[i]
		gsub(/^ +| +$/, "", c)
		if (c != "")
			line = line (line == "" ? "" : " \\(em ") c
	}
	print inline(line)
	next
}

/^- / { print ".IP \\(bu 2\n" inline(substr($0, 3)); state = "list"; next }
state == "list" && /^  [^ ]/ { print inline(substr($0, 3)); next }

/^    / && state != "list" {
	state = "indented"
	blank = 0
	code_start()
	print esc(substr($0, 5))
	next
}

/^$/ { if (state == "list") state = "text"; para = 1; next }

{
	if (para || state == "list")
		print ".PP"
	para = 0
	state = "text"
	print inline($0)
}

END { if (state == "indented" || state == "fence") code_end() }
