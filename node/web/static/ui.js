// Small shared pieces of the screens: forms, copyable links, QR images,
// confirmation dialogs and error messages.
import { html, useState, useEffect, useRef } from './lib.js';

// Field is a labelled input; every input has a visible label, which screen
// readers read too.
export function Field({ label, hint, id, value, onInput, type = 'text', inputmode, multiline, autocomplete = 'off', required, ...rest }) {
  const hintID = hint ? id + '-hint' : undefined;
  const common = {
    id, value, required, autocomplete, inputmode, 'aria-describedby': hintID,
    onInput: (e) => onInput(e.currentTarget.value), ...rest,
  };
  return html`<div class="field">
    <label for=${id}>${label}</label>
    ${multiline ? html`<textarea rows="3" ...${common}></textarea>` : html`<input type=${type} ...${common} />`}
    ${hint && html`<p class="hint" id=${hintID}>${hint}</p>`}
  </div>`;
}

// ErrorText shows a failure in words; role=alert makes screen readers say it.
export function ErrorText({ error }) {
  if (!error) return null;
  return html`<p class="error" role="alert">${String(error.message || error)}</p>`;
}

// Done shows a success message politely.
export function Done({ text }) {
  if (!text) return null;
  return html`<p class="done" role="status">${text}</p>`;
}

// useAction runs an async action, keeping its busy state and error.
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const run = async (f) => {
    setBusy(true);
    setError(null);
    try {
      return await f();
    } catch (e) {
      setError(e);
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
}

// CopyText shows a long code with a button that copies it.
export function CopyText({ label, text, id }) {
  const [copied, setCopied] = useState(false);
  const ref = useRef(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch (e) {
      // Without clipboard access, select the text so that Ctrl+C copies it.
      ref.current && ref.current.select();
    }
    setCopied(true);
    setTimeout(() => setCopied(false), 2500);
  };
  return html`<div class="field copy">
    <label for=${id}>${label}</label>
    <div class="copy-row">
      <input id=${id} ref=${ref} readonly value=${text} onFocus=${(e) => e.currentTarget.select()} />
      <button type="button" class="secondary" onClick=${copy}>${copied ? 'Copied' : 'Copy'}</button>
    </div>
  </div>`;
}

// QR shows a QR code drawn by the node.
export function QR({ src, alt }) {
  return html`<img class="qr" src=${src} alt=${alt} width="240" height="240" />`;
}

// Confirm is a modal dialog asking before something that cannot be undone.
// The browser's <dialog> keeps keyboard focus inside and closes on Escape.
export function Confirm({ open, title, children, confirmLabel, onConfirm, onCancel, danger }) {
  const ref = useRef(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return html`<dialog ref=${ref} class="dialog" aria-labelledby="dialog-title" onClose=${() => open && onCancel()}>
    <h2 id="dialog-title">${title}</h2>
    <div>${children}</div>
    <div class="actions">
      <button type="button" class="secondary" onClick=${onCancel}>Cancel</button>
      <button type="button" class=${danger ? 'danger' : ''} onClick=${onConfirm}>${confirmLabel}</button>
    </div>
  </dialog>`;
}

// Section is a titled part of a screen.
export function Section({ title, id, children, className = '' }) {
  return html`<section class=${'card ' + className} aria-labelledby=${id}>
    <h2 id=${id}>${title}</h2>
    ${children}
  </section>`;
}
