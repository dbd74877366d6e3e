/**
 * View-once messages in the client engine (issue 7, client side) against a real server over WebSocket: the engine
 * asks for natter.chat/view-once, shows what it receives sealed (never the placeholder), opens it once with the
 * content returned to the caller and never put into the state, follows the account's other devices (VIEWONCE OPENED),
 * and after connecting shows what is still waiting (VIEWONCE LIST).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RequestError } from '../src/client/index.js';
import type { ChatClient, ChatMessage, ClientState } from '../src/client/index.js';
import { TestClient } from './helpers/client.js';
import { engineClient, engineFixture, until } from './helpers/engine.js';

function find(state: ClientState, buffer: string, predicate: (message: ChatMessage) => boolean): ChatMessage | undefined {
  return state.buffers.get(buffer)?.messages.find(predicate);
}

function stateHolds(state: ClientState, text: string): boolean {
  return [...state.buffers.values()].some((buffer) => buffer.messages.some((message) => message.text.includes(text)));
}

describe('client engine: view-once messages', () => {
  const fixture = engineFixture();
  const { clients, raw } = fixture;

  async function connected(nick: string, credentials: { register?: boolean; account: string }): Promise<ChatClient> {
    const secret = { account: credentials.account, password: `${credentials.account}-secret-pw` };
    const { client } = engineClient(fixture.http, { nick, ...(credentials.register === true ? { register: secret } : { login: secret }) });
    clients.push(client);
    client.start();
    await until(client, (state) => state.status === 'connected' && state.account === credentials.account, `${nick} connected`);
    return client;
  }

  it('sends sealed, shows sealed without the placeholder, opens once; the content stays out of the state', async () => {
    const alice = await connected('alice', { register: true, account: 'alice' });
    const bob = await connected('bob', { register: true, account: 'bob' });
    assert.ok(alice.hasCap('natter.chat/view-once') && bob.hasCap('natter.chat/view-once'), 'the cap is negotiated');

    await alice.sendViewOnce('bob', 'the door code is 4711');
    const mine = await until(alice, (s) => find(s, 'bob', (m) => m.viewOnce !== undefined) !== undefined, 'alice sees her own');
    assert.deepEqual(find(mine, 'bob', (m) => m.viewOnce !== undefined)?.viewOnce, { state: 'sent' });
    const sealedState = await until(bob, (s) => find(s, 'alice', (m) => m.viewOnce?.state === 'sealed') !== undefined, 'bob sees it sealed');
    const sealed = find(sealedState, 'alice', (m) => m.viewOnce?.state === 'sealed')!;
    assert.equal(sealed.text, '', 'no placeholder text');
    assert.ok(!stateHolds(sealedState, '4711') && !stateHolds(alice.state, '4711'), 'no content anywhere yet');

    assert.equal(await bob.openViewOnce('alice', sealed.id), 'the door code is 4711');
    assert.equal(find(bob.state, 'alice', (m) => m.id === sealed.id)?.viewOnce?.state, 'opened');
    assert.ok(!stateHolds(bob.state, '4711'), 'the content is not in the state after opening');

    await assert.rejects(bob.openViewOnce('alice', sealed.id), (error: unknown) => error instanceof RequestError);
    assert.equal(find(bob.state, 'alice', (m) => m.id === sealed.id)?.viewOnce?.state, 'opened', 'still opened (ALREADY_OPENED)');
    await assert.rejects(alice.openViewOnce('bob', sealed.id), RequestError, 'the sender cannot open it');
    assert.equal(find(alice.state, 'bob', (m) => m.id === sealed.id)?.viewOnce?.state, 'sent');
  });

  it("opening on one device marks it opened on the account's other device; VIEWONCE LIST shows what waits after connecting", async () => {
    const carol = await TestClient.register(fixture.server.port, 'carol', { caps: ['message-tags', 'echo-message', 'natter.chat/view-once'] });
    raw.push(carol);
    carol.send('@natter.chat/view-once PRIVMSG bob :first secret');
    const first = await carol.expect((m) => m.command === 'PRIVMSG' && m.tags?.has('natter.chat/view-once') === true);
    carol.send('@natter.chat/view-once PRIVMSG bob :second secret');
    const second = await carol.expect((m) => m.command === 'PRIVMSG' && m.tags?.has('natter.chat/view-once') === true && m.tags.get('msgid') !== first.tags?.get('msgid'));
    const firstId = first.tags?.get('msgid') ?? assert.fail('no msgid');
    const secondId = second.tags?.get('msgid') ?? assert.fail('no msgid');

    // A new device of bob's, connecting after both were sent: they come from VIEWONCE LIST, sealed.
    const phone = await connected('bob', { account: 'bob' });
    const listed = await until(phone, (s) => [firstId, secondId].every((id) => find(s, 'carol', (m) => m.id === id)?.viewOnce?.state === 'sealed'), 'the phone lists both');
    assert.ok(!stateHolds(listed, 'secret'));

    const laptop = clients.find((client) => client.state.account === 'bob' && client !== phone)!;
    await until(laptop, (s) => find(s, 'carol', (m) => m.id === firstId) !== undefined, 'the laptop has it too');
    assert.equal(await laptop.openViewOnce('carol', firstId), 'first secret');
    await until(phone, (s) => find(s, 'carol', (m) => m.id === firstId)?.viewOnce?.state === 'opened', 'the phone learns it was opened (VIEWONCE OPENED)');
    assert.equal(find(phone.state, 'carol', (m) => m.id === secondId)?.viewOnce?.state, 'sealed', 'the other one is still sealed');
  });

  it('refuses an empty view-once message, and one to a nick that does not exist is refused by the server', async () => {
    const alice = clients[0]!;
    await assert.rejects(alice.sendViewOnce('bob', '   '), RequestError);
    await assert.rejects(alice.sendViewOnce('nobody-here', 'hello'), RequestError);
  });
});
