/** The terminal client's input line (src/tui/line-editor.ts): editing keys as readline and irssi have them. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as line from '../src/tui/line-editor.js';
import type { LineState } from '../src/tui/line-editor.js';

function typed(text: string, state: LineState = line.emptyLine()): LineState {
  return line.insert(state, text);
}

describe('the input line', () => {
  it('inserts at the cursor; a pasted line break becomes a space', () => {
    let state = typed('helo');
    state = line.left(state);
    state = line.insert(state, 'l');
    assert.deepEqual([state.text, state.cursor], ['hello', 4]);
    assert.equal(typed('one\r\ntwo\nthree').text, 'one two three');
  });

  it('moves and deletes by whole characters: an emoji is one step', () => {
    let state = typed('a😀b');
    state = line.left(state);
    state = line.backspace(state);
    assert.deepEqual([state.text, state.cursor], ['ab', 1]);
    state = line.home(typed('😀x'));
    state = line.deleteForward(state);
    assert.equal(state.text, 'x');
    state = line.right(line.home(typed('😀')));
    assert.equal(state.cursor, 2);
    assert.equal(line.backspace(line.emptyLine()).text, '', 'backspace at the start does nothing');
  });

  it('Ctrl+W deletes the word before the cursor, Ctrl+U to the start, Ctrl+K to the end', () => {
    assert.equal(line.deleteWord(typed('hello big world  ')).text, 'hello big ');
    let state = typed('keep this');
    state = line.left(line.left(line.left(line.left(state))));
    assert.equal(line.killToStart(state).text, 'this');
    assert.equal(line.killToEnd(state).text, 'keep ');
  });

  it('Enter hands over the line and remembers it; Up and Down walk back and return to the draft', () => {
    let state = line.emptyLine();
    for (const text of ['first', 'second']) {
      const result = line.submit(typed(text, state));
      assert.equal(result.line, text);
      state = result.next;
    }
    assert.equal(line.submit(typed('   ', state)).next.history.length, 2, 'a blank line is not remembered');
    state = typed('draft', state);
    state = line.historyUp(state);
    assert.equal(state.text, 'second');
    state = line.historyUp(line.historyUp(state));
    assert.equal(state.text, 'first', 'stops at the oldest');
    state = line.historyDown(line.historyDown(state));
    assert.equal(state.text, 'draft', 'back down to what was being written');
    const repeated = line.submit(typed('second', line.emptyLine(['first', 'second'])));
    assert.deepEqual(repeated.next.history, ['first', 'second'], 'the same line twice is remembered once');
  });

  it('Tab completes a nick (with ": " at the start of the line), and cycles on the next Tab', () => {
    const nicks = ['alice', 'Albert', 'bob'];
    let state = line.complete(typed('al'), nicks);
    assert.equal(state.text, 'Albert: ');
    state = line.complete(state, nicks);
    assert.equal(state.text, 'alice: ');
    state = line.complete(state, nicks);
    assert.equal(state.text, 'Albert: ', 'round again');
    assert.equal(line.complete(typed('thanks b'), nicks).text, 'thanks bob ');
    assert.equal(line.complete(typed('zz'), nicks).text, 'zz', 'no match, no change');
    assert.equal(line.insert(line.complete(typed('b'), nicks), 'hi').text, 'bob: hi', 'typing ends the completion');
  });
});
