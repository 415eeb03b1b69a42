#!/usr/bin/env bash
# Sustained intake measured from outside, as a user would: wrk (1 thread, 32
# connections, distinct unsigned group messages from benches/wrk/distinct.lua)
# against the release daemon on the shipped config with 100 more managed groups,
# `qunbot simulate` as the gateway, on a fresh database. Then it waits until the
# engine has handled every stored event and prints the log's size.
#
#   benches/wrk/run.sh            # 20 s
#   DURATION=60s benches/wrk/run.sh
#
# Needs wrk and sqlite3 (apt-get install wrk sqlite3). Loopback only: ports 18080/15700.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-20s}
cargo build --release --quiet
bin=$PWD/target/release/qunbot
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT

if curl -s http://127.0.0.1:18080/healthz > /dev/null; then
    echo "port 18080 is taken (a daemon left over from another run?)"; exit 1
fi
cp bot-config.toml sensitive-words.txt coupons-*.txt "$dir"/
# No secret (the load is unsigned), other ports, 100 more groups.
sed -i -e '/^secret = /d' -e 's/^listen = .*/listen = "127.0.0.1:18080"/' \
    -e 's#^api_url = .*#api_url = "http://127.0.0.1:15700"#' "$dir/bot-config.toml"
for g in $(seq 800000 800099); do
    printf '\n[[groups]]\nid = %d\nname = "压测群%d"\n' "$g" "$g" >> "$dir/bot-config.toml"
done
export QUNBOT_ACCESS_TOKEN=bench-token
"$bin" simulate --listen 127.0.0.1:15700 > "$dir/simulator.log" 2>&1 &
(cd "$dir" && RUST_LOG=warn exec "$bin" run --config bot-config.toml > "$dir/daemon.log" 2>&1) &
daemon=$!
for _ in $(seq 100); do
    curl -sf http://127.0.0.1:18080/healthz > /dev/null && break
    sleep 0.1
done
kill -0 "$daemon" || { echo "the daemon did not start:"; cat "$dir/daemon.log"; exit 1; }

echo "cores: $(nproc)"
wrk -t1 -c32 -d"$DURATION" -s benches/wrk/distinct.lua http://127.0.0.1:18080/onebot

db="$dir/qunbot.db"
for _ in $(seq 600); do
    left=$(sqlite3 "$db" "SELECT COUNT(*) FROM events WHERE handled = 0 AND direction = 'in'")
    [ "$left" = 0 ] && break
    sleep 0.1
done
echo "stored: $(sqlite3 "$db" "SELECT COUNT(*) FROM events WHERE direction = 'in'") inbound events, $(sqlite3 "$db" "SELECT COUNT(*) FROM events") rows, unhandled: $left, database $(du -m "$db" | cut -f1) MiB"
