// 000 audit-log, "Browser Support", as documented. Its listener is registered for the event name
// audit_log_created, but the page's "Event Format" section sends unnamed events (only data:), which
// this bundle follows: this listener receives nothing (test/examples/audit-log.test.ts shows it).
const eventSource = new EventSource("/api/events?token=your-token");

eventSource.addEventListener("audit_log_created", (event) => {
	const data = JSON.parse(event.data);
	// Handle event
});
