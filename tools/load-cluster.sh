#!/usr/bin/env bash
# Load test from outside over mutual TLS with oha (issue 11 item 5):
# submissions in batches of 1,000 unique domains, then 304 answers on domains.txt.
#
#   tools/load-cluster.sh sled      # one node, embedded store
#   tools/load-cluster.sh pg1       # one node on a throwaway PostgreSQL
#   tools/load-cluster.sh pg2       # two nodes on one PostgreSQL, load split between them
#
# Environment: TAMIS (binary, default target/release/tamis or $CARGO_TARGET_DIR/release/tamis),
# BATCHES (submissions of 1,000 indicators, default 200), CONC (concurrent submitters per node,
# default 4), SECS (seconds of 304 load, default 10). Needs oha (`cargo install oha --locked`),
# curl, python3, and for pg* Debian's postgresql (run as root: the cluster runs as `postgres`).
# Prints one line per figure. oha, the nodes and PostgreSQL share this machine's cores.
set -euo pipefail
mode=${1:?usage: tools/load-cluster.sh sled|pg1|pg2}
BATCHES=${BATCHES:-200}
CONC=${CONC:-4}
SECS=${SECS:-10}
TAMIS=${TAMIS:-${CARGO_TARGET_DIR:-target}/release/tamis}
[ -x "$TAMIS" ] || { echo "no tamis binary at $TAMIS (cargo build --release --locked)"; exit 2; }
command -v oha >/dev/null || { echo "oha is not installed (cargo install oha --locked)"; exit 2; }

