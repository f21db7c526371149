#!/usr/bin/env bash
# HTTPS side by side: Turnstile (raw core and framework), actix-web with
# rustls and hyper with tokio-rustls. All use rustls with the ring provider
# and the same ECDSA P-256 certificate, one core each, the load on the other.
#
#   bash benches/compare/tls.sh                 # 3 rounds of 5 s loads
#   ROUNDS=1 DURATION=2 IDLE=500 bash benches/compare/tls.sh
#
# Per server and round: keep-alive /plaintext with wrk over https (plain and
# 16 pipelined per write), new TLS connections per second (`openssl s_time
# -new`: a full handshake and one request each), server CPU per request or
# per handshake, and the RSS cost of IDLE idle TLS keep-alive connections.
# Medians over rounds; ratios against the best peer in the same run.
# Loopback only; every load is bounded by DURATION.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-5}"
CONNECTIONS="${CONNECTIONS:-64}"
IDLE="${IDLE:-2000}"
SERVERS="${SERVERS:-turnstile-raw turnstile-app actix hyper}"
PEERS="${PEERS:-actix hyper}"
SERVER_CPU="${SERVER_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"

. "$here/lib.sh"
need_tools wrk openssl
ulimit -n "$(ulimit -Hn)"
cargo build --release --quiet
bin="$here/target/release"

work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -addext basicConstraints=critical,CA:FALSE \
    -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
export TLS_CERT="$work/cert.pem" TLS_KEY="$work/key.pem"

write_pipeline_script "$work/pipeline.lua"

ticks="$(getconf CLK_TCK)"
results="$work/results.tsv"
: > "$results"
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

for round in $(seq 1 "$ROUNDS"); do
    for server in $SERVERS; do
        start_server "$bin" "$server" "$work"
        case "$url" in https://*) ;; *) echo "$server did not start on https ($url)" >&2; exit 1 ;; esac
        port="${url##*:}"
        for mode in plain pipelined; do
            args=(-t1 -c"$CONNECTIONS" --latency)
            [ "$mode" = pipelined ] && args+=(-s "$work/pipeline.lua")
            taskset -c "$LOAD_CPU" wrk "${args[@]}" -d1s "$url/plaintext" > /dev/null
            before="$(cpu_ticks "$pid")"
            taskset -c "$LOAD_CPU" wrk "${args[@]}" -d"${DURATION}s" "$url/plaintext" > "$work/wrk.out"
            after="$(cpu_ticks "$pid")"
            printf '%s\t%s\t%s\t%s\n' "$round" "$server" "$mode" \
                "$(wrk_row "$work/wrk.out" "$((after - before))")" >> "$results"
        done
        # New connections: a full handshake and one request each.
        before="$(cpu_ticks "$pid")"
        taskset -c "$LOAD_CPU" openssl s_time -connect "127.0.0.1:$port" -new -time "$DURATION" \
            -www /plaintext > "$work/stime.out" 2>&1 || true
        after="$(cpu_ticks "$pid")"
        python3 - "$work/stime.out" "$round" "$server" "$((after - before))" "$ticks" >> "$results" <<'PY'
import re, sys
out, rnd, server, cpu, ticks = sys.argv[1:]
text = open(out).read()
m = re.search(r"(\d+) connections in ([\d.]+) real seconds", text)
if not m:
    sys.exit(f"s_time said: {text[-400:]}")
count, secs = int(m.group(1)), float(m.group(2))
cpu_us = int(cpu) / int(ticks) * 1e6 / max(count, 1)
print("\t".join(map(str, [rnd, server, "handshake", count / secs, 0, 0, cpu_us, 0])))
PY
        # Idle TLS keep-alive connections: RSS per connection.
        idle_before="$(rss_kib "$pid")"
        python3 - "$port" "$IDLE" "$pid" > "$work/idle.out" <<'PY'
import resource, socket, ssl, sys, time
port, count, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(["http/1.1"])
held = []
for _ in range(count):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
    s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while b"Hello, World!" not in data:
        chunk = s.recv(4096)
        if not chunk:
            sys.exit("closed early")
        data += chunk
    held.append(s)
time.sleep(1)
print([l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0].split()[1])
PY
        idle_after="$(cat "$work/idle.out")"
        printf '%s\t%s\tidle\t%s\n' "$round" "$server" \
            "$(( (idle_after - idle_before) * 1024 / IDLE ))" >> "$results"
        kill "$pid"; wait "$pid" 2>/dev/null || true
    done
done

python3 - "$results" "$ROUNDS" "$DURATION" "$CONNECTIONS" "$IDLE" "$PEERS" <<'PY'
import statistics, sys
from collections import defaultdict
path, rounds, duration, conns, idle, peers = sys.argv[1:]
peers = peers.split()
runs, idle_bytes, errors = defaultdict(list), defaultdict(list), 0
for line in open(path):
    f = line.rstrip("\n").split("\t")
    if f[2] == "idle":
        idle_bytes[f[1]].append(int(f[3]))
        continue
    rnd, server, mode = f[:3]
    rps, p50, p99, cpu, err = map(float, f[3:])
    errors += err
    runs[(server, mode)].append((rps, p50, p99, cpu))
servers = []
for (s, _) in runs:
    if s not in servers:
        servers.append(s)
med = statistics.median
print(f"# HTTPS: {rounds} rounds x {duration}s, wrk -t1 -c{conns} over TLS 1.3, rustls+ring everywhere; medians over rounds")
for mode, title, unit in (("plain", "keep-alive /plaintext", "req/s"),
                          ("pipelined", "keep-alive /plaintext, 16 pipelined per write", "req/s"),
                          ("handshake", "new connections (full handshake + one request, openssl s_time -new)", "conn/s")):
    print(f"\n## {title}\n")
    print(f"| server | {unit} | x best peer | CPU µs each | x best peer | p50 µs | p99 µs |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    stats = {s: tuple(med([r[i] for r in runs[(s, mode)]]) for i in range(4)) for s in servers if runs.get((s, mode))}
    best_rate = max((stats[p][0] for p in peers if p in stats), default=None)
    best_cpu = min((stats[p][3] for p in peers if p in stats), default=None)
    for s, (rate, p50, p99, cpu) in stats.items():
        xr = f"{rate / best_rate:.2f}" if best_rate else "-"
        xc = f"{cpu / best_cpu:.2f}" if best_cpu else "-"
        l50 = f"{p50:.0f}" if mode == "plain" else "n/a"
        l99 = f"{p99:.0f}" if mode == "plain" else "n/a"
        print(f"| {s} | {rate:,.0f} | {xr} | {cpu:.2f} | {xc} | {l50} | {l99} |")
print(f"\n## Idle TLS keep-alive connection ({idle} held open after one request)\n")
print("| server | bytes per connection | x best peer |")
print("|---|---:|---:|")
best_idle = min((med(idle_bytes[p]) for p in peers if idle_bytes.get(p)), default=None)
for s in servers:
    v = med(idle_bytes[s])
    print(f"| {s} | {v:,.0f} | {v / best_idle:.2f} |" if best_idle else f"| {s} | {v:,.0f} | - |")
if errors:
    print(f"\nWARNING: {errors:.0f} non-2xx responses during the runs")
PY
