import { describe, expect, it } from 'vitest';
import { toCsv } from './csv.ts';

describe('CSV for the report downloads', () => {
  it('writes RFC 4180 with a byte order mark for Excel, quoting what needs it', () => {
    const csv = toCsv(['设备', 'Address', 'n'], [['HA-1', '人民路 1 号, 3 单元 "东"', 2], ['HA-2', null, 0], ['HA-3', 'line\nbreak', 1.5]]);
    expect(csv.startsWith('\uFEFF')).toBe(true);
    expect(csv.slice(1).split('\r\n')).toEqual(['设备,Address,n', 'HA-1,"人民路 1 号, 3 单元 ""东""",2', 'HA-2,,0', 'HA-3,"line\nbreak",1.5', '']);
  });

  it('keeps text a spreadsheet would run as a formula as text; numbers stay numbers', () => {
    const csv = toCsv(['a', 'b'], [['=HYPERLINK("http://x")', -3], ['@SUM(A1)', '+86 138']]);
    expect(csv.slice(1).split('\r\n').slice(1, 3)).toEqual([`"'=HYPERLINK(""http://x"")",-3`, "'@SUM(A1),'+86 138"]);
  });
});
