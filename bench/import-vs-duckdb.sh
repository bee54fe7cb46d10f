#!/usr/bin/env bash
# Benchmark: import a generic orders CSV of ~10 million lines with guanxi, then load the
# same file with DuckDB's read_csv, in one run; prints time and peak RSS of each.
#
#   bench/import-vs-duckdb.sh [CUSTOMERS] [WORKDIR]
#
# 805,000 demo customers give about 10.08 million order lines. Needs a release build
# (cargo build --release) and `pip install duckdb` for the comparison.
set -euo pipefail
customers=${1:-805000}
work=${2:-/var/tmp/guanxi-bench}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${GUANXI_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/guanxi}
mkdir -p "$work"
cd "$work"
if [ ! -f "csv-$customers/orders.csv" ]; then
  "$bin" demo --customers "$customers" --export-csv "csv-$customers" --json >/dev/null
fi
file="csv-$customers/orders.csv"
echo "file: $file, $(($(wc -l <"$file") - 1)) order lines, $(du -h "$file" | cut -f1)"

measure() { # name, command…
  local name=$1; shift
  /usr/bin/time -v "$@" >"$name.out" 2>"$name.time"
  local wall rss
  wall=$(grep "Elapsed (wall clock)" "$name.time" | awk '{print $NF}')
  rss=$(grep "Maximum resident set size" "$name.time" | awk '{print $NF}')
  printf '%-28s wall %10s   peak RSS %8.1f MiB\n' "$name" "$wall" "$(echo "$rss / 1024" | bc -l)"
}

rm -rf bench.db bench.db-wal bench.db-shm bench.lake
measure "guanxi import (SQLite)" "$bin" --db bench.db import orders --source demo "$file" --json
grep -E '"(orders_inserted|order_lines_total|customers_total)"' "guanxi import (SQLite).out" | tr -d ' ,' | paste -sd' '
measure "guanxi re-import (no-op)" "$bin" --db bench.db import orders --source demo "$file" --json
if python3 -c 'import duckdb' 2>/dev/null; then
  rm -f bench.duckdb
  measure "duckdb read_csv" python3 -c "
import duckdb, sys
con = duckdb.connect('bench.duckdb')
con.execute('SET enable_progress_bar = false')
con.execute(\"CREATE TABLE order_lines AS SELECT * FROM read_csv('$file')\")
print(con.execute('SELECT count(*) FROM order_lines').fetchone()[0], 'rows', 'duckdb', duckdb.__version__)"
  cat "duckdb read_csv.out"
else
  echo "duckdb: not installed (pip install duckdb)"
fi
