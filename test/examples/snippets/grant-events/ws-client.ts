// 001 grant-events, "WebSocket Endpoint > TypeScript". The page leaves out the import; its `headers`
// option and `ws.on('message')` are the `ws` package's API, so the one added line imports it.
import WebSocket from 'ws';

const ws = new WebSocket('wss://api.grantex.dev/v1/events/ws', {
  headers: { Authorization: `Bearer ${process.env.GRANTEX_API_KEY}` },
});

ws.on('message', (raw) => {
  const event = JSON.parse(raw.toString());
  console.log(event.type, event.data);
});
