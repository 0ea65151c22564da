# 000 audit-log, "Authentication": the curl with the token in the Authorization header (as documented).
# Using header
curl -H "Authorization: Bearer your-token" \
  http://localhost:3100/api/events
