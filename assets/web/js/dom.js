// A few helpers for building and finding elements; nothing framework-like.

/** `h('li.member', {dataset: {session: 1}}, 'Ada', child)`: an element
 *  with classes, properties and children (strings become text nodes). */
export function h(tag, props = {}, ...children) {
  const [name, ...classes] = tag.split('.');
  const el = document.createElement(name || 'div');
  if (classes.length) el.className = classes.join(' ');
  for (const [key, value] of Object.entries(props ?? {})) {
    if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'testid') el.dataset.testid = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className += ` ${value}`;
    else if (value !== undefined && value !== null && value !== false) el[key] = value;
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** The element with `data-testid="id"`. */
export const byTestId = (id, root = document) => root.querySelector(`[data-testid="${id}"]`);
export const $ = (selector, root = document) => root.querySelector(selector);

/** Shows one of a set of elements and hides the others. */
export function showOnly(shown, ...all) {
  for (const el of all) el.hidden = el !== shown;
}

/** A short "m:ss" for seconds. */
export function clock(secs) {
  const s = Math.max(0, Math.ceil(secs));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
