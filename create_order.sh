#!/usr/bin/env bash
# The seed project's example order, on this project's port (4000; HTTP_PORT or ORDER_API_URL changes it).
# Prints the answer, then the trace's Grafana link (built by scripts/endpoints.ts, once `npm start` built it).
set -euo pipefail
cd "$(dirname "$0")"
api="${ORDER_API_URL:-http://localhost:${HTTP_PORT:-4000}}"
response=$(curl -sS -H "Content-Type: application/json" "${api%/}/api/order" -d '{
  "user_id": "123",
  "items": [{
    "item_id": "sku001", "quantity": 1
  }],
  "amount": "49.99",
  "payment_method": "credit_card",
  "shipping_address": "10 Main Street, CA"
}')
echo "$response"
trace_id=$(printf '%s' "$response" | sed -n 's/.*"trace_id":"\([0-9a-f]\{32\}\)".*/\1/p')
if [ -n "$trace_id" ] && [ -f dist/scripts/endpoints.js ]; then
  echo "Trace in Grafana: $(node dist/scripts/endpoints.js trace "$trace_id")"
fi
