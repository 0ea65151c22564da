// 003 siem-live-tail, the dashboard's live tail client, as documented.
const ws = new WebSocket('ws://127.0.0.1:8080/api/v1/ws');
ws.onmessage = (frame) => {
const msg = JSON.parse(frame.data);
switch (msg.type) {
case 'event': /* ... */ break;
case 'alert': /* ... */ break;
case 'status': /* ... */ break;
}
};
