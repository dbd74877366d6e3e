/**
 * The client engine (issue 6, part 2) against a real server over WebSocket: capability negotiation, account
 * registration and SASL, label-matched requests, and a reconnect that neither loses nor doubles a message.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COMMANDS, RequestError, runInput } from '../src/client/index.js';
import type { ChatClient } from '../src/client/index.js';
import { TestClient } from './helpers/client.js';
import { join, settle } from './helpers/clients.js';
import { engineClient, engineFixture, textsOf, until } from './helpers/engine.js';

describe('client engine', () => {
  const fixture = engineFixture();
  const { clients, raw } = fixture;

  async function rawUser(nick: string, room: string): Promise<TestClient> {
    const client = await TestClient.register(fixture.server.port, nick);
    raw.push(client);
    await join(client, room);
    return client;
  }

  async function signedUp(account: string, rooms: string[]): Promise<{ client: ChatClient; link: ReturnType<typeof engineClient>['link'] }> {
    const made = engineClient(fixture.http, { nick: account, register: { account, password: `${account}-secret-pw` }, autojoin: rooms });
    clients.push(made.client);
    made.client.start();
    await until(made.client, (state) => state.status === 'connected' && state.account === account, `${account} signed up`);
    for (const room of rooms) await until(made.client, (state) => state.buffers.get(room.toLowerCase())?.joined === true, `${account} in ${room}`);
    return made;
  }

  it('creates an account while connecting, negotiates the caps it wants, joins and talks with a TCP client', async () => {
    const { client } = await signedUp('alice', ['#engine']);
    for (const cap of ['echo-message', 'labeled-response', 'batch', 'draft/chathistory', 'server-time', 'message-tags']) assert.ok(client.hasCap(cap), cap);
    const bob = await rawUser('bob', '#engine');
    await until(client, (state) => state.buffers.get('#engine')?.members.has('bob') === true, 'bob in the member list');
    client.say('#engine', 'hello bob');
    const heard = await bob.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'hello bob');
    assert.equal(heard.source?.split('!')[0], 'alice');
    bob.send('PRIVMSG #engine :hi alice');
    const state = await until(client, (s) => textsOf(s, '#engine').includes('hi alice'), 'bob heard');
    const room = state.buffers.get('#engine')!;
    const mine = room.messages.find((m) => m.text === 'hello bob')!;
    const theirs = room.messages.find((m) => m.text === 'hi alice')!;
    assert.equal(mine.self, true, 'the own message is shown, from its echo');
    assert.equal(theirs.from, 'bob');
    assert.equal(theirs.highlight, true, 'a message naming alice is a mention');
    assert.ok(!mine.id.startsWith('local:') && theirs.time >= mine.time, 'messages carry msgid and server-time');
    assert.equal(state.outbox.length, 0, 'nothing left "sending"');
  });

  it('logs in with SASL on a later connection, and a wrong password stops without retrying', async () => {
    const good = engineClient(fixture.http, { nick: 'alice2', login: { account: 'alice', password: 'alice-secret-pw' } });
    clients.push(good.client);
    good.client.start();
    await until(good.client, (state) => state.status === 'connected' && state.account === 'alice', 'logged in');

    const bad = engineClient(fixture.http, { nick: 'mallory', login: { account: 'alice', password: 'wrong' } });
    clients.push(bad.client);
    bad.client.start();
    const state = await until(bad.client, (s) => s.status === 'disconnected', 'refused');
    assert.match(state.lastError ?? '', /fail|invalid|password/i);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(bad.link.connections, 1, 'no reconnect after a refused password');
  });

  it('matches replies to requests by label: WHOIS resolves with its numerics, a refused request rejects', async () => {
    const { client } = await signedUp('carol', []);
    const replies = await client.request('WHOIS', ['carol']);
    assert.ok(replies.some((m) => m.command === '311'), 'RPL_WHOISUSER in the answer');
    assert.ok(replies.some((m) => m.command === '318'), 'and its end');
    await assert.rejects(client.request('KICK', ['#nowhere', 'bob']), (error: unknown) => error instanceof RequestError && /channel/i.test(error.message));
    await runInput(client, '*', '/join #slash');
    await until(client, (s) => s.buffers.get('#slash')?.joined === true && s.active === '#slash', '/join opened the room');
    await runInput(client, '#slash', '/nope');
    assert.ok(client.state.buffers.get('#slash')!.messages.some((m) => m.kind === 'error' && m.text.includes('/help')), 'an unknown command says so');
  });

  it('loads the latest history on join, and older pages on demand, until the beginning', async () => {
    const dave = await rawUser('dave', '#history');
    for (let index = 0; index < 23; index++) dave.send(`PRIVMSG #history :old ${index}`);
    await settle(dave);
    const made = engineClient(fixture.http, { nick: 'erin', register: { account: 'erin', password: 'erin-secret-pw' }, autojoin: ['#history'], historyPageSize: 10 });
    clients.push(made.client);
    made.client.start();
    await until(made.client, (s) => textsOf(s, '#history').length === 10, 'the latest page');
    assert.deepEqual(textsOf(made.client.state, '#history').slice(-2), ['old 21', 'old 22']);
    assert.equal(await made.client.loadOlder('#history'), true);
    assert.equal(await made.client.loadOlder('#history'), false, 'the third page is short: the beginning');
    assert.deepEqual(textsOf(made.client.state, '#history'), Array.from({ length: 23 }, (_, index) => `old ${index}`));
    assert.equal(made.client.state.buffers.get('#history')!.historyComplete, true);
  });

  it('after a network drop, resumes with what it missed, once, and sends what was typed meanwhile, once', async () => {
    const { client, link } = await signedUp('frank', ['#resume']);
    const gina = await rawUser('gina', '#resume');
    gina.send('PRIVMSG #resume :before');
    await until(client, (s) => textsOf(s, '#resume').includes('before'), 'live message');
    gina.send('PRIVMSG frank :a direct one before');
    await until(client, (s) => textsOf(s, 'gina').length === 1, 'DM before');

    link.drop();
    await until(client, (s) => s.status !== 'connected', 'disconnected');
    for (let index = 0; index < 5; index++) gina.send(`PRIVMSG #resume :missed ${index}`);
    gina.send('PRIVMSG frank :a direct one missed');
    await settle(gina);
    client.say('#resume', 'typed while away');

    const state = await until(client, (s) => s.status === 'connected' && textsOf(s, '#resume').includes('typed while away') && textsOf(s, 'gina').length === 2, 'resumed', 8000);
    assert.deepEqual(textsOf(state, '#resume'), ['before', 'missed 0', 'missed 1', 'missed 2', 'missed 3', 'missed 4', 'typed while away']);
    assert.deepEqual(textsOf(state, 'gina'), ['a direct one before', 'a direct one missed']);
    await gina.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'typed while away');
    await settle(gina);
    assert.ok(!gina.drain().some((m) => m.params[1] === 'typed while away'), 'sent once');
  });

  it('a message whose echo was lost is not sent twice; one that never left is sent after the reconnect', async () => {
    const { client, link } = await signedUp('hank', ['#exactly']);
    const ivy = await rawUser('ivy', '#exactly');

    // The line reaches the server, but the connection drops before the echo comes back.
    client.say('#exactly', 'reached the server');
    link.drop();
    await ivy.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'reached the server');
    // Lost on the way: the link swallows it, then drops.
    await until(client, (s) => s.status === 'connected', 'reconnected');
    await until(client, (s) => s.outbox.length === 0, 'first one confirmed from history');
    link.swallowSends();
    client.say('#exactly', 'never left');
    link.drop();

    const state = await until(client, (s) => s.status === 'connected' && s.outbox.length === 0 && textsOf(s, '#exactly').includes('never left'), 'both delivered', 8000);
    assert.deepEqual(textsOf(state, '#exactly'), ['reached the server', 'never left']);
    await ivy.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'never left');
    await settle(ivy);
    const repeats = ivy.drain().filter((m) => m.command === 'PRIVMSG');
    assert.deepEqual(repeats.map((m) => m.params[1]), [], 'each reached the room exactly once');
  });

  it('slash commands: /help lists them all; /topic, /op, /mute, /kick act on the room the user is in', async () => {
    const { client } = await signedUp('lena', ['#mods']);
    const mike = await rawUser('mike', '#mods');
    await until(client, (s) => s.buffers.get('#mods')?.members.has('mike') === true, 'mike in the member list');
    await runInput(client, '#mods', '/help');
    const notes = client.state.buffers.get('#mods')!.messages.filter((m) => m.kind === 'info').map((m) => m.text);
    for (const name of Object.keys(COMMANDS)) assert.ok(notes.some((text) => text.startsWith(`/${name}`)), `/help lists /${name}`);
    await runInput(client, '#mods', '/topic Be nice');
    await until(client, (s) => s.buffers.get('#mods')?.topic === 'Be nice', 'topic set');
    await runInput(client, '#mods', '/op mike');
    await until(client, (s) => s.buffers.get('#mods')?.members.get('mike')?.prefixes === '@', 'mike is an operator');
    await runInput(client, '#mods', '/deop mike');
    await runInput(client, '#mods', '/mute mike');
    await mike.expect((m) => m.command === 'MODE' && m.params[2] === 'm:mike!*@*');
    mike.send('PRIVMSG #mods :am I muted?');
    await mike.expect((m) => m.command === '404');
    await runInput(client, '#mods', '/kick mike enough');
    await mike.expect((m) => m.command === 'KICK' && m.params[1] === 'mike' && m.params[2] === 'enough');
    await until(client, (s) => s.buffers.get('#mods')?.members.has('mike') === false, 'mike gone from the list');
    await runInput(client, '#mods', '/kick');
    assert.equal(client.state.buffers.get('#mods')!.messages.at(-1)?.text, 'Usage: /kick <nick> [reason]');
  });

  it('whispers: /whisper, whisper() and the composer’s whisper mode reach one member, shown in the room on both sides', async () => {
    const { client } = await signedUp('nora', ['#hush']);
    const oscar = await TestClient.register(fixture.server.port, 'oscar', { caps: ['message-tags', 'echo-message'] });
    raw.push(oscar);
    await join(oscar, '#hush');
    const pat = await rawUser('pat', '#hush');
    await until(client, (s) => s.buffers.get('#hush')?.members.has('oscar') === true && s.buffers.get('#hush')?.members.has('pat') === true, 'both in the member list');

    await runInput(client, '#hush', '/whisper oscar just for you');
    const heard = await oscar.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'just for you');
    assert.equal(heard.params[0], 'oscar');
    assert.equal(heard.tags?.get('+channel-context'), '#hush');
    assert.equal(heard.tags.get('+draft/channel-context'), '#hush');
    let state = await until(client, (s) => textsOf(s, '#hush').includes('just for you') && s.outbox.length === 0, 'the echo, in the room');
    const mine = state.buffers.get('#hush')!.messages.find((m) => m.text === 'just for you')!;
    assert.equal(mine.self, true);
    assert.deepEqual(mine.whisper, { with: 'oscar', room: '#hush' });
    assert.equal(state.buffers.has('oscar'), false, 'no direct conversation opens for a whisper');

    oscar.send('@+channel-context=#hush PRIVMSG nora :a secret back');
    state = await until(client, (s) => textsOf(s, '#hush').includes('a secret back'), 'the whisper received, in the room');
    const theirs = state.buffers.get('#hush')!.messages.find((m) => m.text === 'a secret back')!;
    assert.deepEqual(theirs.whisper, { with: 'oscar', room: '#hush' });
    assert.equal(theirs.highlight, true);

    await runInput(client, '#hush', 'from the composer', { whisperTo: 'oscar' });
    const composed = await oscar.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'from the composer');
    assert.equal(composed.tags?.get('+channel-context'), '#hush');

    const quinn = await TestClient.register(fixture.server.port, 'quinn');
    raw.push(quinn);
    client.whisper('#hush', 'quinn', 'you are not in the room');
    await until(client, (s) => s.outbox.length === 0 && [...s.buffers.values()].some((b) => b.messages.some((m) => m.kind === 'error' && m.text.includes('quinn is not in #hush'))), 'the refusal shown');
    await runInput(client, '#hush', '/whisper oscar');
    assert.equal(client.state.buffers.get('#hush')!.messages.at(-1)?.text, 'Usage: /whisper <nick> <text>');

    await settle(pat, quinn);
    assert.deepEqual([...pat.drain(), ...quinn.drain()].filter((m) => m.command === 'PRIVMSG').map((m) => m.raw), [], 'nobody else heard a thing');
  });

  it('a whisper whose echo was lost is not sent twice; one typed while away is sent once the connection is back', async () => {
    const { client, link } = await signedUp('rita', ['#later']);
    const sam = await TestClient.register(fixture.server.port, 'sam', { caps: ['message-tags'] });
    raw.push(sam);
    await join(sam, '#later');
    await until(client, (s) => s.buffers.get('#later')?.members.has('sam') === true, 'sam in the member list');

    client.whisper('#later', 'sam', 'echo lost');
    link.drop();
    await sam.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'echo lost');
    await until(client, (s) => s.status === 'connected' && s.outbox.length === 0, 'confirmed from the conversation’s history', 8000);
    link.drop();
    await until(client, (s) => s.status !== 'connected', 'disconnected');
    client.whisper('#later', 'sam', 'typed while away');
    const state = await until(client, (s) => s.status === 'connected' && s.outbox.length === 0 && textsOf(s, '#later').includes('typed while away'), 'sent after the reconnect', 8000);
    const heard = await sam.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'typed while away');
    assert.equal(heard.tags?.get('+channel-context'), '#later');
    assert.deepEqual(
      state.buffers.get('#later')!.messages.filter((m) => m.whisper !== undefined).map((m) => m.text),
      ['echo lost', 'typed while away'],
      'both shown once, in the room',
    );
    await settle(sam);
    assert.deepEqual(sam.drain().filter((m) => m.command === 'PRIVMSG').map((m) => m.params[1]), [], 'each reached sam exactly once');
  });

  it('sends a text with newlines as one multiline message, and reactions, replies and deletion round-trip', async () => {
    const { client } = await signedUp('jack', ['#features']);
    const kim = await TestClient.register(fixture.server.port, 'kim', { caps: ['message-tags', 'batch', 'draft/multiline', 'draft/message-redaction', 'server-time'] });
    raw.push(kim);
    await join(kim, '#features');
    client.say('#features', 'line one\nline two');
    const open = await kim.expect((m) => m.command === 'BATCH' && m.params[1] === 'draft/multiline');
    const lines = [await kim.expect('PRIVMSG'), await kim.expect('PRIVMSG')];
    assert.deepEqual(lines.map((m) => m.params[1]), ['line one', 'line two']);
    assert.ok(lines.every((m) => m.tags?.get('batch') === open.params[0]?.slice(1)));
    const state = await until(client, (s) => textsOf(s, '#features').includes('line one\nline two'), 'one message of two lines');
    const message = state.buffers.get('#features')!.messages.find((m) => m.text === 'line one\nline two')!;

    await client.react('#features', message.id, '🎉');
    const reaction = await kim.expect((m) => m.command === 'TAGMSG');
    assert.equal(reaction.tags!.get('+draft/react'), '🎉');
    assert.equal(reaction.tags!.get('+draft/reply'), message.id);
    await until(client, (s) => s.buffers.get('#features')!.messages.find((m) => m.id === message.id)?.reactions?.['🎉']?.includes('jack') === true, 'reaction shown');

    client.say('#features', 'a reply', { replyTo: message.id });
    const reply = await kim.expect((m) => m.command === 'PRIVMSG' && m.params[1] === 'a reply');
    assert.equal(reply.tags?.get('+draft/reply'), message.id);

    await client.redact('#features', message.id);
    await kim.expect((m) => m.command === 'REDACT' && m.params[1] === message.id);
    const after = await until(client, (s) => s.buffers.get('#features')!.messages.find((m) => m.id === message.id)?.redacted === true, 'shown as deleted');
    assert.equal(after.buffers.get('#features')!.messages.find((m) => m.id === message.id)!.text, '');
  });
});
