# bench/fuse_lib.sh - what bench_fuse and bench_fuse_scale share; sourced
# by them (not a program).

# median: the median of the numbers on standard input (space- or
# newline-separated), one decimal; "-" for none.
median() { tr ' ' '\n' | grep -v '^$' | sort -g |
	awk '{ v[NR] = $1 } END { if (NR == 0) print "-";
		else if (NR % 2) printf "%.1f", v[(NR + 1) / 2];
		else printf "%.1f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ratio A B: A / B to three decimals; "-" if either is missing or B is 0.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {
	if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.3f", a / b }'; }

# allowed_cpus: the CPUs this run may use, one per line (taskset's list,
# ranges expanded); nothing without taskset.
allowed_cpus() {
	local l r a b
	l=$(taskset -cp $$ 2>/dev/null) || return
	l=${l##*: }
	for r in ${l//,/ }; do
		a=${r%-*} b=${r#*-}
		seq "$a" "$b"
	done
}
