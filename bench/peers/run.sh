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
# sumcheck also runs our streaming prover, in a third process per size (`ours -stream`): the two
# tables are generated chunk by chunk into a store in a temporary directory and proved from it
# under a ledger of 1/16 of the tables (2·32·2^n/16 bytes; --stream-budget overrides it). Its
# columns are stream_s, stream_cpu_s, stream_MiB and stream_rss_x (its peak RSS over the peer's),
# its JSON fields ours_stream_prove_s, ours_stream_prove_cpu_s, ours_stream_peak_rss_bytes and
# ours_stream_mem_budget_bytes.
#
# Adding a benchmark (e.g. gkr): write bench/ours/gkr/main.go and bench/peers/gkr/main.go, both
# taking -n, -reps and -workers and printing one JSON line with "prove_s" and "peak_rss_bytes", and add "gkr" to
# BENCHES below. Nothing else changes.
set -euo pipefail

BENCHES="sumcheck"

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

usage() {
	echo "usage: $0 {$(echo $BENCHES | tr ' ' '|')} [--sizes 20,22,24] [--repeat N] [--workers N] [--stream-budget SIZE]" >&2
	exit 2
}

[ $# -ge 1 ] || usage
bench=$1
shift

# gkr: the data-parallel GKR benchmark (bench/ours/gkr, bench/peers/gkr on gnark-crypto v0.14.0's
# fr/gkr): a MiMC-style circuit, (x + key + k_i)^7 for --rounds rounds, over 2^n instances (sizes
# are log2 instance counts). Ours streams its wires through a store and proves under --mem-budget
# (default 512MiB); the peer keeps every wire in RAM. Each side runs --repeat times (default 1),
# one process per run; the run with the fastest prove is kept. Prints a table on stderr and per
# size one JSON line on stdout.
#
#   bench/peers/run.sh gkr [--sizes 16,18,20,22] [--repeat N] [--workers N] [--rounds R] [--mem-budget 512MiB]
case $bench in
gkr)
	sizes=16,18,20
	repeat=1
	workers=
	rounds=16
	budget=512MiB
	while [ $# -gt 0 ]; do
		case $1 in
		--sizes) sizes=$2; shift 2 ;;
		--repeat) repeat=$2; shift 2 ;;
		--workers) workers=$2; shift 2 ;;
		--rounds) rounds=$2; shift 2 ;;
		--mem-budget) budget=$2; shift 2 ;;
		*) echo "usage: $0 gkr [--sizes 16,18,20,22] [--repeat N] [--workers N] [--rounds R] [--mem-budget 512MiB]" >&2; exit 2 ;;
		esac
	done
	bin=$(mktemp -d)
	trap 'rm -rf "$bin"' EXIT
	(cd "$root" && go build -o "$bin/ours" ./bench/ours/gkr)
	(cd "$here" && go build -o "$bin/peer" ./gkr)
	num() { sed -n "s/.*\"$1\":\([0-9.eE+-]*\).*/\1/p"; }
	bool() { sed -n "s/.*\"$1\":\(true\|false\).*/\1/p"; }
	# best SIDE N: the JSON line of the run with the fastest prove among $repeat processes
	best() {
		local side=$1 n=$2 out s bl= bs= extra=
		[ "$side" = ours ] && extra="-mem-budget $budget"
		for _ in $(seq "$repeat"); do
			out=$("$bin/$side" -n "$n" -rounds "$rounds" $extra ${workers:+-workers "$workers"}) || true
			s=$(echo "$out" | num prove_s)
			[ -n "$s" ] || continue
			if [ -z "$bs" ] || awk -v a="$s" -v b="$bs" 'BEGIN{exit !(a<b)}'; then bs=$s bl=$out; fi
		done
		echo "$bl"
	}
	printf '%-5s %9s %7s %9s %9s %7s %9s %9s %8s %8s %10s %10s %7s %6s\n' bench instances rounds peer_prove ours_prove speedup peer_cpu ours_cpu peer_vfy ours_vfy peer_MiB ours_MiB rss_x ok >&2
	for n in ${sizes//,/ }; do
		pl=$(best peer "$n")
		ol=$(best ours "$n")
		if [ -z "$pl" ] || [ -z "$ol" ]; then
			echo "gkr 2^$n: a side failed (peer: ${pl:-no result}; ours: ${ol:-no result})" >&2
			continue
		fi
		awk -v n="$n" -v r="$rounds" \
			-v ps="$(echo "$pl" | num prove_s)" -v os="$(echo "$ol" | num prove_s)" \
			-v pc="$(echo "$pl" | num prove_cpu_s)" -v oc="$(echo "$ol" | num prove_cpu_s)" \
			-v pv="$(echo "$pl" | num verify_s)" -v ov="$(echo "$ol" | num verify_s)" \
			-v pf="$(echo "$pl" | num forward_s)" -v of="$(echo "$ol" | num forward_s)" \
			-v pr="$(echo "$pl" | num peak_rss_bytes)" -v or="$(echo "$ol" | num peak_rss_bytes)" \
			-v ok="$(echo "$ol" | bool verified)" -v pok="$(echo "$pl" | bool verified)" 'BEGIN{
			N = 2^n
			printf "%-5s %9d %7d %9.3f %9.3f %6.2fx %9.3f %9.3f %8.3f %8.3f %10.1f %10.1f %6.3fx %6s\n", "gkr", N, r, ps, os, ps/os, pc, oc, pv, ov, pr/1048576, or/1048576, or/pr, ok > "/dev/stderr"
			printf "{\"bench\":\"gkr\",\"instances\":%d,\"rounds\":%d,\"peer_prove_s\":%s,\"ours_prove_s\":%s,\"peer_verify_s\":%s,\"ours_verify_s\":%s,\"peer_peak_rss_bytes\":%s,\"ours_peak_rss_bytes\":%s,\"ours_verified\":%s,\"peer_verified\":%s,\"peer_prove_cpu_s\":%s,\"ours_prove_cpu_s\":%s,\"peer_forward_s\":%s,\"ours_forward_s\":%s}\n", N, r, ps, os, pv, ov, pr, or, ok, pok, pc, oc, pf, of
		}'
	done
	exit 0
	;;
