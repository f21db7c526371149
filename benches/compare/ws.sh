#!/usr/bin/env bash
# WebSocket echo side by side: Turnstile's framework (`WebSocketUpgrade`),
# axum's WebSocket (tokio-tungstenite) and actix-ws, one worker each.
#
#   bash benches/compare/ws.sh                    # 5 s runs, 10,000 idle sockets
#   DURATION=3 ROUNDS=2 IDLE=2000 bash benches/compare/ws.sh
#
# For each server and message size (SIZES, default "64 16384"): echo round
# trips per second over CONNECTIONS (64) sockets with one message in flight
# each, and the server's CPU per round trip; then the server's memory per
# idle WebSocket (RSS growth with IDLE open sockets, divided by IDLE).
# Ratios are against the best peer in the same run. Server pinned to
# SERVER_CPU, load to LOAD_CPU; loopback only; every run is bounded.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
. ./lib.sh

SERVERS="${SERVERS:-turnstile-ws axum-ws actix-ws}"
SIZES="${SIZES:-64 16384}"
DURATION="${DURATION:-5}"
ROUNDS="${ROUNDS:-3}"
CONNECTIONS="${CONNECTIONS:-64}"
IDLE="${IDLE:-10000}"
SERVER_CPU="${SERVER_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
need_tools python3 taskset
ulimit -n "$(ulimit -Hn)"
cargo build --release --quiet --bins
bin="$here/target/release"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
ticks_per_s="$(getconf CLK_TCK)"

# Lines "server size round_trips_per_s cpu_us_per_round_trip" (best round).
: > "$work/echo"
for server in $SERVERS; do
    for size in $SIZES; do
        best_rate=0; best_cpu=0
        for _ in $(seq 1 "$ROUNDS"); do
            start_server "$bin" "$server" "$work"
            port="${url##*:}"
            # Warm up, then measure.
            PORT="$port" SIZE="$size" DURATION=1 CONNECTIONS="$CONNECTIONS" \
                taskset -c "$LOAD_CPU" "$bin/ws-load" > /dev/null
            before="$(cpu_ticks "$pid")"
            out="$(PORT="$port" SIZE="$size" DURATION="$DURATION" CONNECTIONS="$CONNECTIONS" \
                taskset -c "$LOAD_CPU" "$bin/ws-load")"
            after="$(cpu_ticks "$pid")"
            kill "$pid"; wait "$pid" 2>/dev/null || true
            read -r rate cpu < <(python3 -c '
import sys
words = sys.argv[1].split()
trips, seconds = int(words[1]), float(words[3])
ticks, per_s = int(sys.argv[2]), int(sys.argv[3])
print(trips / seconds, ticks / per_s * 1e6 / max(trips, 1))
' "$out" "$((after - before))" "$ticks_per_s")
            if python3 -c "import sys; sys.exit(not float(sys.argv[1]) > float(sys.argv[2]))" "$rate" "$best_rate"; then
                best_rate="$rate"; best_cpu="$cpu"
            fi
        done
        echo "$server $size $best_rate $best_cpu" >> "$work/echo"
    done
done

# Idle sockets: RSS growth per open, handshaken, silent WebSocket.
: > "$work/idle"
for server in $SERVERS; do
    start_server "$bin" "$server" "$work"
    port="${url##*:}"
    sleep 0.2
    python3 - "$port" "$IDLE" "$pid" "$server" >> "$work/idle" <<'PY'
import resource, socket, sys, time
port, count, pid, name = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
def rss():
    return int([l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0].split()[1])
handshake = (f"GET /ws/echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             "Sec-WebSocket-Version: 13\r\n\r\n").encode()
before = rss()
sockets = []
for _ in range(count):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(handshake)
    sockets.append(s)
for s in sockets:
    s.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            sys.exit("a socket closed during its handshake")
        data += chunk
    if not data.startswith(b"HTTP/1.1 101"):
        sys.exit(f"not upgraded: {data[:40]!r}")
time.sleep(1)
print(name, (rss() - before) * 1024 / count)
for s in sockets:
    s.close()
PY
    kill "$pid"; wait "$pid" 2>/dev/null || true
done

python3 - "$work/echo" "$work/idle" "$CONNECTIONS" "$IDLE" <<'PY'
import sys
echo = [l.split() for l in open(sys.argv[1])]
idle = dict((l.split()[0], float(l.split()[1])) for l in open(sys.argv[2]))
connections, count = sys.argv[3], sys.argv[4]
sizes = sorted({int(s) for _, s, _, _ in echo})
print(f"| server | message | round trips/s | vs best peer | server CPU µs per round trip | vs best peer |")
print("|---|---:|---:|---:|---:|---:|")
for size in sizes:
    rows = [(n, float(r), float(c)) for n, s, r, c in echo if int(s) == size]
    peers = [r for r in rows if not r[0].startswith("turnstile")] or rows
    best_rate = max(r for _, r, _ in peers)
    best_cpu = min(c for _, _, c in peers)
    for name, rate, cpu in rows:
        print(f"| {name} | {size} B | {rate:,.0f} | {rate / best_rate:.2f}x | {cpu:.2f} | {cpu / best_cpu:.2f}x |")
print()
print(f"| server | bytes per idle WebSocket ({count} open) | vs best peer |")
print("|---|---:|---:|")
peers = [v for k, v in idle.items() if not k.startswith("turnstile")] or list(idle.values())
best = min(peers)
for name, value in idle.items():
    print(f"| {name} | {value:,.0f} | {value / best:.2f}x |")
print(f"\n{connections} connections, one message in flight each.")
PY
