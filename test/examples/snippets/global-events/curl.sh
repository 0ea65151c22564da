# 004 global-events, "Server Sent Events > Example > Request", as documented.
curl "http://localhost:8080/v1/events"
