// 000 audit-log, "Example Request (JavaScript)", as documented. In a browser the second argument's
// `headers` is ignored (EventSource takes only withCredentials); the ?token= authenticates.
const eventSource = new EventSource("/api/events?token=your-token", {
	headers: {
		Authorization: "Bearer your-token",
	},
});

eventSource.onmessage = (event) => {
	const data = JSON.parse(event.data);
	console.log("Event:", data);
};

eventSource.onerror = (error) => {
	console.error("SSE error:", error);
};
