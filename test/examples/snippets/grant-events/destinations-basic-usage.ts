// 001 grant-events, "@grantex/destinations Package > Basic Usage", as documented. The one change: the
// import specifier '@grantex/destinations' is 'specstream/destinations', which exports the same names.
import { EventSource, DatadogDestination, SplunkDestination } from 'specstream/destinations';

const source = new EventSource({
  url: 'https://api.grantex.dev',
  apiKey: process.env.GRANTEX_API_KEY!,
  types: ['grant.created', 'grant.revoked', 'token.issued'],
});

// Add one or more destinations
source.addDestination(new DatadogDestination({
  apiKey: process.env.DD_API_KEY!,
}));

source.addDestination(new SplunkDestination({
  hecUrl: 'https://splunk.example.com:8088',
  hecToken: process.env.SPLUNK_HEC_TOKEN!,
}));

// Start streaming — runs until you call stop()
await source.start();
