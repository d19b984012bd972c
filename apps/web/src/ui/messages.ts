// Problems shown on the page (each names its file), newest last; the page stays usable after any of them.
import { byId, el } from './dom.ts';

export function showProblem(message: string): void {
  const list = byId('messages');
  list.append(el('li', { className: 'problem', textContent: message }));
  list.hidden = false;
}

export function showNote(message: string): void {
  const list = byId('messages');
  list.append(el('li', { className: 'note', textContent: message }));
  list.hidden = false;
}

export function clearMessages(): void {
  const list = byId('messages');
  list.replaceChildren();
  list.hidden = true;
}
