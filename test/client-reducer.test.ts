/**
 * The client's pure reducer on recorded transcripts (issue 6): test/fixtures/transcripts/*.irc are the lines a real
 * Natter sent to the client engine in two sessions (recorded through the engine's transport), replayed here line by
 * line into applyMessage. The same input always gives the same state, so the assertions below are exact.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { applyAction, applyMessage, initialState } from '../src/client/index.js';
import type { ChatBuffer, ClientState } from '../src/client/index.js';
import { parseMessage } from '../src/protocol/message.js';

const NOW = Date.parse('2026-11-22T12:30:00Z');

function replay(name: string, state: ClientState = initialState('guest')): ClientState {
  const text = readFileSync(new URL(`fixtures/transcripts/${name}`, import.meta.url), 'utf8');
  let next = state;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const message = parseMessage(line);
    assert.ok(message !== undefined, `unparsable transcript line: ${line}`);
    next = applyMessage(next, message, NOW);
  }
  return next;
}

function buffer(state: ClientState, key: string): ChatBuffer {
  return state.buffers.get(key) ?? assert.fail(`no buffer ${key}; have ${[...state.buffers.keys()].join(', ')}`);
}

function lines(state: ClientState, key: string): string[] {
  return buffer(state, key).messages.map((message) => `${message.kind} ${message.from}: ${message.text}`);
}

/** The buffer's lines from the server, without local notes. */
function chatLines(state: ClientState, key: string): string[] {
  return buffer(state, key)
    .messages.filter((message) => message.kind !== 'info')
    .map((message) => `${message.kind} ${message.from}: ${message.text}`);
}

describe('reducer: a recorded room session (room-session.irc)', () => {
  const state = replay('room-session.irc');

  it('registration: nick, account, ISUPPORT and the connection status', () => {
    assert.equal(state.status, 'connected');
    assert.equal(state.nick, 'ada');
    assert.equal(state.account, 'ada');
    assert.equal(state.serverName, 'test.natter');
    assert.equal(state.isupport.get('NETWORK'), 'Natter');
    assert.equal(state.networkName, 'Natter', 'the network is named from ISUPPORT NETWORK');
    assert.equal(state.isupport.get('PREFIX'), '(qaohv)~&@%+');
    assert.equal(state.batches.size, 0, 'every batch closed');
    assert.ok(state.caps.has('draft/chathistory') && state.caps.has('sasl'));
  });

  it('the room: every event and message in order, with who said it, the own message marked as own', () => {
    // Without the local notes (WHOIS replies) shown there because the user looks at the room.
    assert.deepEqual(chatLines(state, '#lobby'), [
      'join ada: ada joined',
      'join bob: bob joined',
      'privmsg ada: hello everyone',
      'privmsg bob: hi ada, welcome',
      'action bob: waves',
      'privmsg bob: first line\nsecond line',
      'topic ada: ada set the topic: Welcome to the lobby',
      'mode ada: ada set mode +v bob',
      'nick bob: bob is now known as bobby',
      'part bobby: bobby left (see you)',
    ]);
    const messages = buffer(state, '#lobby').messages;
    assert.equal(messages.find((m) => m.text === 'hello everyone')?.self, true);
    assert.equal(messages.find((m) => m.text === 'hi ada, welcome')?.highlight, true, 'naming ada is a mention');
    assert.equal(messages.find((m) => m.kind === 'action')?.highlight, false);
    assert.equal(messages.find((m) => m.text.startsWith('first line'))?.id, 'sqxykzb7qx6', 'a multiline message has its batch msgid');
    assert.ok(messages.every((m, index) => index === 0 || messages[index - 1]!.time <= m.time), 'sorted by server time');
  });

  it('reactions attach to their message; typing ends when the typist speaks', () => {
    const hello = buffer(state, '#lobby').messages.find((m) => m.text === 'hello everyone');
    assert.deepEqual(hello?.reactions, { '👍': ['bob'] });
    assert.equal(buffer(state, '#lobby').typing.size, 0);
  });

  it('topic, members and roles follow JOIN, NAMES, MODE, NICK and PART', () => {
    const room = buffer(state, '#lobby');
    assert.equal(room.joined, true);
    assert.equal(room.topic, 'Welcome to the lobby');
    assert.equal(room.topicSetBy, 'ada');
    assert.deepEqual([...room.members.values()].map((m) => `${m.prefixes}${m.nick}`), ['@ada'], 'bobby left');
  });

  it('a direct message opens a conversation named after the sender (by their new nick), unread and a mention', () => {
    const dm = buffer(state, 'bobby');
    assert.equal(dm.kind, 'dm');
    assert.deepEqual(lines(state, 'bobby'), ['privmsg bobby: a private word']);
    assert.equal(dm.unread, 1);
    assert.equal(dm.mentions, 1);
  });

  it('the read marker from the server clears the room’s unread count', () => {
    const room = buffer(state, '#lobby');
    assert.equal(room.readMarker, Date.parse('2026-11-22T12:22:46.447Z'));
    assert.equal(room.unread, 0);
  });

  it('WHOIS replies become notes where the user is looking (the room, shown since ada joined it); MOTD goes to the server buffer', () => {
    assert.equal(state.active, '#lobby');
    assert.ok(lines(state, '#lobby').some((line) => line === 'info : bobby ~bob 127.0.0.1 * bob test'), 'RPL_WHOISUSER shown');
    assert.ok(lines(state, '*').some((line) => line.includes('Welcome to Natter.')), 'MOTD shown');
  });

  it('replaying a transcript twice changes nothing: msgids are not duplicated', () => {
    const twice = replay('room-session.irc', state);
    assert.deepEqual(chatLines(twice, '#lobby'), chatLines(state, '#lobby'));
    assert.deepEqual(lines(twice, 'bobby'), lines(state, 'bobby'));
  });
});

