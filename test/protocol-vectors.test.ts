/** The public IRC parser vectors (test/fixtures/irc-parser-tests, CC0): every case must pass. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { casefoldRfc1459 } from '../src/protocol/casemapping.js';
import { isValidHostname, matchMask, splitUserhost } from '../src/protocol/mask.js';
import { parseMessage, serializeMessage } from '../src/protocol/message.js';
import type { IrcMessage } from '../src/protocol/message.js';

// The type parameter states the fixture's shape at each call site; the YAML itself is not checked.
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters
function load<T>(name: string): T {
  return parseYaml(readFileSync(new URL(`fixtures/irc-parser-tests/${name}`, import.meta.url), 'utf8')) as T;
}

interface Atoms {
  tags?: Record<string, string | null>;
  source?: string;
  verb: string;
  params?: string[];
}

describe('msg-split: parsing lines into tags, source, verb and params', () => {
  const { tests } = load<{ tests: Array<{ input: string; atoms: Atoms }> }>('msg-split.yaml');
  for (const vector of tests) {
    it(vector.input, () => {
      const parsed = parseMessage(vector.input);
      assert.ok(parsed);
      assert.equal(parsed.command, vector.atoms.verb);
      assert.equal(parsed.source, vector.atoms.source);
      assert.deepEqual(parsed.params, vector.atoms.params ?? []);
      const expectedTags = vector.atoms.tags === undefined ? undefined : Object.entries(vector.atoms.tags).map(([k, v]) => [k, v ?? '']);
      assert.deepEqual(parsed.tags === undefined ? undefined : [...parsed.tags.entries()], expectedTags);
    });
  }
  it('has vectors', () => {
    assert.ok(tests.length >= 30);
  });
});

describe('msg-join: serializing atoms into one of the accepted lines', () => {
  const { tests } = load<{ tests: Array<{ desc: string; atoms: Atoms; matches: string[] }> }>('msg-join.yaml');
  for (const vector of tests) {
    it(vector.desc, () => {
      const message: IrcMessage = { command: vector.atoms.verb, params: vector.atoms.params ?? [] };
      if (vector.atoms.source !== undefined) message.source = vector.atoms.source;
      if (vector.atoms.tags !== undefined) message.tags = new Map(Object.entries(vector.atoms.tags).map(([k, v]) => [k, v ?? '']));
      const line = serializeMessage(message);
      if (vector.matches.includes(line)) return;
      // Tag order is free: accept any match whose parsed form equals ours.
      const reparsed = parseMessage(line);
      assert.ok(
        vector.matches.some((candidate) => JSON.stringify(parseMessage(candidate), replacer) === JSON.stringify(reparsed, replacer)),
        `${line} is not one of ${vector.matches.join(' | ')}`,
      );
    });
  }
});

function replacer(_key: string, value: unknown): unknown {
  return value instanceof Map ? [...value.entries()].sort() : value;
}

describe('userhost-split', () => {
  const { tests } = load<{ tests: Array<{ source: string; atoms: { nick?: string; user?: string; host?: string } }> }>('userhost-split.yaml');
  for (const vector of tests) {
    it(vector.source, () => {
      assert.deepEqual(splitUserhost(vector.source), vector.atoms);
    });
  }
});

describe('validate-hostname', () => {
  const { tests } = load<{ tests: Array<{ host: string; valid: boolean }> }>('validate-hostname.yaml');
  for (const vector of tests) {
    it(`${JSON.stringify(vector.host)} is ${vector.valid ? 'valid' : 'invalid'}`, () => {
      assert.equal(isValidHostname(vector.host), vector.valid);
    });
  }
});

describe('mask-match', () => {
  const { tests } = load<{ tests: Array<{ mask: string; matches?: string[]; fails?: string[] }> }>('mask-match.yaml');
  for (const vector of tests) {
    it(vector.mask, () => {
      for (const subject of vector.matches ?? []) assert.ok(matchMask(vector.mask, subject, casefoldRfc1459), `${vector.mask} should match ${subject}`);
      for (const subject of vector.fails ?? []) assert.ok(!matchMask(vector.mask, subject, casefoldRfc1459), `${vector.mask} should not match ${subject}`);
    });
  }
});
