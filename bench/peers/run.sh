#!/usr/bin/env bash
# run.sh — compare streamprove with peer libraries, one process per side and size.
#
#   bench/peers/run.sh sumcheck [--sizes 20,22,24] [--repeat 3] [--workers N]
#
# Each subcommand builds two programs: ours (in the root module, bench/ours/<bench>) and the
# peer's (in this nested module, bench/peers/<bench>, pinned to the peer's own dependency
# versions). Every side and size runs in its own process so that peak RSS (VmHWM, which each
# program reads at exit) belongs to that side alone. Each program proves --repeat times (default 3)
# and reports its fastest prove: on a shared machine the minimum is the least disturbed run, and
# the first prove of a process also pays for faulting in fresh memory. It prints a table on stderr
# and, per size, one JSON line on stdout.
#
# Adding a benchmark (e.g. gkr): write bench/ours/gkr/main.go and bench/peers/gkr/main.go, both
# taking -n, -reps and -workers and printing one JSON line with "prove_s" and "peak_rss_bytes", and add "gkr" to
# BENCHES below. Nothing else changes.
set -euo pipefail

BENCHES="sumcheck"

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

usage() {
	echo "usage: $0 {$(echo $BENCHES | tr ' ' '|')} [--sizes 20,22,24] [--repeat N] [--workers N]" >&2
	exit 2
}

[ $# -ge 1 ] || usage
bench=$1
shift
case " $BENCHES " in *" $bench "*) ;; *) usage ;; esac

sizes=20,22,24
repeat=3
workers=
while [ $# -gt 0 ]; do
	case $1 in
	--sizes) sizes=$2; shift 2 ;;
	--repeat) repeat=$2; shift 2 ;;
	--workers) workers=$2; shift 2 ;;
	*) usage ;;
	esac
done

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
(cd "$root" && go build -o "$bin/ours" "./bench/ours/$bench")
(cd "$here" && go build -o "$bin/peer" "./$bench")

# field NAME < json-line: a number from a flat JSON object
field() { sed -n "s/.*\"$1\":\([0-9.eE+-]*\).*/\1/p"; }

# run SIDE N: "prove_s peak_rss_bytes prove_cpu_s" of one process (its fastest of $repeat proves)
run() {
	local out
	out=$("$bin/$1" -n "$2" -reps "$repeat" ${workers:+-workers "$workers"})
	echo "$(echo "$out" | field prove_s) $(echo "$out" | field peak_rss_bytes) $(echo "$out" | field prove_cpu_s)"
}

printf '%-10s %5s %12s %12s %8s %10s %10s %8s %14s %14s %8s\n' bench vars peer_prove_s ours_prove_s speedup peer_cpu_s ours_cpu_s cpu_x peer_rss_MiB ours_rss_MiB rss_x >&2
for n in ${sizes//,/ }; do
	read -r ps pr pc < <(run peer "$n")
	read -r os or oc < <(run ours "$n")
	awk -v b="$bench" -v n="$n" -v ps="$ps" -v os="$os" -v pr="$pr" -v or="$or" -v pc="$pc" -v oc="$oc" 'BEGIN{
		printf "%-10s %5d %12.3f %12.3f %7.2fx %10.3f %10.3f %7.2fx %14.1f %14.1f %7.2fx\n", b, n, ps, os, ps/os, pc, oc, pc/oc, pr/1048576, or/1048576, or/pr > "/dev/stderr"
		printf "{\"bench\":\"%s\",\"vars\":%d,\"peer_prove_s\":%s,\"ours_prove_s\":%s,\"peer_peak_rss_bytes\":%s,\"ours_peak_rss_bytes\":%s,\"peer_prove_cpu_s\":%s,\"ours_prove_cpu_s\":%s}\n", b, n, ps, os, pr, or, pc, oc
	}'
done
