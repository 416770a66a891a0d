#!/usr/bin/env bash
# The seed project's example order, on this project's port (4000; HTTP_PORT changes it).
curl -sS -H "Content-Type: application/json" \
  "http://localhost:${HTTP_PORT:-4000}/api/order" -d '{
  "user_id": "123",
  "items": [{
    "item_id": "sku001", "quantity": 1
  }],
  "amount": "49.99",
  "payment_method": "credit_card",
  "shipping_address": "10 Main Street, CA"
}'
echo