esac
case " $BENCHES " in *" $bench "*) ;; *) usage ;; esac

# STREAM_BENCHES also run ours with -stream (and -mem-budget when --stream-budget is given).
STREAM_BENCHES="sumcheck"
stream=
case " $STREAM_BENCHES " in *" $bench "*) stream=1 ;; esac

sizes=20,22,24
repeat=3
workers=
sbudget=
while [ $# -gt 0 ]; do
	case $1 in
	--sizes) sizes=$2; shift 2 ;;
	--repeat) repeat=$2; shift 2 ;;
	--workers) workers=$2; shift 2 ;;
	--stream-budget) sbudget=$2; shift 2 ;;
	*) usage ;;
	esac
done

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
(cd "$root" && go build -o "$bin/ours" "./bench/ours/$bench")
(cd "$here" && go build -o "$bin/peer" "./$bench")

# field NAME < json-line: a number from a flat JSON object
field() { sed -n "s/.*\"$1\":\([0-9.eE+-]*\).*/\1/p"; }

# run SIDE N [ARGS...]: "prove_s peak_rss_bytes prove_cpu_s mem_budget_bytes" of one process (its
# fastest of $repeat proves; mem_budget_bytes only from ours -stream), or nothing if it failed
run() {
	local side=$1 n=$2 out
	shift 2
	out=$("$bin/$side" -n "$n" -reps "$repeat" ${workers:+-workers "$workers"} "$@") || return 0
	echo "$(echo "$out" | field prove_s) $(echo "$out" | field peak_rss_bytes) $(echo "$out" | field prove_cpu_s) $(echo "$out" | field mem_budget_bytes)"
}

if [ -n "$stream" ]; then
	printf '%-10s %5s %12s %12s %8s %10s %10s %8s %14s %14s %8s %9s %12s %10s %12s\n' bench vars peer_prove_s ours_prove_s speedup peer_cpu_s ours_cpu_s cpu_x peer_rss_MiB ours_rss_MiB rss_x stream_s stream_cpu_s stream_MiB stream_rss_x >&2
else
	printf '%-10s %5s %12s %12s %8s %10s %10s %8s %14s %14s %8s\n' bench vars peer_prove_s ours_prove_s speedup peer_cpu_s ours_cpu_s cpu_x peer_rss_MiB ours_rss_MiB rss_x >&2
fi
for n in ${sizes//,/ }; do
	read -r ps pr pc _ < <(run peer "$n") || true
	read -r os or oc _ < <(run ours "$n") || true
	ss= sr= sc= sb=
	if [ -n "$stream" ]; then
		read -r ss sr sc sb < <(run ours "$n" -stream ${sbudget:+-mem-budget "$sbudget"}) || true
	fi
	if [ -z "$ps" ] || [ -z "$os" ] || { [ -n "$stream" ] && [ -z "$ss" ]; }; then
		echo "$bench n=$n: a side failed (peer: ${ps:-no result}; ours: ${os:-no result}${stream:+; ours -stream: ${ss:-no result}})" >&2
		continue
	fi
	awk -v b="$bench" -v n="$n" -v ps="$ps" -v os="$os" -v pr="$pr" -v or="$or" -v pc="$pc" -v oc="$oc" \
		-v st="$stream" -v ss="$ss" -v sr="$sr" -v sc="$sc" -v sb="$sb" 'BEGIN{
		printf "%-10s %5d %12.3f %12.3f %7.2fx %10.3f %10.3f %7.2fx %14.1f %14.1f %7.2fx", b, n, ps, os, ps/os, pc, oc, pc/oc, pr/1048576, or/1048576, or/pr > "/dev/stderr"
		if (st) printf " %9.3f %12.3f %10.1f %11.3fx", ss, sc, sr/1048576, sr/pr > "/dev/stderr"
		printf "\n" > "/dev/stderr"
		printf "{\"bench\":\"%s\",\"vars\":%d,\"peer_prove_s\":%s,\"ours_prove_s\":%s,\"peer_peak_rss_bytes\":%s,\"ours_peak_rss_bytes\":%s,\"peer_prove_cpu_s\":%s,\"ours_prove_cpu_s\":%s", b, n, ps, os, pr, or, pc, oc
		if (st) printf ",\"ours_stream_prove_s\":%s,\"ours_stream_prove_cpu_s\":%s,\"ours_stream_peak_rss_bytes\":%s,\"ours_stream_mem_budget_bytes\":%s", ss, sc, sr, sb
		printf "}\n"
	}'
done