describe('reducer: recorded history pages (history.irc)', () => {
  const state = replay('history.irc');

  it('the latest page, then an older one, merge into one ordered conversation; a multiline message stays one', () => {
    const texts = buffer(state, '#archive').messages.filter((m) => m.kind === 'privmsg').map((m) => m.text);
    assert.deepEqual(texts, ['message 1', 'message 2', 'message 3', 'message 4', 'message 5', 'message 6', 'multi one\nmulti two']);
  });

  it('history is not unread (no read marker says so); a live direct message is', () => {
    assert.equal(buffer(state, '#archive').unread, 0);
    assert.equal(buffer(state, 'carl').unread, 1);
    assert.equal(state.buffers.has('#archive') && !state.buffers.has('targets'), true, 'CHATHISTORY TARGETS opens no buffer by itself');
  });

  it('focusing a buffer clears its counts; closing it removes it', () => {
    const focused = applyAction(state, { type: 'focus', name: 'Carl' });
    assert.equal(focused.active, 'carl');
    assert.equal(buffer(focused, 'carl').unread, 0);
    const closed = applyAction(focused, { type: 'close', name: 'carl' });
    assert.equal(closed.buffers.has('carl'), false);
    assert.equal(closed.active, '*');
  });
});

describe('reducer: single lines', () => {
  const base = replay('room-session.irc');
  const apply = (state: ClientState, ...raw: string[]): ClientState => raw.reduce((next, line) => applyMessage(next, parseMessage(line)!, NOW), state);

  it('an own JOIN while the server buffer is shown (the server’s autojoin) makes the room the active buffer; not otherwise', () => {
    const fresh = apply(initialState('guest'), ':test.natter 001 guest :Welcome');
    assert.equal(fresh.active, '*');
    const landed = apply(fresh, ':guest!~guest@127.0.0.1 JOIN #book-club', ':test.natter 353 guest = #book-club :guest @host', ':test.natter 366 guest #book-club :End of /NAMES list');
    assert.equal(landed.active, '#book-club');
    assert.equal(buffer(landed, '#book-club').joined, true);
    assert.equal(apply(landed, ':guest!~guest@127.0.0.1 JOIN #second').active, '#book-club', 'a later room does not take the view away');
    assert.equal(apply(fresh, ':other!o@h JOIN #book-club').active, '*', 'someone else’s JOIN does not move the view');
    const looking = applyAction(apply(fresh, ':friend!f@h PRIVMSG guest :hi'), { type: 'focus', name: 'friend' });
    assert.equal(apply(looking, ':guest!~guest@127.0.0.1 JOIN #book-club').active, 'friend', 'nor does one while a conversation is shown');
  });

  it('MODE with several modes and arguments sets the right prefixes (CHANMODES and PREFIX decide who takes an argument)', () => {
    const state = apply(base, ':carl!c@h JOIN #lobby', ':ada!a@h MODE #lobby +lov 10 carl carl', ':ada!a@h MODE #lobby -o+k carl secret');
    assert.equal(buffer(state, '#lobby').members.get('carl')?.prefixes, '+');
    assert.equal(buffer(state, '#lobby').modes, '+kl');
  });

  it('QUIT removes the member from every room and says so there; a redaction empties the message', () => {
    const joined = apply(base, ':dan!d@h JOIN #lobby', '@msgid=x1;time=2026-11-22T12:25:00.000Z :dan!d@h PRIVMSG #lobby :oops');
    const state = apply(joined, ':dan!d@h REDACT #lobby x1', ':dan!d@h QUIT :gone');
    assert.equal(buffer(state, '#lobby').members.has('dan'), false);
    assert.equal(buffer(state, '#lobby').messages.at(-1)?.text, 'dan quit (gone)');
    const redacted = buffer(state, '#lobby').messages.find((m) => m.id === 'x1');
    assert.equal(redacted?.redacted, true);
    assert.equal(redacted.text, '');
  });

  it('CTCP other than ACTION is not chat; STATUSMSG lands in its room', () => {
    const state = apply(base, ':eve!e@h PRIVMSG ada :\u0001VERSION\u0001', '@msgid=s1 :eve!e@h PRIVMSG @#lobby :ops only');
    assert.equal(state.buffers.has('eve'), false);
    assert.equal(buffer(state, '#lobby').messages.at(-1)?.text, 'ops only');
  });

  it('a whisper received (+channel-context) shows in its room, marked with its sender, as a mention; no conversation opens', () => {
    const state = apply(base, '@msgid=w1;+channel-context=#lobby :eve!e@h PRIVMSG ada :psst');
    const whisper = buffer(state, '#lobby').messages.at(-1);
    assert.equal(whisper?.text, 'psst');
    assert.deepEqual(whisper.whisper, { with: 'eve', room: '#lobby' });
    assert.equal(whisper.highlight, true);
    assert.equal(state.buffers.has('eve'), false);
  });

  it('an own whisper echoed (the older +draft/channel-context) shows in the room, marked with its recipient', () => {
    const state = apply(base, '@msgid=w2;+draft/channel-context=#LOBBY :ada!a@h PRIVMSG eve :only you');
    const whisper = buffer(state, '#lobby').messages.find((m) => m.id === 'w2');
    assert.equal(whisper?.self, true);
    assert.deepEqual(whisper.whisper, { with: 'eve', room: '#lobby' });
    assert.equal(state.buffers.has('eve'), false);
  });

  it('a conversation’s history puts its whispers in their rooms and the rest in the conversation', () => {
    const state = apply(
      base,
      'BATCH +h1 chathistory eve',
      '@batch=h1;msgid=d1;time=2026-11-22T12:26:00.000Z :eve!e@h PRIVMSG ada :a direct one',
      '@batch=h1;msgid=w3;time=2026-11-22T12:26:01.000Z;+channel-context=#lobby :eve!e@h PRIVMSG ada :a whisper',
      '@batch=h1;msgid=d2;time=2026-11-22T12:26:02.000Z :ada!a@h PRIVMSG eve :another direct one',
      'BATCH -h1',
    );
    assert.deepEqual(lines(state, 'eve'), ['privmsg eve: a direct one', 'privmsg ada: another direct one']);
    assert.deepEqual(buffer(state, '#lobby').messages.find((m) => m.id === 'w3')?.whisper, { with: 'eve', room: '#lobby' });
  });

  it('a whisper in a room this client does not have stays in the conversation, still marked; a room message keeps no mark', () => {
    const state = apply(base, '@msgid=w4;+channel-context=#gone :eve!e@h PRIVMSG ada :from before', '@msgid=r1;+channel-context=#lobby :eve!e@h PRIVMSG #lobby :public');
    assert.deepEqual(buffer(state, 'eve').messages.at(-1)?.whisper, { with: 'eve', room: '#gone' });
    assert.equal(state.buffers.has('#gone'), false);
    assert.equal(buffer(state, '#lobby').messages.at(-1)?.whisper, undefined);
  });

  const SEALED = '[view-once] sealed message: open it in a client that supports view-once messages';

  it('a view-once message arrives sealed, without the placeholder text, and notes nothing', () => {
    const state = apply(base, `@msgid=v1;natter.chat/view-once :eve!e@h PRIVMSG ada :${SEALED}`, `@msgid=v2;natter.chat/view-once :eve!e@h PRIVMSG #lobby :${SEALED} ada`);
    const direct = buffer(state, 'eve').messages.at(-1);
    assert.deepEqual(direct?.viewOnce, { state: 'sealed' });
    assert.equal(direct.text, '', 'the placeholder is never the text');
    assert.equal(direct.highlight, true, 'a direct message is still a mention');
    const inRoom = buffer(state, '#lobby').messages.at(-1);
    assert.deepEqual(inRoom?.viewOnce, { state: 'sealed' });
    assert.equal(inRoom.highlight, false, 'the placeholder does not mention anyone');
  });

  it('the own echo of a view-once message is "sent", and stays so whatever comes for its msgid', () => {
    const state = apply(base, `@msgid=v3;natter.chat/view-once :ada!a@h PRIVMSG eve :${SEALED}`, ':srv VIEWONCE OPENED v3', ':srv FAIL VIEWONCE NOT_FOUND v3 :No view-once message with this msgid is waiting for you');
    const mine = buffer(state, 'eve').messages.at(-1);
    assert.deepEqual(mine?.viewOnce, { state: 'sent' });
    assert.equal(mine.text, '');
  });

  it('VIEWONCE OPENED (another device) and VIEWONCE CONTENT mark it opened; the content never enters the state', () => {
    const sealed = apply(base, `@msgid=v4;natter.chat/view-once :eve!e@h PRIVMSG ada :${SEALED}`, `@msgid=v5;natter.chat/view-once :eve!e@h PRIVMSG ada :${SEALED}`);
    const state = apply(sealed, ':srv VIEWONCE OPENED v4', ':srv VIEWONCE CONTENT v5 :the door code is 4711');
    assert.deepEqual(buffer(state, 'eve').messages.map((m) => m.viewOnce?.state), ['opened', 'opened']);
    assert.ok(!JSON.stringify([...state.buffers.values()].map((b) => b.messages)).includes('4711'), 'no content in any buffer');
    assert.equal(buffer(state, '*').messages.length, buffer(sealed, '*').messages.length, 'no note either');
  });

  it('FAIL VIEWONCE ALREADY_OPENED marks it opened, NOT_FOUND gone (an opened one stays opened), without an error note', () => {
    const sealed = apply(base, `@msgid=v6;natter.chat/view-once :eve!e@h PRIVMSG ada :${SEALED}`, `@msgid=v7;natter.chat/view-once :eve!e@h PRIVMSG ada :${SEALED}`);
    const state = apply(sealed, ':srv FAIL VIEWONCE ALREADY_OPENED v6 :already', ':srv FAIL VIEWONCE NOT_FOUND v7 :not found', ':srv FAIL VIEWONCE NOT_FOUND v6 :forgotten');
    assert.deepEqual(buffer(state, 'eve').messages.map((m) => m.viewOnce?.state), ['opened', 'gone']);
    assert.equal(buffer(state, 'eve').messages.filter((m) => m.kind === 'error').length, 0);
    assert.deepEqual(buffer(applyAction(sealed, { type: 'viewOnce', name: 'eve', msgid: 'v7', state: 'opened' }), 'eve').messages.map((m) => m.viewOnce?.state), ['sealed', 'opened']);
  });

  it('VIEWONCE LIST replays waiting sealed messages in a batch; one already shown is not doubled', () => {
    const shown = apply(base, `@msgid=v8;natter.chat/view-once :eve!e@h PRIVMSG ada :${SEALED}`);
    const state = apply(
      shown,
      ':srv BATCH +l1 natter.chat/view-once',
      `@batch=l1;msgid=v8;time=2026-11-22T12:20:00.000Z;natter.chat/view-once :eve!e@h PRIVMSG ada :${SEALED}`,
      `@batch=l1;msgid=v9;time=2026-11-22T12:21:00.000Z;natter.chat/view-once :eve!e@h PRIVMSG #lobby :${SEALED}`,
      ':srv BATCH -l1',
    );
    assert.deepEqual(buffer(state, 'eve').messages.filter((m) => m.id === 'v8').length, 1);
    assert.deepEqual(buffer(state, '#lobby').messages.find((m) => m.id === 'v9')?.viewOnce, { state: 'sealed' });
  });

  it('the fallback ("[view-once] " text without the tag) is an ordinary message: the server delivered it in the clear', () => {
    const state = apply(base, '@msgid=v10 :eve!e@h PRIVMSG ada :[view-once] hello');
    assert.equal(buffer(state, 'eve').messages.at(-1)?.viewOnce, undefined);
    assert.equal(buffer(state, 'eve').messages.at(-1)?.text, '[view-once] hello');
  });

  it('text is kept exactly as sent, markup included: rendering it as text is the UI’s job', () => {
    const state = apply(base, '@msgid=h1 :eve!e@h PRIVMSG #lobby :<img src=x onerror=alert(1)> <b>bold</b>');
    assert.equal(buffer(state, '#lobby').messages.at(-1)?.text, '<img src=x onerror=alert(1)> <b>bold</b>');
  });
});
