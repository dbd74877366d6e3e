import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLUSTER_HEADING, clusterSectionOf, keepClusterSection, nodeOf, spliceClusterSection } from './cluster-report.js';

const REPORT = '# Benchmarks\n\n## Results\n\ntables\n\n## How the figures are measured\n\n- bullets\n';
const block = (key: string, body: string): string =>
  `<!-- cluster-bench:begin ${key}: generated -->\n${body}\n<!-- cluster-bench:end ${key} -->`;

describe('cluster report section', () => {
  it('puts a first run in a new section before "How the figures are measured"', () => {
    const md = spliceClusterSection(REPORT, block('history', 'v1'), 'history');
    assert.ok(md.indexOf(CLUSTER_HEADING) > md.indexOf('## Results'));
    assert.ok(md.indexOf(CLUSTER_HEADING) < md.indexOf('## How the figures are measured'));
    assert.match(clusterSectionOf(md) ?? '', /v1/);
  });

  it('replaces its own block, keeps the notes and the other kind', () => {
    let md = spliceClusterSection(REPORT, block('history', 'v1'), 'history');
    md = md.replace('<!-- cluster-bench:end history -->\n', '<!-- cluster-bench:end history -->\n\nHand notes.\n');
    md = spliceClusterSection(md, block('nohistory', 'n1'), 'nohistory');
    md = spliceClusterSection(md, block('history', 'v2'), 'history');
    const section = clusterSectionOf(md) ?? '';
    assert.doesNotMatch(section, /v1/);
    assert.match(section, /v2/);
    assert.match(section, /n1/);
    assert.match(section, /Hand notes\./);
    assert.ok(section.indexOf('v2') < section.indexOf('n1'));
    assert.equal(md.split(CLUSTER_HEADING).length, 2);
  });

  it('survives the main bench rewriting the report', () => {
    const old = spliceClusterSection(REPORT, block('history', 'v1'), 'history');
    const fresh = REPORT.replace('tables', 'new tables');
    const md = keepClusterSection(old, fresh);
    assert.match(md, /new tables/);
    assert.match(clusterSectionOf(md) ?? '', /v1/);
    assert.ok(md.indexOf(CLUSTER_HEADING) < md.indexOf('## How the figures are measured'));
    assert.equal(keepClusterSection(undefined, fresh), fresh);
  });

  it('spreads members evenly with the senders on node 0', () => {
    const per = [0, 0, 0];
    for (let i = 0; i < 200; i++) per[nodeOf(i, 1, 3)]! += 1;
    assert.deepEqual(per, [67, 67, 66]);
    assert.equal(nodeOf(0, 1, 3), 0);
    assert.equal(nodeOf(2, 3, 3), 0);
  });
});
