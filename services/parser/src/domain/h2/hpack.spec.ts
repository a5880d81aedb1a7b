import { HpackDecoder, HpackError } from './hpack';
import { huffmanCode, huffmanDecode, huffmanEncode, HuffmanError } from './huffman';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('Huffman code (RFC 7541 Appendix B)', () => {
  it('rebuilds the code points of Appendix B from the code lengths', () => {
    // [symbol, code as printed, bits] sampled across every length of the table.
    const points: Array<[number, number, number]> = [
      [48, 0x0, 5], [116, 0x9, 5], [32, 0x14, 6], [122, 0x7b, 7], [38, 0xf8, 8], [33, 0x3f8, 10], [39, 0x7fa, 11],
      [35, 0xffa, 12], [0, 0x1ff8, 13], [126, 0x1ffd, 13], [94, 0x3ffc, 14], [60, 0x7ffc, 15], [123, 0x7ffe, 15],
      [92, 0x7fff0, 19], [195, 0x7fff1, 19], [208, 0x7fff2, 19], [128, 0xfffe6, 20], [226, 0xfffed, 20],
      [153, 0x1fffdc, 21], [229, 0x1fffe7, 21], [129, 0x3fffd2, 22], [233, 0x3fffeb, 22], [1, 0x7fffd8, 23],
      [239, 0x7ffff4, 23], [9, 0xffffea, 24], [237, 0xfffff5, 24], [199, 0x1ffffec, 25], [235, 0x1ffffef, 25],
      [192, 0x3ffffe0, 26], [255, 0x3ffffee, 26], [203, 0x7ffffde, 27], [254, 0x7fffff0, 27], [2, 0xfffffe2, 28],
      [127, 0xffffffc, 28], [249, 0xffffffe, 28], [10, 0x3ffffffc, 30], [22, 0x3ffffffe, 30], [256, 0x3fffffff, 30],
    ];
    for (const [sym, code, bits] of points) expect([sym, huffmanCode(sym)]).toEqual([sym, { code, bits }]);
  });

  it('decodes the spec examples and round-trips every octet', () => {
    expect(Buffer.from(huffmanDecode(hex('f1e3 c2e5 f23a 6ba0 ab90 f4ff'))).toString()).toBe('www.example.com');
    expect(Buffer.from(huffmanDecode(hex('a8eb 1064 9cbf'))).toString()).toBe('no-cache');
    expect(Buffer.from(huffmanDecode(hex('6402'))).toString()).toBe('302');
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(Buffer.from(huffmanDecode(huffmanEncode(all))).equals(Buffer.from(all))).toBe(true);
    expect(huffmanDecode(new Uint8Array(0))).toEqual(new Uint8Array(0));
  });

  it('rejects padding longer than 7 bits, padding that is not EOS bits, and EOS itself', () => {
    expect(() => huffmanDecode(hex('ff'))).toThrow(HuffmanError); // 8 bits of padding
    expect(() => huffmanDecode(hex('00'))).toThrow(HuffmanError); // '0' (00000) then 000 padding
    expect(() => huffmanDecode(hex('ffff ffff'))).toThrow(/EOS/);
  });
});

