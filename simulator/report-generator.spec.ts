import { Writable } from 'node:stream';
import { SaxesParser } from 'saxes';
import { expectedCounts, writeSyntheticReport, type SyntheticReportOptions } from './report-generator';

interface Parsed {
  hosts: string[];
  items: number;
  severity: number[];
  plugins: Map<number, string[]>;
  hostTags: Map<string, string>[];
  itemChildren: Set<string>;
}

/** Writes the report into a saxes parser chunk by chunk, asserting that the XML is well formed. */
async function generateAndParse(opts: SyntheticReportOptions, highWaterMark = 16 * 1024) {
  const parsed: Parsed = {
    hosts: [],
    items: 0,
    severity: [0, 0, 0, 0, 0],
    plugins: new Map(),
    hostTags: [],
    itemChildren: new Set(),
  };
  const parser = new SaxesParser();
  const stack: string[] = [];
  let pluginId = 0;
  let tagName = '';
  let text = '';
  parser.on('opentag', (t) => {
    stack.push(t.name);
    text = '';
    if (t.name === 'ReportHost') {
      parsed.hosts.push(String(t.attributes.name));
      parsed.hostTags.push(new Map());
    }
    if (t.name === 'tag') tagName = String(t.attributes.name);
    if (t.name === 'ReportItem') {
      parsed.items++;
      parsed.severity[Number(t.attributes.severity)]++;
      pluginId = Number(t.attributes.pluginID);
    }
    if (stack[stack.length - 2] === 'ReportItem') parsed.itemChildren.add(t.name);
  });
  parser.on('text', (t) => (text += t));
  parser.on('closetag', (t) => {
    stack.pop();
    if (t.name === 'tag') parsed.hostTags[parsed.hostTags.length - 1].set(tagName, text);
    if (t.name === 'plugin_output') {
      const list = parsed.plugins.get(pluginId) ?? [];
      list.push(text);
      parsed.plugins.set(pluginId, list);
    }
  });
  let bytes = 0;
  let writes = 0;
  const sink = new Writable({
    highWaterMark,
    write(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      writes++;
      parser.write(chunk.toString('utf8'));
      setImmediate(cb);
    },
  });
  const counts = await writeSyntheticReport(sink, opts);
  parser.close();
  return { counts, parsed, bytes, writes };
}

describe('synthetic report generator', () => {
  it.each<SyntheticReportOptions>([
    { hosts: 1, findingsPerHost: 5 },
    { hosts: 7, findingsPerHost: 30, seed: 42 },
    { hosts: 3, findingsPerHost: 60, seed: 9, credentialed: 'success' },
    { hosts: 4, findingsPerHost: 0, credentialed: 'failed' },
    { hosts: 0, findingsPerHost: 10 },
  ])('produces exactly the counts expectedCounts announces (%j)', async (opts) => {
    const { counts, parsed } = await generateAndParse(opts);
    const expected = expectedCounts(opts);
    expect(counts).toEqual(expected);
    expect(parsed.hosts).toHaveLength(expected.hosts);
    expect(parsed.items).toBe(expected.total);
    const s = expected.severity;
    expect(parsed.severity).toEqual([s.info, s.low, s.medium, s.high, s.critical]);
  });

  it('spreads findings over every severity for a realistic report', () => {
    const c = expectedCounts({ hosts: 10, findingsPerHost: 24 });
    expect(c.total).toBe(240);
    for (const v of Object.values(c.severity)) expect(v).toBeGreaterThan(0);
  });

  it('is deterministic for a seed and differs between seeds', async () => {
    const a = await generateAndParse({ hosts: 5, findingsPerHost: 7, seed: 3 });
    const b = await generateAndParse({ hosts: 5, findingsPerHost: 7, seed: 3 });
    expect(a.bytes).toBe(b.bytes);
    expect(a.counts).toEqual(b.counts);
    const other = [4, 5, 6, 7, 8].map((seed) => expectedCounts({ hosts: 5, findingsPerHost: 7, seed }));
    expect(other.some((c) => JSON.stringify(c) !== JSON.stringify(a.counts))).toBe(true);
  });

  it('names hosts after the targets and carries the usual host properties', async () => {
    const { parsed } = await generateAndParse({
      hosts: 3,
      findingsPerHost: 2,
      targets: ['192.0.2.10', 'web01.example.test'],
    });
    expect(parsed.hosts).toEqual(['192.0.2.10', 'web01.example.test', expect.stringMatching(/^10\./)]);
    expect(parsed.hostTags[0].get('host-ip')).toBe('192.0.2.10');
    expect(parsed.hostTags[1].get('host-fqdn')).toBe('web01.example.test');
    for (const tags of parsed.hostTags) {
      for (const t of ['host-ip', 'HOST_START', 'HOST_END', 'operating-system', 'host-fqdn'])
        expect(tags.has(t)).toBe(true);
      expect(tags.get('HOST_START')).toMatch(/^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}$/);
    }
  });

  it('writes the vulnerability fields a parser needs', async () => {
    const { parsed } = await generateAndParse({ hosts: 2, findingsPerHost: 24 });
    for (const child of [
      'description',
      'solution',
      'synopsis',
      'risk_factor',
      'plugin_output',
      'cve',
      'cvss_base_score',
      'cvss_vector',
      'cvss3_base_score',
      'cvss3_vector',
      'exploit_available',
      'see_also',
      'plugin_type',
    ]) {
      expect(parsed.itemChildren).toContain(child);
    }
  });

  it.each([
    ['success', 'yes', [141118, 110095], [104410, 110385]],
    ['partial', 'partial', [141118, 110385], [104410, 110095]],
    ['failed', 'no', [104410], [141118, 110095, 110385]],
  ] as const)('reports credential status %s consistently', async (status, word, present, absent) => {
    const { parsed } = await generateAndParse({ hosts: 2, findingsPerHost: 3, credentialed: status });
    const info = parsed.plugins.get(19506)!;
    expect(info).toHaveLength(2);
    for (const out of info) expect(out).toMatch(new RegExp(`Credentialed checks : ${word}\\b`));
    for (const id of present) expect(parsed.plugins.get(id)).toHaveLength(2);
    for (const id of absent) expect(parsed.plugins.has(id)).toBe(false);
    expect(parsed.hostTags[0].get('Credentialed_Scan')).toBe(String(status !== 'failed'));
  });

  it('leaves out credential plugins for an uncredentialed scan', async () => {
    const { parsed } = await generateAndParse({ hosts: 2, findingsPerHost: 24, credentialed: 'none' });
    for (const id of [19506, 141118, 104410, 110385, 110095]) expect(parsed.plugins.has(id)).toBe(false);
  });

  it('pads plugin output and streams a large report through a slow sink in many chunks', async () => {
    const { parsed, bytes, writes } = await generateAndParse(
      { hosts: 20, findingsPerHost: 50, pluginOutputBytes: 4096 },
      1024,
    );
    expect(bytes).toBeGreaterThan(20 * 50 * 4096);
    expect(writes).toBeGreaterThan(50);
    for (const outputs of parsed.plugins.values()) for (const o of outputs) expect(o.length).toBe(4096);
  });
});
