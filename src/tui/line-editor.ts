/**
 * The input line of the terminal client as plain data and pure edits (as readline and irssi behave): the cursor
 * moves by characters (code points, so an emoji is one step), Ctrl+W deletes a word, Up and Down walk the lines sent
 * before, Tab completes a nick. Pure so the keys can be tested without a terminal.
 */

export interface LineState {
  readonly text: string;
  /** Offset in code units, always on a code point boundary. */
  readonly cursor: number;
  /** Lines sent before, oldest first. */
  readonly history: readonly string[];
  /** Position while walking the history: history.length means the line being written. */
  readonly historyIndex: number;
  /** What was being written before walking the history, restored by walking back down. */
  readonly draft: string;
  /** An ongoing Tab completion: the word typed and the candidate shown, so Tab again shows the next one. */
  readonly completion?: { readonly start: number; readonly prefix: string; readonly index: number };
}

export const HISTORY_LIMIT = 100;

export function emptyLine(history: readonly string[] = []): LineState {
  return { text: '', cursor: 0, history, historyIndex: history.length, draft: '' };
}

function edited(state: LineState, text: string, cursor: number): LineState {
  return { text, cursor, history: state.history, historyIndex: state.history.length, draft: '' };
}

export function insert(state: LineState, typed: string): LineState {
  // A paste may carry line breaks: they become spaces (the line is sent as one message, split by the engine).
  const clean = typed.replace(/\r\n|\r|\n/g, ' ');
  return edited(state, state.text.slice(0, state.cursor) + clean + state.text.slice(state.cursor), state.cursor + clean.length);
}

function previousBoundary(text: string, at: number): number {
  if (at <= 0) return 0;
  const code = text.charCodeAt(at - 1);
  return code >= 0xdc00 && code <= 0xdfff && at >= 2 ? at - 2 : at - 1;
}

function nextBoundary(text: string, at: number): number {
  if (at >= text.length) return text.length;
  const code = text.charCodeAt(at);
  return code >= 0xd800 && code <= 0xdbff && at + 1 < text.length ? at + 2 : at + 1;
}

export function backspace(state: LineState): LineState {
  if (state.cursor === 0) return state;
  const from = previousBoundary(state.text, state.cursor);
  return edited(state, state.text.slice(0, from) + state.text.slice(state.cursor), from);
}

export function deleteForward(state: LineState): LineState {
  if (state.cursor >= state.text.length) return state;
  return edited(state, state.text.slice(0, state.cursor) + state.text.slice(nextBoundary(state.text, state.cursor)), state.cursor);
}

export function left(state: LineState): LineState {
  return { ...withoutCompletion(state), cursor: previousBoundary(state.text, state.cursor) };
}

export function right(state: LineState): LineState {
  return { ...withoutCompletion(state), cursor: nextBoundary(state.text, state.cursor) };
}

export function home(state: LineState): LineState {
  return { ...withoutCompletion(state), cursor: 0 };
}

export function end(state: LineState): LineState {
  return { ...withoutCompletion(state), cursor: state.text.length };
}

function withoutCompletion(state: LineState): LineState {
  const { completion: _completion, ...rest } = state;
  return rest;
}

/** Ctrl+U: delete from the start of the line to the cursor. */
export function killToStart(state: LineState): LineState {
  return edited(state, state.text.slice(state.cursor), 0);
}

/** Ctrl+K: delete from the cursor to the end. */
export function killToEnd(state: LineState): LineState {
  return edited(state, state.text.slice(0, state.cursor), state.cursor);
}

/** Ctrl+W: delete the word before the cursor (and the spaces after it). */
export function deleteWord(state: LineState): LineState {
  const before = state.text.slice(0, state.cursor);
  const start = before.replace(/\S+\s*$/, '').length;
  return edited(state, state.text.slice(0, start) + state.text.slice(state.cursor), start);
}

export function historyUp(state: LineState): LineState {
  if (state.historyIndex === 0) return state;
  const draft = state.historyIndex === state.history.length ? state.text : state.draft;
  const index = state.historyIndex - 1;
  const text = state.history[index] ?? '';
  return { text, cursor: text.length, history: state.history, historyIndex: index, draft };
}

export function historyDown(state: LineState): LineState {
  if (state.historyIndex >= state.history.length) return state;
  const index = state.historyIndex + 1;
  const text = index === state.history.length ? state.draft : (state.history[index] ?? '');
  return { text, cursor: text.length, history: state.history, historyIndex: index, draft: state.draft };
}

/** Enter: the line to send, and an empty line with it remembered (unless blank or the same as the last one). */
export function submit(state: LineState): { readonly line: string; readonly next: LineState } {
  const line = state.text;
  const remember = line.trim() !== '' && state.history.at(-1) !== line;
  const history = remember ? [...state.history, line].slice(-HISTORY_LIMIT) : state.history;
  return { line, next: emptyLine(history) };
}

/**
 * Tab: completes the word before the cursor with the first nick (then the next, on each Tab) that starts with it,
 * case-insensitively; at the start of the line a ": " follows, as IRC clients address someone.
 */
export function complete(state: LineState, nicks: readonly string[]): LineState {
  const ongoing = state.completion;
  const start = ongoing?.start ?? state.text.slice(0, state.cursor).search(/\S*$/);
  const prefix = ongoing?.prefix ?? state.text.slice(start, state.cursor);
  if (prefix === '' && ongoing === undefined) return state;
  const candidates = nicks.filter((nick) => nick.toLowerCase().startsWith(prefix.toLowerCase())).sort((a, b) => a.localeCompare(b));
  if (candidates.length === 0) return state;
  const index = ongoing === undefined ? 0 : (ongoing.index + 1) % candidates.length;
  const word = `${candidates[index]!}${start === 0 ? ': ' : ' '}`;
  // What follows the word being completed stays; a previous candidate (and its suffix) is replaced.
  const after = state.text.slice(state.cursor);
  const text = state.text.slice(0, start) + word + after;
  return { text, cursor: start + word.length, history: state.history, historyIndex: state.history.length, draft: '', completion: { start, prefix, index } };
}
