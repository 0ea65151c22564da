// 001 grant-events, "@grantex/destinations Package > Custom Destinations", as documented. The one
// change: the import specifier '@grantex/destinations' is 'specstream/destinations'.
import type { EventDestination, GrantexEvent } from 'specstream/destinations';

class MyDestination implements EventDestination {
  readonly name = 'my-destination';

  async send(events: GrantexEvent[]): Promise<void> {
    for (const event of events) {
      // Forward to your system
    }
  }

  async flush(): Promise<void> {
    // Flush any buffered events
  }

  async close(): Promise<void> {
    // Clean up resources
  }
}
