#!/usr/bin/env bash
# Memory per idle keep-alive connection: each server answers one request on
# each of CONNECTIONS connections, which then stay open and idle; the
# server's RSS growth divided by the count is its cost per connection.
#
#   bash benches/compare/idle.sh                # 10,000 connections
#   CONNECTIONS=2000 SERVERS="turnstile-raw hyper" bash benches/compare/idle.sh
#
# Loopback only; the script raises its file-descriptor limit as far as the
# hard limit allows.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

CONNECTIONS="${CONNECTIONS:-10000}"
SERVERS="${SERVERS:-floor turnstile-raw turnstile-app hyper axum actix}"
ulimit -n "$(ulimit -Hn)"
cargo build --release --quiet
bin="$here/target/release"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

printf '| server | RSS before (KiB) | RSS with %s idle (KiB) | bytes per connection |\n' "$CONNECTIONS"
printf '|---|---:|---:|---:|\n'
for server in $SERVERS; do
    PORT=0 "$bin/$server" > "$work/$server.out" 2>/dev/null &
    pid=$!
    for _ in $(seq 1 100); do
        grep -q "listening on" "$work/$server.out" 2>/dev/null && break
        sleep 0.05
    done
    port="$(sed -n 's/^listening on http:\/\/127.0.0.1://p' "$work/$server.out")"
    sleep 0.2
    before="$(rss_kib "$pid")"
    python3 - "$port" "$CONNECTIONS" "$pid" > "$work/after" <<'PY'
import resource, socket, sys, time
port, count, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
request = b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"
sockets = []
for _ in range(count):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(request)
    sockets.append(s)
for s in sockets:
    s.settimeout(10)
    data = b""
    while b"Hello, World!" not in data:
        chunk = s.recv(4096)
        if not chunk:
            sys.exit(f"connection closed early ({len(sockets)} open)")
        data += chunk
time.sleep(1)
rss = [l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0].split()[1]
print(rss)
for s in sockets:
    s.close()
PY
    after="$(cat "$work/after")"
    per=$(( (after - before) * 1024 / CONNECTIONS ))
    printf '| %s | %s | %s | %s |\n' "$server" "$before" "$after" "$per"
    kill "$pid"; wait "$pid" 2>/dev/null || true
done
