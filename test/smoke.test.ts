import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestClient } from './helpers/client.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

describe('a room conversation', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.stop();
  });

  it('two users join a room and each sees the other speak; a third outside hears nothing', async () => {
    const alice = await TestClient.register(server.port, 'alice');
    const bob = await TestClient.register(server.port, 'bob');
    const carol = await TestClient.register(server.port, 'carol');
    alice.send('JOIN #lobby');
    await alice.expect('366');
    bob.send('JOIN #lobby');
    await bob.expect('366');
    await alice.expect((m) => m.command === 'JOIN' && m.source?.startsWith('bob!') === true);
    alice.send('PRIVMSG #lobby :hello bob');
    const got = await bob.expect('PRIVMSG');
    assert.equal(got.source, 'alice!~alice@127.0.0.1');
    assert.deepEqual(got.params, ['#lobby', 'hello bob']);
    const carolSaw = await carol.roundtrip();
    assert.deepEqual(carolSaw, []);
    const aliceSaw = await alice.roundtrip();
    assert.ok(!aliceSaw.some((m) => m.command === 'PRIVMSG'), 'no echo without echo-message');
    await Promise.all([alice.quit(), bob.quit(), carol.quit()]);
  });
});
