# ratios.awk pairs each raftgroup benchmark line with the other library's
# line of the same batch size from the same run (they ran seconds apart)
# and prints, per batch size and library, the median and range of the
# paired ratios: raftgroup's proposals/s over the other's, and the other's
# CPU time and allocations per proposal over raftgroup's.
#
#	awk -f ratios.awk results.txt
function metric(name,   i) {
	for (i = 3; i < NF; i++) if ($(i + 1) == name) return $i
	return ""
}
function median(a, n,   i, j, t) {
	for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
/^BenchmarkPropose\// {
	split($1, p, "/"); batch = p[2]; impl = p[3]; sub(/-[0-9]+$/, "", impl); sub(/^impl=/, "", impl)
	k = batch SUBSEP impl; seen[k]++
	rate[k, seen[k]] = metric("proposals/s"); cpu[k, seen[k]] = metric("cpu-ns/op"); allocs[k, seen[k]] = metric("allocs/proposal")
	if (impl != "raftgroup" && !(k in listed)) { listed[k] = 1; order[++norder] = k }
}
END {
	printf "%-12s %-12s %5s  %-26s %-26s %s\n", "batch", "vs", "pairs", "proposals/s ratio (range)", "cpu-ns ratio (range)", "allocs ratio"
	for (o = 1; o <= norder; o++) {
		k = order[o]; split(k, kk, SUBSEP); r = kk[1] SUBSEP "raftgroup"
		n = 0
		for (i = 1; i <= seen[k] && i <= seen[r]; i++) {
			n++; rr[n] = rate[r, i] / rate[k, i]; cr[n] = cpu[k, i] / cpu[r, i]; ar[n] = allocs[k, i] / allocs[r, i]
			if (n == 1 || rr[n] < rlo) rlo = rr[n]; if (n == 1 || rr[n] > rhi) rhi = rr[n]
			if (n == 1 || cr[n] < clo) clo = cr[n]; if (n == 1 || cr[n] > chi) chi = cr[n]
		}
		if (n == 0) continue
		printf "%-12s %-12s %5d  %5.2fx (%5.2f-%5.2f)       %5.2fx (%5.2f-%5.2f)       %6.2fx\n", kk[1], kk[2], n, median(rr, n), rlo, rhi, median(cr, n), clo, chi, median(ar, n)
	}
}
