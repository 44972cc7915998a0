// The node's event stream (server-sent events). EventSource reconnects by
// itself when the node goes away and comes back, sending Last-Event-ID so
// that nothing is missed; this module also tells the UI when it is
// reconnecting and when it resumed, so that screens can refresh.

import { get, AuthError } from './api.js';

export class Stream {
  constructor() {
    this.listeners = new Set();
    this.stateListeners = new Set();
    this.state = 'connecting';
    this.lastSeq = 0;
    this.es = null;
    this.retry = null;
    this.wasDown = false;
  }

  // start opens the stream after event seq (the node's event_seq when the
  // page read its lists): history is read through the API, the stream
  // brings what is new.
  start(seq) {
    this.lastSeq = seq || 0;
    this.open();
  }

  open() {
    clearTimeout(this.retry);
    if (this.es) this.es.close();
    // since= only matters for the first connection; EventSource's own
    // reconnections send Last-Event-ID, which takes precedence.
    const es = new EventSource('/v1/events?since=' + this.lastSeq);
    this.es = es;
    es.onopen = () => {
      const resumed = this.wasDown;
      this.wasDown = false;
      this.setState('live');
      if (resumed) this.emit({ type: 'resumed' });
    };
    es.onerror = () => {
      this.wasDown = true;
      if (es.readyState === EventSource.CLOSED) {
        // The node answered with an error (for example after losing our
        // session): EventSource gives up, so check why and try again later.
        this.setState('reconnecting');
        this.check();
      } else {
        this.setState('reconnecting');
      }
    };
    for (const type of ['message', 'dm', 'wallet', 'contact', 'profile', 'moment', 'moment_reaction', 'moment_deleted', 'list', 'event', 'rsvp', 'reminder']) {
      es.addEventListener(type, (e) => {
        let ev;
        try { ev = JSON.parse(e.data); } catch (err) { return; }
        if (ev.seq > this.lastSeq) this.lastSeq = ev.seq;
        this.emit(ev);
      });
    }
  }

  async check() {
    try {
      await get('/v1/node');
    } catch (e) {
      if (e instanceof AuthError) {
        this.setState('signed-out');
        return;
      }
    }
    this.retry = setTimeout(() => this.open(), 2000);
  }

  setState(s) {
    if (this.state === s) return;
    this.state = s;
    for (const f of this.stateListeners) f(s);
  }

  emit(ev) { for (const f of this.listeners) f(ev); }

  // on calls f with every event; it returns a function that stops it.
  on(f) { this.listeners.add(f); return () => this.listeners.delete(f); }
  onState(f) { this.stateListeners.add(f); return () => this.stateListeners.delete(f); }

  close() { clearTimeout(this.retry); if (this.es) this.es.close(); }
}
