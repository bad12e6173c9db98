import { describe, expect, it } from 'vitest';
import { gatewaySite, sharedAddress } from './gateway-site.ts';
import type { DeviceInfo } from './ticket-service.ts';

const registry: Record<string, DeviceInfo> = {
  'HM-1': { district: '东区', address: '东区幸福路12号阳光花园3栋2单元301室', customer: '张三', lat: 31.2304, lon: 121.4737 },
  'HM-2': { district: '东区', address: '东区幸福路12号阳光花园5栋1单元102室', customer: '李四' },
  'IC-1': { district: '东区', address: '东区幸福路40号', customer: '阳光餐馆' },
  'HM-X': { district: '西区', address: '西区和平街8号', customer: '王五' },
  'GW-SITE': { district: '北区', address: '北区 9 号 机房' },
  'GW-MAPPED': { district: '北区', address: '北区 11 号 机房', lat: 31.26, lon: 121.44 },
};
const lookup = (id: string) => registry[id];

describe('issue 12 item 11: a gateway ticket shows its first device\'s customer and address', () => {
  it('gives the site the devices behind the gateway share, never a customer', () => {
    expect(gatewaySite('GW-7', ['HM-1', 'HM-2'], lookup)).toEqual({ district: '东区', address: '东区幸福路12号' });
    expect(gatewaySite('GW-7', ['HM-1', 'HM-2', 'IC-1'], lookup)).toEqual({ district: '东区', address: '东区幸福路' });
  });

  it("takes a record the registry holds under the gateway's own id", () => {
    expect(gatewaySite('GW-SITE', ['HM-1'], lookup)).toEqual({ district: '北区', address: '北区 9 号 机房' });
  });

  it("places the ticket at the gateway's own point, never at one of its devices' (issue 17 #1)", () => {
    expect(gatewaySite('GW-MAPPED', ['HM-1'], lookup)).toEqual({ district: '北区', address: '北区 11 号 机房', lat: 31.26, lon: 121.44 });
    expect(gatewaySite('GW-7', ['HM-1', 'HM-2'], lookup)).not.toHaveProperty('lat');
  });

  it('routes by the most common district and leaves the address out when the devices share none', () => {
    expect(gatewaySite('GW-7', ['HM-X', 'HM-1', 'HM-2'], lookup)).toEqual({ district: '东区' });
    expect(gatewaySite('GW-7', ['unknown'], lookup)).toEqual({});
  });

  it.each([
    [['东区幸福路12号阳光花园3栋', '东区幸福路14号'], '东区幸福路'],
    [['东区幸福路 1 号 101', '东区幸福路 1 号 102'], '东区幸福路 1 号'],
    [['一号楼', '二号楼'], undefined],
    [['西区和平街8号'], '西区和平街8号'],
  ])('%j share %s', (addresses, expected) => {
    expect(sharedAddress(addresses)).toBe(expected);
  });
});
