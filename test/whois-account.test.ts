import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestClient } from './helpers/client.js';
import { registerAccount } from './helpers/login.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

describe('WHOIS and WHOX show accounts', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.stop();
  });

  it('WHOIS of a logged-in user gives 330 RPL_WHOISACCOUNT with the account; WHOX %a gives the account, or 0 without one', async () => {
    const logged = await registerAccount(server.port, 'whoisacct', 'long-enough-password');
    const plain = await TestClient.register(server.port, 'plainwho');
    plain.send('WHOIS whoisacct');
    const account = await plain.expect('330');
    assert.deepEqual(account.params, ['plainwho', 'whoisacct', 'whoisacct', 'is logged in as']);
    await plain.expect('318');
    plain.send('WHOIS plainwho');
    const replies = await plain.roundtrip();
    assert.ok(!replies.some((m) => m.command === '330'), 'no 330 for a user without an account');
    plain.send('WHO whoisacct %na');
    assert.deepEqual((await plain.expect('354')).params, ['plainwho', 'whoisacct', 'whoisacct']);
    plain.send('WHO plainwho %na');
    assert.deepEqual((await plain.expect('354')).params, ['plainwho', 'plainwho', '0']);
    logged.close();
    plain.close();
  });
});
