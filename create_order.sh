#!/usr/bin/env bash
# The seed project's example order, on this project's port (HTTP_PORT or ORDER_API_URL changes it). The order
# and the default port are read from functions/shared/config/local-defaults.json, where everything else reads them.
# Prints the answer, then the trace's Grafana link (built by scripts/lib/endpoints.ts, once `npm start` built it).
set -euo pipefail
cd "$(dirname "$0")"
defaults=functions/shared/config/local-defaults.json
port="${HTTP_PORT:-$(node -p "require('./${defaults}').httpPort")}"
api="${ORDER_API_URL:-http://localhost:${port}}"
order="$(node -p "JSON.stringify(require('./${defaults}').seedOrder)")"
response=$(curl -sS -H "Content-Type: application/json" "${api%/}/api/order" -d "${order}")
echo "$response"
trace_id=$(printf '%s' "$response" | sed -n 's/.*"trace_id":"\([0-9a-f]\{32\}\)".*/\1/p')
if [ -n "$trace_id" ] && [ -f dist/scripts/lib/endpoints.js ]; then
  echo "Trace in Grafana: $(node dist/scripts/lib/endpoints.js trace "$trace_id")"
fi
