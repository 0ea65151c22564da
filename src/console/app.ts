/**
 * The live console's browser script (bundled by esbuild, see bundle.ts; the SDK import becomes
 * `./sdk.js`). Asks for a token, connects with the SDK, lists events as they arrive, filters by
 * type, pauses, and shows a red banner while the connection is down.
 */
import { connect, type SpecstreamEvent, type Subscription } from '../client/index.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const form = $<HTMLFormElement>('connect-form');
const tokenInput = $<HTMLInputElement>('token');
const transportSelect = $<HTMLSelectElement>('transport');
const filterSelect = $<HTMLSelectElement>('type-filter');
const pauseButton = $<HTMLButtonElement>('pause');
const banner = $<HTMLDivElement>('banner');
const statusText = $<HTMLSpanElement>('status');
const list = $<HTMLOListElement>('events');
const countText = $<HTMLSpanElement>('count');

let subscription: Subscription | undefined;
let paused = false;
let held: SpecstreamEvent[] = [];
let received = 0;

tokenInput.value = sessionStorage.getItem('specstream.token') ?? '';

function matchesFilter(type: string): boolean {
  const filter = filterSelect.value;
  return filter === '' || type === filter;
}

function render(event: SpecstreamEvent): void {
  const row = document.createElement('li');
  row.className = 'event';
  row.dataset.id = event.id;
  row.dataset.type = event.type;
  row.hidden = !matchesFilter(event.type);
  const cells: [string, string][] = [
    ['time', event.time],
    ['type', event.type],
    ['id', event.id],
    ['subject', event.subject ?? ''],
    ['data', JSON.stringify(event.data)],
  ];
  for (const [name, text] of cells) {
    const cell = document.createElement('span');
    cell.className = name;
    cell.textContent = text;
    row.append(cell);
  }
  list.prepend(row);
}

function updateCount(): void {
  countText.textContent = `${received} received${held.length ? `, ${held.length} held while paused` : ''}`;
}

async function start(token: string): Promise<void> {
  subscription?.close();
  sessionStorage.setItem('specstream.token', token);
  const current = connect({ url: location.origin, token, transport: transportSelect.value === 'ws' ? 'ws' : 'sse' });
  subscription = current;
  current.on('state', (change) => {
    statusText.textContent = change.state;
    document.body.dataset.state = change.state;
    banner.hidden = change.state !== 'reconnecting';
  });
  try {
    for await (const event of current) {
      received++;
      if (paused) held.push(event);
      else render(event);
      updateCount();
    }
  } catch (error) {
    statusText.textContent = `error: ${(error as Error).message}`;
    document.body.dataset.state = 'error';
  }
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  if (tokenInput.value.trim() !== '') void start(tokenInput.value.trim());
});

filterSelect.addEventListener('change', () => {
  for (const row of Array.from(list.querySelectorAll<HTMLLIElement>('li.event'))) row.hidden = !matchesFilter(row.dataset.type ?? '');
});

pauseButton.addEventListener('click', () => {
  paused = !paused;
  pauseButton.textContent = paused ? 'Resume' : 'Pause';
  pauseButton.setAttribute('aria-pressed', String(paused));
  if (!paused) {
    for (const event of held) render(event);
    held = [];
    updateCount();
  }
});
