#!/usr/bin/env bash
# Side-by-side load runs: a minimal mio floor, hyper, axum, actix-web,
# may_minihttp, xitca-web and Turnstile (raw core and framework), each on one
# core, wrk on the other.
#
#   bash benches/compare/run.sh                 # 3 rounds of 5 s loads
#   ROUNDS=1 DURATION=2 bash benches/compare/run.sh
#
# Servers alternate within each round (A B C ... A B C ...), so drift on this
# shared machine hits all alike; the table shows medians over rounds and
# ratios against hyper and against the floor measured in the same run.
# Loopback only; every load is bounded by DURATION.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-5}"
CONNECTIONS="${CONNECTIONS:-64}"
SERVERS="${SERVERS:-floor hyper axum actix may-minihttp xitca turnstile-raw turnstile-app}"
SERVER_CPU="${SERVER_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"

. "$here/lib.sh"
need_tools wrk
cargo build --release --quiet
bin="$here/target/release"

work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
write_pipeline_script "$work/pipeline.lua"

results="$work/results.tsv"
: > "$results"

for round in $(seq 1 "$ROUNDS"); do
    for server in $SERVERS; do
        start_server "$bin" "$server" "$work"
        for route in plaintext json; do
            for mode in plain pipelined; do
                args=(-t1 -c"$CONNECTIONS" --latency)
                [ "$mode" = pipelined ] && args+=(-s "$work/pipeline.lua")
                # Warm up, then measure.
                taskset -c "$LOAD_CPU" wrk "${args[@]}" -d1s "$url/$route" -- "/$route" > /dev/null
                before="$(cpu_ticks "$pid")"
                taskset -c "$LOAD_CPU" wrk "${args[@]}" -d"${DURATION}s" "$url/$route" -- "/$route" > "$work/wrk.out"
                after="$(cpu_ticks "$pid")"
                printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$server" "$route" "$mode" \
                    "$(wrk_row "$work/wrk.out" "$((after - before))")" >> "$results"
            done
        done
        rss="$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")"
        printf '%s\t%s\trss\t-\t%s\n' "$round" "$server" "$rss" >> "$results"
        kill "$pid"; wait "$pid" 2>/dev/null || true
    done
done

python3 - "$results" "$ROUNDS" "$DURATION" "$CONNECTIONS" <<'PY'
import statistics, sys
from collections import defaultdict
path, rounds, duration, conns = sys.argv[1:]
runs = defaultdict(list)
rss = defaultdict(list)
errors = 0
for line in open(path):
    f = line.rstrip("\n").split("\t")
    if f[2] == "rss":
        rss[f[1]].append(int(f[4]) / 1024)
        continue
    rnd, server, route, mode = f[:4]
    rps, p50, p99, cpu, err = map(float, f[4:])
    errors += err
    runs[(server, route, mode)].append((rps, p50, p99, cpu))
servers = []
for (s, _, _) in runs:
    if s not in servers:
        servers.append(s)
def med(values):
    return statistics.median(values)
print(f"# {rounds} rounds x {duration}s, wrk -t1 -c{conns}, server and wrk on separate cores; medians over rounds")
print()
for route in ("plaintext", "json"):
    for mode in ("plain", "pipelined"):
        print(f"## /{route}, {mode}{' (16 per write)' if mode == 'pipelined' else ''}")
        print()
        print("| server | req/s | x hyper | x may | x floor | p50 µs | p99 µs | CPU µs/req | x floor |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        stats = {}
        for s in servers:
            rows = runs.get((s, route, mode))
            if rows:
                stats[s] = tuple(med([r[i] for r in rows]) for i in range(4))
        base = stats.get("hyper")
        may = stats.get("may-minihttp")
        floor = stats.get("floor")
        for s, (rps, p50, p99, cpu) in stats.items():
            xh = f"{rps / base[0]:.2f}" if base else "-"
            xm = f"{rps / may[0]:.2f}" if may else "-"
            xf = f"{rps / floor[0]:.2f}" if floor else "-"
            cf = f"{cpu / floor[3]:.2f}" if floor else "-"
            # wrk's percentiles are meaningless for pipelined loads (it times
            # batches); only the plain loads report them.
            lat50 = f"{p50:.0f}" if mode == "plain" else "n/a"
            lat99 = f"{p99:.0f}" if mode == "plain" else "n/a"
            print(f"| {s} | {rps:,.0f} | {xh} | {xm} | {xf} | {lat50} | {lat99} | {cpu:.2f} | {cf} |")
        print()
print("## Peak RSS after all loads (MiB)")
print()
print("| server | MiB | x hyper | x floor |")
print("|---|---:|---:|---:|")
for s in servers:
    value = med(rss[s])
    xh = f"{value / med(rss['hyper']):.2f}" if rss.get("hyper") else "-"
    xf = f"{value / med(rss['floor']):.2f}" if rss.get("floor") else "-"
    print(f"| {s} | {value:.1f} | {xh} | {xf} |")
if errors:
    print(f"\nWARNING: {errors:.0f} non-2xx responses during the runs")
PY
