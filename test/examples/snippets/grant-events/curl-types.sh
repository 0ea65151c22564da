# 001 grant-events, "SSE Endpoint > curl", the types filter, as documented.
curl -N -H "Authorization: Bearer $GRANTEX_API_KEY" \
  "https://api.grantex.dev/v1/events/stream?types=grant.created,grant.revoked"
