# 002 admin-actions has no client code: its "Try It!" panel (Credentials: Basic, base64 of user:password)
# sends this request. The test fills in the server, the query and the credentials.
curl --silent --show-error --fail-with-body --request GET \
  --url 'https://api.example.com/v2/events/admin-actions?QUERY' \
  --header 'accept: text/event-stream' \
  --header 'authorization: Basic BASE64'
