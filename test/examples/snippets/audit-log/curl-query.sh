# 000 audit-log, "Authentication": the curl with the token as a query parameter (as documented).
# Using query parameter
curl "http://localhost:3100/api/events?token=your-token"
