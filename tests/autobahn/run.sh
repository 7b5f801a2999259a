#!/usr/bin/env bash
# WebSocket conformance: runs the Autobahn test suite's fuzzing client
# against /ws-echo of a stadium-server started on loopback with --ws-echo.
# /ws-echo goes through the same upgrade settings as /ws (message and frame
# limits, write buffer), so the result speaks for /ws's WebSocket layer.
#
# The suite is Python 2.7 (pyenv's); a virtualenv with the pinned
# requirements.txt is made under target/autobahn on first use. Compression
# cases (12.*, 13.*) are excluded: the server offers no permessage-deflate.
# Prints the count per verdict and every case not OK, NON-STRICT or
# INFORMATIONAL; cases 9.* closed with 1009 at the configured message limit
# are listed apart. Exits 1 if any case fails otherwise.
#
# Usage: tests/autobahn/run.sh [PORT]    (default 9001)
set -euo pipefail
cd "$(dirname "$0")/../.."
port="${1:-9001}"
work="$PWD/target/autobahn"
mkdir -p "$work"

py27="${PYTHON27:-$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")/versions/2.7.18/bin/python}"
if [ ! -x "$work/venv/bin/wstest" ]; then
    "$py27" -m pip install --quiet --disable-pip-version-check --target "$work/bootstrap" \
        virtualenv==20.15.1
    PYTHONPATH="$work/bootstrap" "$py27" -m virtualenv -q "$work/venv"
    "$work/venv/bin/pip" install --quiet --disable-pip-version-check \
        -r tests/autobahn/requirements.txt
fi

cargo build --locked -p stadium-server
"${CARGO_TARGET_DIR:-target}/debug/stadium-server" --ws-echo --http-addr "127.0.0.1:$port" \
    --quic-addr 127.0.0.1:0 >"$work/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break
    sleep 0.1
done

cat >"$work/fuzzingclient.json" <<JSON
{
    "outdir": "$work/reports",
    "servers": [{"agent": "stadium", "url": "ws://127.0.0.1:$port/ws-echo"}],
    "cases": ["*"],
    "exclude-cases": ["12.*", "13.*"],
    "exclude-agent-cases": {}
}
JSON
rm -rf "$work/reports"
(cd "$work" && venv/bin/wstest -m fuzzingclient -s fuzzingclient.json >wstest.log 2>&1)

python3 - "$work/reports/index.json" "$work/reports" <<'PY'
import collections, json, os, sys
index = json.load(open(sys.argv[1]))["stadium"]
passing = {"OK", "NON-STRICT", "INFORMATIONAL"}
counts = collections.Counter()
limit_closes, failures = [], []
def key(case):
    return [int(part) for part in case.split(".")]
for case in sorted(index, key=key):
    result = index[case]
    verdict = result["behavior"]
    if verdict in passing:
        counts[verdict] += 1
        continue
    report = json.load(open(os.path.join(sys.argv[2], result["reportfile"])))
    close = report.get("remoteCloseCode")
    if case.startswith("9.") and close == 1009:
        counts["LIMIT (1009)"] += 1
        limit_closes.append(case)
    else:
        counts[verdict] += 1
        failures.append("%s %s (close %s)" % (case, verdict, close))
print("cases: %d" % len(index))
for verdict, n in sorted(counts.items()):
    print("  %-14s %d" % (verdict, n))
if limit_closes:
    print("closed with 1009 at the configured message limit: " + " ".join(limit_closes))
for failure in failures:
    print("FAILED " + failure)
sys.exit(1 if failures else 0)
PY
