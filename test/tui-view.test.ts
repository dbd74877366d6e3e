/**
 * What the terminal client shows (src/tui/view.ts), from states made by the real reducer: text from the network
 * can never reach the terminal as escape sequences; whispers, view-once messages, replies and reactions read as such;
 * the "new" divider sits before the first unread message; long lines wrap under the text.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyAction, applyMessage, bufferKey, initialState } from '../src/client/index.js';
import type { ClientState } from '../src/client/index.js';
import { parseMessage } from '../src/protocol/message.js';
import { bufferEntries, nickColor, paletteOf, paneLines, safeText, typingLine } from '../src/tui/view.js';

const plain = paletteOf(false);
const T0 = Date.parse('2026-11-22T12:00:00.000Z');

function feed(state: ClientState, ...lines: string[]): ClientState {
  let next = state;
  for (const [index, line] of lines.entries()) {
    const message = parseMessage(line);
    assert.ok(message !== undefined, line);
    next = applyMessage(next, message, T0 + index);
  }
  return next;
}

function at(offsetSeconds: number): string {
  return new Date(T0 + offsetSeconds * 1000).toISOString();
}

/** "me" in #room with alice and bob, CAPs as the engine asks for them. */
function inRoom(): ClientState {
  return feed(
    initialState('me'),
    ':srv 001 me :Welcome',
    ':srv 005 me CHANTYPES=# PREFIX=(ov)@+ NETWORK=Test :are supported',
    ':srv CAP me ACK :message-tags server-time echo-message natter.chat/view-once',
    ':me!u@h JOIN #room',
    ':srv 353 me = #room :me @alice bob',
    ':srv 366 me #room :End of /NAMES list.',
  );
}

function screenOf(state: ClientState, name: string, options: { width?: number; newAfter?: number } = {}): string[] {
  const buffer = state.buffers.get(bufferKey(state, name));
  assert.ok(buffer !== undefined, name);
  return paneLines({ buffer, selfNick: state.nick, fold: (text) => text.toLowerCase(), newAfter: options.newAfter, outbox: state.outbox, width: options.width ?? 80, now: T0, palette: plain });
}

