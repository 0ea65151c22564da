import { EVENT_TYPES } from '../generated/catalog.js';

/** The console's HTML: a token form, a type filter, pause, the disconnected banner and the event list. */
export function renderConsole(): string {
  const options = EVENT_TYPES.map((type) => `<option value="${type}">${type}</option>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Specstream live console</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;background:#0f1420;color:#e6e9ef}
header{display:flex;gap:12px;align-items:center;padding:12px 20px;background:#161d2e;border-bottom:1px solid #263049;flex-wrap:wrap}
header strong{font-size:16px;margin-right:8px}input,select,button{font:inherit;padding:5px 9px;border-radius:5px;border:1px solid #34405c;background:#0f1420;color:#e6e9ef}
button{cursor:pointer;background:#2a4a8c;border-color:#2a4a8c}#banner{background:#c62828;color:#fff;padding:10px 20px;font-weight:600}
#status{padding:2px 8px;border-radius:4px;background:#263049}body[data-state=open] #status{background:#1b5e20}
ol{list-style:none;margin:0;padding:0 20px}li.event{display:grid;grid-template-columns:210px 200px 290px 160px 1fr;gap:10px;padding:5px 0;border-bottom:1px solid #1d2538;font:12.5px ui-monospace,Menlo,Consolas,monospace}
li.event .type{color:#7dd3fc}li.event .id{color:#8b93a7}li.event .data{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
a{color:#9ecbff}
</style></head><body data-state="idle">
<header><strong>Specstream live console</strong>
<form id="connect-form"><input id="token" type="password" placeholder="API key (events:read)" autocomplete="off" aria-label="API token" required>
<select id="transport" aria-label="Transport"><option value="sse">SSE</option><option value="ws">WebSocket</option></select>
<button type="submit" id="connect">Connect</button></form>
<label>Type <select id="type-filter"><option value="">all types</option>${options}</select></label>
<button type="button" id="pause" aria-pressed="false">Pause</button>
<span id="status">not connected</span><span id="count"></span><a href="/docs">Docs</a></header>
<div id="banner" role="alert" hidden>Disconnected — reconnecting</div>
<ol id="events" aria-live="polite"></ol>
<script type="module" src="/console/console.js"></script>
</body></html>`;
}
