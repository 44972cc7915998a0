// A windowed list: only the rows in view (and a few around them) are in the
// DOM, so a conversation of 10,000 messages scrolls as fast as one of ten.
// Rows may have any height: each is measured once rendered, and rows not
// yet seen count as an estimate. The list keeps the row under the top of
// the view in place when rows are added above (older pages) or measured,
// and follows the newest row while the view is at the bottom.
import { html, useState, useRef, useMemo, useLayoutEffect, useEffect } from './lib.js';
import { offsetsOf, rowAt, visibleRange } from './util.js';

export function VList({ items, keyOf, renderRow, estimate = 72, onNearTop, label, id, follow = 0 }) {
  const scroller = useRef(null);
  const heights = useRef(new Map());
  const [tick, setTick] = useState(0);
  const [view, setView] = useState({ top: 0, height: 0 });
  const stick = useRef(true);
  const anchor = useRef(null);
  const frame = useRef(0);

  // follow changes when the reader sends something: show the newest again.
  useEffect(() => { if (follow) { stick.current = true; setTick((t) => t + 1); } }, [follow]);

  const index = useMemo(() => {
    const m = new Map();
    items.forEach((it, i) => m.set(keyOf(it), i));
    return m;
  }, [items]);
  const offsets = useMemo(
    () => offsetsOf(items.map((it) => heights.current.get(keyOf(it))), items.length, estimate),
    [items, tick],
  );
  const r = visibleRange(offsets, view.top, view.height || 800, 6);

  const onScroll = () => {
    if (frame.current) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = 0;
      const el = scroller.current;
      if (!el) return;
      stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 48;
      if (items.length) {
        const i = rowAt(offsets, el.scrollTop);
        anchor.current = { key: keyOf(items[i]), delta: el.scrollTop - offsets[i] };
      }
      setView({ top: el.scrollTop, height: el.clientHeight });
      if (onNearTop && el.scrollTop < el.clientHeight * 2) onNearTop();
    });
  };

  // Measure what was rendered, then put the view back where the reader was.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    let changed = false;
    for (const li of el.querySelectorAll('[data-key]')) {
      const k = li.dataset.key;
      const h = li.getBoundingClientRect().height;
      if (h > 0 && Math.abs((heights.current.get(k) || 0) - h) > 0.5) {
        heights.current.set(k, h);
        changed = true;
      }
    }
    if (changed) {
      setTick((t) => t + 1);
      return;
    }
    if (stick.current) {
      const bottom = el.scrollHeight - el.clientHeight;
      if (Math.abs(el.scrollTop - bottom) > 1) el.scrollTop = bottom;
    } else if (anchor.current && index.has(anchor.current.key)) {
      const want = offsets[index.get(anchor.current.key)] + anchor.current.delta;
      if (Math.abs(el.scrollTop - want) > 1) el.scrollTop = want;
    }
    if (view.height !== el.clientHeight || Math.abs(view.top - el.scrollTop) > 1) {
      setView({ top: el.scrollTop, height: el.clientHeight });
    }
  });

  // The view's height changes with the window (and the keyboard on phones).
  useEffect(() => {
    const el = scroller.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(() => setView({ top: el.scrollTop, height: el.clientHeight }));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const rows = [];
  for (let i = r.start; i < r.end; i++) {
    const it = items[i];
    rows.push(html`<li key=${keyOf(it)} data-key=${keyOf(it)} aria-setsize=${items.length} aria-posinset=${i + 1}>${renderRow(it, i)}</li>`);
  }
  return html`<div class="scroller" ref=${scroller} onScroll=${onScroll} tabindex="0" aria-label=${label} id=${id}>
    <ul class="rows" aria-label=${label} style=${{ paddingTop: r.padTop + 'px', paddingBottom: r.padBottom + 'px' }}>${rows}</ul>
  </div>`;
}
