# 001 grant-events, "SSE Endpoint > curl", as documented.
curl -N -H "Authorization: Bearer $GRANTEX_API_KEY" \
  "https://api.grantex.dev/v1/events/stream"
