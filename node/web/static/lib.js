// The UI's one view library: Preact with hooks, written with htm's tagged
// templates (no build step, no eval). Text in templates is always set as
// text, never parsed as HTML.
import { h, render, Fragment } from './vendor/preact.mjs';
import htm from './vendor/htm.mjs';

export { h, render, Fragment };
export { useState, useEffect, useLayoutEffect, useRef, useMemo, useCallback, useReducer } from './vendor/hooks.mjs';
export const html = htm.bind(h);
