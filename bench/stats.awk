# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The bench scripts' statistics, the one place that defines them: each awk program there is this
# file's text followed by its own, awk -v ... "$(cat "$top/bench/stats.awk")"'...program...'
# (mawk takes no program text beside -f). Arrays are a[1..n], numbers; the lists are a few
# hundred values at most, so an insertion sort does.

# sort(a, n): a[1..n] in ascending order, in place
function sort(a, n,   i, j, t)
{
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
}

# median(a, n): the middle value of a[1..n], the mean of the two middle ones for an even n;
# a is left as it was
function median(a, n,   b, i)
{
	for (i = 1; i <= n; i++) b[i] = a[i]
	sort(b, n)
	return n % 2 ? b[(n + 1) / 2] : (b[n / 2] + b[n / 2 + 1]) / 2
}

# quartile(a, n, k): the k-th quartile (k = 1 lower, 3 upper) of a[1..n], the value at rank
# int(k * n / 4) + 1 of the sorted list (at most n); a is left as it was
function quartile(a, n, k,   b, i)
{
	for (i = 1; i <= n; i++) b[i] = a[i]
	sort(b, n)
	i = int(k * n / 4) + 1
	return b[i > n ? n : i]
}
