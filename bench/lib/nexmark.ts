// A Nexmark-style event generator: persons, auctions and bids in the
// proportions of the Nexmark benchmark (1 : 3 : 46), as JSON records with
// event times advancing at a fixed simulated rate. Deterministic for a seed.

export interface Bid { auction: number; bidder: number; price: number; channel: string; url: string; dateTime: string; extra: string }
export interface Auction { id: number; itemName: string; description: string; initialBid: number; reserve: number; dateTime: string; expires: string; seller: number; category: number; extra: string }
export interface Person { id: number; name: string; emailAddress: string; creditCard: string; city: string; state: string; dateTime: string; extra: string }

export type NexmarkEvent = { type: 'bid'; bid: Bid } | { type: 'auction'; auction: Auction } | { type: 'person'; person: Person };

const CHANNELS = ['Google', 'Facebook', 'Baidu', 'Apple'];
const CITIES = ['Phoenix', 'Los Angeles', 'San Francisco', 'Boise', 'Portland', 'Bend', 'Redmond', 'Seattle', 'Kent', 'Cheyenne'];
const STATES = ['AZ', 'CA', 'ID', 'OR', 'WA', 'WY'];

export class Nexmark {
  private s: number;
  private n = 0;
  private nextPerson = 1000;
  private nextAuction = 1000;

  constructor(seed: number, readonly startMs: number, readonly eventsPerSecond: number, readonly bidderKeys = 0) {
    this.s = seed >>> 0;
  }

  private rnd(): number {
    this.s = (this.s * 1664525 + 1013904223) >>> 0;
    return this.s / 2 ** 32;
  }

  /** Event time of the next event (ms). */
  get timeMs(): number {
    return this.startMs + Math.floor((this.n * 1000) / this.eventsPerSecond);
  }

  next(): NexmarkEvent {
    const t = new Date(this.timeMs).toISOString();
    const k = this.n++ % 50;
    if (k === 0) {
      const id = this.nextPerson++;
      return { type: 'person', person: { id, name: `p${id}`, emailAddress: `p${id}@example.com`, creditCard: String(1e15 + id), city: CITIES[id % CITIES.length]!, state: STATES[id % STATES.length]!, dateTime: t, extra: '' } };
    }
    if (k <= 3) {
      const id = this.nextAuction++;
      const initialBid = 1 + Math.floor(this.rnd() * 100);
      return { type: 'auction', auction: { id, itemName: `item${id}`, description: 'd', initialBid, reserve: initialBid * 2, dateTime: t, expires: new Date(this.timeMs + 10_000).toISOString(), seller: 1000 + Math.floor(this.rnd() * (this.nextPerson - 1000)), category: 10 + (id % 5), extra: '' } };
    }
    // Bids go mostly to recent auctions (hot items), as Nexmark's generator does.
    const hot = this.rnd() < 0.9;
    const auction = hot ? this.nextAuction - 1 - Math.floor(this.rnd() * 10) : 1000 + Math.floor(this.rnd() * (this.nextAuction - 1000));
    const bidder = this.bidderKeys > 0 ? Math.floor(this.rnd() * this.bidderKeys) : 1000 + Math.floor(this.rnd() * (this.nextPerson - 1000 + 1));
    return { type: 'bid', bid: { auction, bidder, price: 100 + Math.floor(this.rnd() * 10_000_000) / 100, channel: CHANNELS[Math.floor(this.rnd() * 4)]!, url: 'https://www.nexmark.com/item.htm?query=1', dateTime: t, extra: '' } };
  }
}

/** Nexmark's event types, as its generator numbers them. */
export const EVENT_TYPE = { person: 0, auction: 1, bid: 2 } as const;

/**
 * An event as a stream record, in the shape of Nexmark's own source row
 * (`event_type` plus one of `person`, `auction`, `bid`) with the event's time
 * at the top as `dateTime`, so one column mapping gives every event its time.
 * The partition key is the auction for bids and auctions, the person for persons.
 */
export function nexmarkRecord(e: NexmarkEvent): { partitionKey: string; json: string } {
  if (e.type === 'bid') return { partitionKey: String(e.bid.auction), json: JSON.stringify({ event_type: EVENT_TYPE.bid, dateTime: e.bid.dateTime, bid: e.bid }) };
  if (e.type === 'auction') return { partitionKey: String(e.auction.id), json: JSON.stringify({ event_type: EVENT_TYPE.auction, dateTime: e.auction.dateTime, auction: e.auction }) };
  return { partitionKey: String(e.person.id), json: JSON.stringify({ event_type: EVENT_TYPE.person, dateTime: e.person.dateTime, person: e.person }) };
}