work=$(mktemp -d /tmp/tamis-load.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${PGBIN:-}" ]; then runuser -u postgres -- "$PGBIN/pg_ctl" -D "$work/pg/data" -m fast -w stop >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

"$TAMIS" init "$work/a" >/dev/null
# Limits out of the way: this measures the exchange, not its quotas.
sed -i -e 's/^submissions_per_minute = .*/submissions_per_minute = 100000000/' \
       -e 's/^indicators_per_minute = .*/indicators_per_minute = 1000000000/' \
       -e 's/^body_bytes_per_minute = .*/body_bytes_per_minute = 100000000000/' \
       -e 's/^reads_per_minute = .*/reads_per_minute = 100000000/' "$work/a/tamis.toml"

if [ "$mode" != sled ]; then
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  pgport=$(free_port)
  mkdir -p "$work/pg" && chown postgres "$work/pg"
  runuser -u postgres -- "$PGBIN/initdb" -D "$work/pg/data" -U postgres --auth=trust -E UTF8 >/dev/null
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" \
    -o "-p $pgport -k $work/pg -c listen_addresses=127.0.0.1" -w start >/dev/null
  runuser -u postgres -- "$PGBIN/createdb" -h 127.0.0.1 -p "$pgport" -U postgres tamis
  printf '\n[store]\nbackend = "postgres"\nurl = "postgresql://postgres@127.0.0.1:%s/tamis"\n' "$pgport" >> "$work/a/tamis.toml"
fi
nodes=(a)
if [ "$mode" = pg2 ]; then
  cp -r "$work/a" "$work/b" && rm -rf "$work/b/data" "$work/b/audit"
  nodes=(a b)
fi
declare -A port
for n in "${nodes[@]}"; do
  port[$n]=$(free_port)
  RUST_LOG=warn "$TAMIS" serve --config "$work/$n/tamis.toml" --listen "127.0.0.1:${port[$n]}" \
    --admin-listen "127.0.0.1:$(free_port)" > "$work/$n.log" 2>&1 &
  pids+=($!)
done
certs=$work/a/certs
for n in "${nodes[@]}"; do
  for _ in $(seq 100); do
    curl -s --cacert "$certs/ca.pem" --cert "$certs/bank-a.pem" --key "$certs/bank-a.key" \
      "https://localhost:${port[$n]}/v1/whoami" >/dev/null && break
    sleep 0.2
  done
done

# One line per submission: 1,000 unique domains (a public suffix the policy knows).
per=$(( BATCHES / ${#nodes[@]} ))
for n in "${nodes[@]}"; do
  python3 - "$n" "$per" > "$work/$n.bodies" <<'PY'
import json, sys
node, n = sys.argv[1], int(sys.argv[2])
for b in range(n):
    print(json.dumps({"indicators": [{"type": "domain", "value": f"l{b}x{i}-{node}.load-test.top",
        "category": "phishing", "tlp": "green", "confidence": 80} for i in range(1000)]}))
PY
done

oha_mtls() { oha --no-tui --cacert "$certs/ca.pem" --cert "$certs/$1.pem" --key "$certs/$1.key" "${@:2}"; }
rate() {
  python3 - "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
s, c, p = d["summary"], d.get("statusCodeDistribution", {}), d.get("latencyPercentiles", {})
p99 = (p.get("p99") or 0) * 1000
print(f"{s['requestsPerSec']:.1f} req/s, {s['successRate'] * 100:.1f}% ok, statuses {c}, p99 {p99:.1f} ms")
PY
}

start=$(date +%s.%N)
for n in "${nodes[@]}"; do
  oha_mtls bank-a --output-format json -n "$per" -c "$CONC" --http2 -m POST -H 'content-type: application/json' \
    -Z "$work/$n.bodies" "https://localhost:${port[$n]}/v1/submissions" > "$work/$n.submit.json" &
done
wait_oha() { while pgrep -f "oha --no-tui" >/dev/null; do sleep 0.2; done; }
wait_oha
end=$(date +%s.%N)
total=$(( per * ${#nodes[@]} * 1000 ))
python3 -c "import sys; t=float(sys.argv[2])-float(sys.argv[1]); print(f'$mode submissions: {int(sys.argv[3])} indicators in {t:.2f} s = {int(sys.argv[3])/t:,.0f} indicators/s (load avg $(cut -d" " -f1 /proc/loadavg))')" "$start" "$end" "$total"
for n in "${nodes[@]}"; do echo "  node $n: $(rate "$work/$n.submit.json")"; done

# Wait until each node's blocklist stops changing (oha -Z picks body lines at random, so some
# batches repeat: the unique count is printed), then 304s.
for n in "${nodes[@]}"; do
  prev=-1
  for _ in $(seq 300); do
    etag=$(curl -s -D - -o /dev/null --cacert "$certs/ca.pem" --cert "$certs/isp-a.pem" --key "$certs/isp-a.key" \
      "https://localhost:${port[$n]}/v1/blocklists/domains.txt" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')
    count=$(curl -s --cacert "$certs/ca.pem" --cert "$certs/isp-a.pem" --key "$certs/isp-a.key" \
      "https://localhost:${port[$n]}/v1/blocklists/domains.txt" | grep -c 'load-test.top' || true)
    [ "$count" -ge "$total" ] && break
    [ "$count" -gt 0 ] && [ "$count" = "$prev" ] && break
    prev=$count
    sleep 1
  done
  echo "  node $n: domains.txt has $count load-test domains, ETag $etag"
  echo "$etag" > "$work/$n.etag"
done
for n in "${nodes[@]}"; do
  oha_mtls isp-a --output-format json -z "${SECS}s" -c 64 --http2 -H "If-None-Match: $(cat "$work/$n.etag")" \
    "https://localhost:${port[$n]}/v1/blocklists/domains.txt" > "$work/$n.304.json" &
done
wait_oha
sum=0
for n in "${nodes[@]}"; do
  echo "$mode 304 node $n: $(rate "$work/$n.304.json")"
done
for n in "${nodes[@]}"; do
  echo "  node $n RSS: $(ps -o rss= -p "${pids[$(( $(printf '%s\n' "${nodes[@]}" | grep -n "^$n$" | cut -d: -f1) - 1 ))]}") KiB"
done
