import { BoundedText, truncateText } from './text-bounds';

describe('text bounds', () => {
  it('leaves short text alone', () => {
    expect(truncateText('hello', 16)).toBe('hello');
  });

  it('cuts long text at a character boundary and says how many bytes were left out', () => {
    const text = 'é'.repeat(10); // 20 bytes
    expect(truncateText(text, 5)).toBe('éé…[truncated 16 bytes]');
  });

  it('bounds text that arrives in pieces, counting what it drops', () => {
    const t = new BoundedText(8);
    for (const piece of ['\n  abcd', 'efghij', 'klmnop', 'qrstuvwxyz']) t.append(piece);
    expect(t.truncated).toBe(true);
    // The 8 kept bytes are "\n  abcde"; 29 bytes came in.
    expect(t.value()).toBe('abcde…[truncated 21 bytes]');
  });

  it('trims surrounding white space of untruncated text', () => {
    const t = new BoundedText(100);
    t.append('\n  output ');
    t.append('text\n');
    expect(t.value()).toBe('output text');
  });
});