describe('HPACK decoder (RFC 7541 Appendix C)', () => {
  it('C.2: literal with indexing, without indexing, never indexed, indexed', () => {
    const d = new HpackDecoder();
    expect(d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572')).headers).toEqual([['custom-key', 'custom-header']]);
    expect(d.table()).toEqual({ entries: [['custom-key', 'custom-header']], size: 55, maxSize: 4096 });
    const e = new HpackDecoder();
    expect(e.decode(hex('040c 2f73 616d 706c 652f 7061 7468')).headers).toEqual([[':path', '/sample/path']]);
    expect(e.decode(hex('1008 7061 7373 776f 7264 0673 6563 7265 74')).headers).toEqual([['password', 'secret']]);
    expect(e.decode(hex('82')).headers).toEqual([[':method', 'GET']]);
    expect(e.table().entries).toEqual([]);
  });

  const requests = [
    [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']],
    [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache']],
    [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']],
  ];
  const requestTables = [
    { entries: [[':authority', 'www.example.com']], size: 57 },
    { entries: [['cache-control', 'no-cache'], [':authority', 'www.example.com']], size: 110 },
    { entries: [['custom-key', 'custom-value'], ['cache-control', 'no-cache'], [':authority', 'www.example.com']], size: 164 },
  ];
  it.each([
    ['C.3 (no Huffman)', ['8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d', '8286 84be 5808 6e6f 2d63 6163 6865', '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65']],
    ['C.4 (Huffman)', ['8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff', '8286 84be 5886 a8eb 1064 9cbf', '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf']],
  ])('%s: three requests on one connection share the dynamic table', (_name, blocks) => {
    const d = new HpackDecoder();
    blocks.forEach((b, i) => {
      expect(d.decode(hex(b)).headers).toEqual(requests[i]);
      const t = d.table();
      expect({ entries: t.entries, size: t.size }).toEqual(requestTables[i]);
    });
  });

  const responses = [
    [[':status', '302'], ['cache-control', 'private'], ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'], ['location', 'https://www.example.com']],
    [[':status', '307'], ['cache-control', 'private'], ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'], ['location', 'https://www.example.com']],
    [[':status', '200'], ['cache-control', 'private'], ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'], ['location', 'https://www.example.com'], ['content-encoding', 'gzip'], ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1']],
  ];
  const responseTables = [
    { entries: [['location', 'https://www.example.com'], ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'], ['cache-control', 'private'], [':status', '302']], size: 222 },
    { entries: [[':status', '307'], ['location', 'https://www.example.com'], ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'], ['cache-control', 'private']], size: 222 },
    { entries: [['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'], ['content-encoding', 'gzip'], ['date', 'Mon, 21 Oct 2013 20:13:22 GMT']], size: 215 },
  ];
  it.each([
    ['C.5 (no Huffman)', [
      '4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
      '4803 3330 37c1 c0bf',
      '88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31',
    ]],
    ['C.6 (Huffman)', [
      '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3',
      '4883 640e ffc1 c0bf',
      '88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
    ]],
  ])('%s: three responses with a 256-byte table evict as the spec shows', (_name, blocks) => {
    // The spec's examples run with SETTINGS_HEADER_TABLE_SIZE = 256.
    const d = new HpackDecoder(256);
    blocks.forEach((b, i) => {
      expect(d.decode(hex(b)).headers).toEqual(responses[i]);
      const t = d.table();
      expect({ entries: t.entries, size: t.size }).toEqual(responseTables[i]);
    });
  });

  it('dynamic table size updates: shrink evicts, zero empties, above the SETTINGS limit or after a field is an error', () => {
    const d = new HpackDecoder(256);
    d.decode(hex('4803 3330 3258 0770 7269 7661 7465')); // :status 302, cache-control private
    expect(d.table().size).toBe(42 + 52);
    d.decode(hex('3f1b 82')); // size update to 58 (5-bit prefix: 31 + 27), then :method GET
    expect(d.table()).toEqual({ entries: [['cache-control', 'private']], size: 52, maxSize: 58 });
    d.decode(hex('20'));
    expect(d.table()).toEqual({ entries: [], size: 0, maxSize: 0 });
    expect(() => d.decode(hex('3fe2 01'))).toThrow(/above the limit 256/); // 31 + 98 + 128 = 257
    d.setLimit(4096);
    d.decode(hex('3fe1 1f')); // 4096
    expect(d.table().maxSize).toBe(4096);
    expect(() => d.decode(hex('82 3f1b'))).toThrow(/after a header field/);
  });

  it('an entry larger than the table empties it; bad indices and truncated blocks throw HpackError', () => {
    const d = new HpackDecoder(64);
    d.decode(hex('4003 6162 6303 7879 7a')); // abc: xyz → 38 bytes
    expect(d.table().size).toBe(38);
    d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572')); // 55 bytes: evicts abc
    expect(d.table().entries).toEqual([['custom-key', 'custom-header']]);
    d.decode(Buffer.concat([hex('4004'), Buffer.from('long'), Buffer.from([30]), Buffer.alloc(30, 0x61)])); // 66 > 64
    expect(d.table()).toEqual({ entries: [], size: 0, maxSize: 64 });
    expect(() => d.decode(hex('80'))).toThrow(HpackError); // index 0
    expect(() => d.decode(hex('be'))).toThrow(/beyond the dynamic table/); // index 62, table empty
    expect(() => d.decode(hex('400a 6375'))).toThrow(/past the block end/);
    expect(() => d.decode(hex('ff'))).toThrow(/inside an integer/);
  });

  it('a snapshot restores the exact table (the parser persists it across restarts)', () => {
    const d = new HpackDecoder(256);
    d.decode(hex('4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3'));
    const r = HpackDecoder.restore(JSON.parse(JSON.stringify(d.snapshot())));
    const next = hex('4883 640e ffc1 c0bf');
    expect(r.decode(next).headers).toEqual(d.decode(next).headers);
    expect(r.table()).toEqual(d.table());
    expect(() => HpackDecoder.restore({ entries: 'x', maxSize: 1, limit: 1 } as never)).toThrow(HpackError);
  });

  it('header lists above maxListBytes are flagged but the table still follows', () => {
    const d = new HpackDecoder();
    const r = d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572 82'), 60);
    expect(r.tooLarge).toBe(true);
    expect(r.headers).toEqual([['custom-key', 'custom-header']]);
    expect(d.table().entries).toHaveLength(1);
  });
});