describe('the terminal client’s view', () => {
  it('removes escape sequences, control characters and IRC formatting from what others send', () => {
    assert.equal(safeText('\u001b[2J\u001b]0;owned\u0007hi\u009b31m\u0002bold\u000f\ttab'), '[2J]0;ownedhi31mbold tab');
    const state = feed(inRoom(), `@time=${at(1)};msgid=m1 :alice!a@h PRIVMSG #room :\u001b[31mred\u001b[0m \u001b]8;;http://x\u0007link`);
    const screen = screenOf(state, '#room').join('\n');
    assert.ok(!screen.includes('\u001b'), 'no ESC reaches the terminal');
    assert.match(screen, /<alice> \[31mred\[0m \]8;;http:\/\/xlink/);
  });

  it('shows times and names, actions and notices, and a day separator', () => {
    const state = feed(
      inRoom(),
      `@time=${at(1)};msgid=m1 :alice!a@h PRIVMSG #room :hello`,
      `@time=${at(2)};msgid=m2 :bob!b@h PRIVMSG #room :\u0001ACTION waves\u0001`,
      `@time=${at(3)};msgid=m3 :bob!b@h NOTICE #room :a notice`,
    );
    const screen = screenOf(state, '#room');
    assert.match(screen[0] ?? '', /─ Today ─/);
    const clock = (offset: number): string => {
      const date = new Date(T0 + offset * 1000);
      return `${String(date.getHours()).padStart(2, '0')}:${String(date.getMinutes()).padStart(2, '0')}`;
    };
    assert.ok(screen.includes(`${clock(1)} <alice> hello`), screen.join('\n'));
    assert.ok(screen.includes(`${clock(2)} * bob waves`), screen.join('\n'));
    assert.ok(screen.includes(`${clock(3)} -bob- a notice`), screen.join('\n'));
  });

  it('a whisper reads as one, in the room, with who it is between', () => {
    const state = feed(
      inRoom(),
      `@time=${at(1)};msgid=w1;+draft/channel-context=#room :alice!a@h PRIVMSG me :just between us`,
      `@time=${at(2)};msgid=w2;+draft/channel-context=#room :me!u@h PRIVMSG bob :and you`,
    );
    const screen = screenOf(state, '#room').join('\n');
    assert.match(screen, /<alice → you> \(whisper\) just between us/);
    assert.match(screen, /<me → bob> \(whisper\) and you/);
  });

  it('a sealed view-once message shows how to open it and never its placeholder; opened ones say so', () => {
    let state = feed(
      inRoom(),
      `@time=${at(1)};msgid=v1;natter.chat/view-once :alice!a@h PRIVMSG #room :[view-once message]`,
      `@time=${at(2)};msgid=v2;natter.chat/view-once :bob!b@h PRIVMSG #room :[view-once message]`,
    );
    let screen = screenOf(state, '#room').join('\n');
    assert.match(screen, /<alice> 🔒 view-once message: type \/open 1 to see it, once/);
    assert.match(screen, /<bob> 🔒 view-once message: type \/open 2 to see it, once/);
    assert.doesNotMatch(screen, /\[view-once message\]/);
    state = applyAction(state, { type: 'viewOnce', name: '#room', msgid: 'v1', state: 'opened' });
    screen = screenOf(state, '#room').join('\n');
    assert.match(screen, /<alice> 🔓 view-once message \(opened\)/);
    assert.match(screen, /<bob> 🔒 view-once message: type \/open to see it, once/, 'one left: /open needs no number');
  });

  it('replies quote what they answer; reactions are counted after the message', () => {
    const state = feed(
      inRoom(),
      `@time=${at(1)};msgid=m1 :alice!a@h PRIVMSG #room :who brings snacks?`,
      `@time=${at(2)};msgid=m2;+draft/reply=m1 :bob!b@h PRIVMSG #room :I do`,
      `@time=${at(3)};+draft/react=👍;+draft/reply=m2 :alice!a@h TAGMSG #room`,
      `@time=${at(4)};+draft/react=👍;+draft/reply=m2 :me!u@h TAGMSG #room`,
    );
    const screen = screenOf(state, '#room').join('\n');
    assert.match(screen, /<bob> ↪ alice: “who brings snacks\?” I do \[👍 2\]/);
  });

  it('the "new" divider goes before the first message from others after the marker', () => {
    const state = feed(
      inRoom(),
      `@time=${at(1)};msgid=m1 :alice!a@h PRIVMSG #room :read`,
      `@time=${at(2)};msgid=m2 :me!u@h PRIVMSG #room :mine`,
      `@time=${at(3)};msgid=m3 :bob!b@h PRIVMSG #room :unread`,
    );
    const screen = screenOf(state, '#room', { newAfter: T0 + 1500 });
    const divider = screen.findIndex((line) => /─ new ─/.test(line));
    assert.ok(divider > 0, screen.join('\n'));
    assert.match(screen[divider + 1] ?? '', /<bob> unread/);
    assert.match(screen[divider - 1] ?? '', /<me> mine/, 'my own message is never "new"');
    assert.equal(screenOf(state, '#room').filter((line) => /─ new ─/.test(line)).length, 0, 'no marker, no divider');
  });

  it('wraps a long line to the width, continuation indented under the text', () => {
    const state = feed(inRoom(), `@time=${at(1)};msgid=m1 :alice!a@h PRIVMSG #room :${'word '.repeat(30).trim()}`);
    const screen = screenOf(state, '#room', { width: 40 });
    const lines = screen.slice(1).filter((line) => !line.includes('joined'));
    assert.ok(lines.length >= 4, screen.join('\n'));
    for (const line of lines) assert.ok(line.length <= 40, `fits: "${line}"`);
    for (const line of lines.slice(1)) assert.ok(line.startsWith('      '), `indented: "${line}"`);
  });

  it('lists the server, then rooms, then conversations, with unread counts and mentions', () => {
    const state = feed(inRoom(), `@time=${at(1)};msgid=d1 :zed!z@h PRIVMSG me :psst`, ':me!u@h JOIN #another');
    const entries = bufferEntries(state);
    assert.deepEqual(
      entries.map((entry) => [entry.label, entry.kind]),
      [
        ['Test', 'server'],
        ['#another', 'room'],
        ['#room', 'room'],
        ['zed', 'dm'],
      ],
    );
    const zed = entries.find((entry) => entry.label === 'zed') ?? assert.fail('a window for zed');
    assert.equal(zed.unread, 1);
    assert.equal(zed.mentions, 1, 'a direct message mentions');
  });

  it('says who is typing, and forgets stale typists', () => {
    const state = feed(inRoom(), '@+typing=active :alice!a@h TAGMSG #room', '@+typing=active :bob!b@h TAGMSG #room');
    const buffer = state.buffers.get('#room');
    assert.equal(typingLine(buffer, T0 + 10), 'alice and bob are typing…');
    assert.equal(typingLine(buffer, T0 + 60_000), '');
  });

  it('gives a nick the same colour every time', () => {
    assert.equal(nickColor('Alice'), nickColor('alice'));
  });
});
