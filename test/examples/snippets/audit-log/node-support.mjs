// 000 audit-log, "Node.js Support". One change the current package forces: eventsource v4 has no
// default export, so `import EventSource from "eventsource"` becomes the named import below.
import { EventSource } from "eventsource";

const eventSource = new EventSource(
	"http://localhost:3100/api/events?token=your-token"
);

eventSource.onmessage = (event) => {
	const data = JSON.parse(event.data);
	// Handle event
};
