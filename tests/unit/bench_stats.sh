#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# bench/stats.awk, the sort, median and quartiles of every bench script, loaded the way they
# load it (its text before the program, one program for mawk). No server, root or network.
#
# 1. median: odd, even (the mean of the two middle values), one and two values, negative and
#    fractional values, numbers compared as numbers (9 < 10 < 100); the list is left as it was.
# 2. quartile: lower and upper quartile by rank int(k * n / 4) + 1, capped at n.
# 3. sort: in place, ascending.
stats=${RLB_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/bench/stats.awk
[ -r "$stats" ] || { echo "bench_stats: no $stats" >&2; exit 1; }

out=$(awk "$(cat "$stats")"'
	function list(s, a) { return split(s, a, " ") }
	function check(what, got, want) {
		if (got "" != want "") { printf "FAIL %s: got %s, want %s\n", what, got, want; bad++ }
		else printf "ok   %s = %s\n", what, got
	}
	BEGIN {
		n = list("3 1 2", a);             check("median(3 1 2)", median(a, n), 2)
		n = list("4 1 3 2", a);           check("median(4 1 3 2)", median(a, n), 2.5)
		n = list("7", a);                 check("median(7)", median(a, n), 7)
		n = list("10 20", a);             check("median(10 20)", median(a, n), 15)
		n = list("-1.5 0.5", a);          check("median(-1.5 0.5)", median(a, n), -0.5)
		n = list("100 9 10", a);          check("median(100 9 10)", median(a, n), 10)
		n = list("5 5 1 9 9 9", a);       check("median(5 5 1 9 9 9)", median(a, n), 7)
		n = list("0.98 1.02 1.01 0.99", a); check("median(0.98 1.02 1.01 0.99)", median(a, n), 1.000)
		check("median leaves the list", a[1] " " a[2] " " a[3] " " a[4], "0.98 1.02 1.01 0.99")
		n = list("8 3 6 1 7 2 5 4", a)
		check("quartile(1..8, 1)", quartile(a, n, 1), 3)
		check("quartile(1..8, 3)", quartile(a, n, 3), 7)
		check("quartile leaves the list", a[1], 8)
		n = list("3 1 2", a)
		check("quartile(1..3, 1)", quartile(a, n, 1), 1)
		check("quartile(1..3, 3)", quartile(a, n, 3), 3)
		n = list("42", a)
		check("quartile(42, 1)", quartile(a, n, 1), 42)
		check("quartile(42, 3)", quartile(a, n, 3), 42)
		n = list("100 9 10 -3", a); sort(a, n)
		check("sort(100 9 10 -3)", a[1] " " a[2] " " a[3] " " a[4], "-3 9 10 100")
		exit bad > 0
	}')
rc=$?
echo "$out"
[ $rc = 0 ] || { echo "bench_stats: $(grep -c '^FAIL' <<<"$out") check(s) failed" >&2; exit 1; }
