# Shared by run.sh and tls.sh (sourced): tools, the pipelining script,
# starting a server the example way, and wrk's numbers as one row.

# Installs the named commands from Debian when missing.
need_tools() {
    local missing=()
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing ${missing[*]}" >&2
        local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
        $sudo apt-get update -qq && $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# Writes a wrk script sending 16 requests per write for the path given
# after `--` (default /plaintext).
write_pipeline_script() {
    cat > "$1" <<'LUA'
init = function(args)
  local path = args[1] or "/plaintext"
  local r = {}
  for i = 1, 16 do r[i] = wrk.format(nil, path) end
  req = table.concat(r)
end
request = function() return req end
LUA
}

# User and system CPU ticks a process used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# Starts `$1/$2` on any free port, pinned to SERVER_CPU, its output in
# `$3/$2.out`; sets `pid` and `url` (from its `listening on` line).
start_server() {
    PORT=0 taskset -c "$SERVER_CPU" "$1/$2" > "$3/$2.out" 2>/dev/null &
    pid=$!
    for _ in $(seq 1 100); do
        grep -q "listening on" "$3/$2.out" 2>/dev/null && break
        sleep 0.05
    done
    url="$(sed -n 's/^listening on //p' "$3/$2.out")"
    [ -n "$url" ] || { echo "$2 did not start" >&2; return 1; }
}

# One wrk run's numbers, tab-separated: req/s, p50 µs, p99 µs, server CPU
# µs per request (from `$2` ticks) and non-2xx responses.
wrk_row() {
    python3 - "$1" "$2" "$(getconf CLK_TCK)" <<'PY'
import re, sys
out, cpu, ticks = sys.argv[1:]
text = open(out).read()
def dur(v):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", v)
    if not m:
        return 0.0  # wrk prints odd values for empty histograms
    return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6, "m": 6e7}[m.group(2)]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
total = int(re.search(r"(\d+) requests in", text).group(1))
def percentile(p):
    # The distribution's own lines: "+/- Stdev" columns also end in "50%".
    m = re.search(r"(?m)^\s+" + p + r"%\s+(\S+)", text)
    return dur(m.group(1)) if m else 0.0
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
cpu_us = int(cpu) / int(ticks) * 1e6 / max(total, 1)
print("\t".join(map(str, [rps, percentile("50"), percentile("99"), cpu_us, errors.group(1) if errors else 0])))
PY
}
