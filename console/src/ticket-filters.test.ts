import { describe, expect, it } from 'vitest';
import type { Ticket } from './api.ts';
import { devicesMatching, hashWithTicketFilters, isIncident, matchesSearch, ticketFiltersFromHash, ticketQuery } from './ticket-filters.ts';

const ticket = (fields: Partial<Ticket>): Ticket => ({
  id: 'T000001', subject: 'device', origin: 'alert', contact: null, description: null, complaintClass: null, complaintKind: null,
  subjectId: 'HA-1', deviceId: 'HA-1', gatewayId: 'GW-1', kind: 'home_gas_alarm', district: '城东区', address: '人民路 1 号 201', customer: '王芳',
  conditions: ['GAS_ALARM_L2'], activeConditions: [], devices: ['HA-1'], priority: 'emergency', status: 'opened', openedAt: '2026-11-23T02:00:00.000Z',
  acknowledgedAt: null, onSiteAt: null, resolvedAt: null, assignee: null, slaDueAt: null, followUpDueAt: null, manual: [], escalationStep: 0, escalatedAt: null,
  lat: null, lon: null, updatedAt: '2026-11-23T02:00:00.000Z', ...fields,
});

describe('ticket queue filters (issue 17 #3)', () => {
  it('keeps the filters in the URL, Chinese included, and reads them back', () => {
    const filters = { status: 'done', priority: 'urgent', district: '城东区', assignee: 'tech-wang', q: '人民路 1 号' } as const;
    const hash = hashWithTicketFilters(filters);
    expect(hash.startsWith('#/tickets?')).toBe(true);
    expect(ticketFiltersFromHash(hash)).toEqual(filters);
    // The open tickets are the default: no status in the URL.
    expect(hashWithTicketFilters({ status: 'open' })).toBe('#/tickets');
    expect(ticketFiltersFromHash('#/tickets')).toEqual({});
    // A ticket link keeps its filters after the id.
    expect(ticketFiltersFromHash('#/tickets/T000042?district=%E5%9F%8E%E4%B8%9C%E5%8C%BA')).toEqual({ district: '城东区' });
  });

  it('drops a status or priority the API would refuse', () => {
    expect(ticketFiltersFromHash('#/tickets?status=lost&priority=whenever&district=east')).toEqual({ district: 'east' });
    expect(ticketFiltersFromHash('#/tickets?status=on_site')).toEqual({ status: 'on_site' });
  });

  it('sends status, priority, district and assignee to the API; the search is not among them', () => {
    expect(ticketQuery({})).toEqual({ status: ['opened', 'dispatched', 'acknowledged', 'on_site'] });
    expect(ticketQuery({ status: 'done', priority: 'low', district: '城东区', assignee: 'P1', q: '王' })).toEqual({
      status: ['resolved', 'followed_up', 'closed', 'cancelled'], priority: 'low', district: '城东区', assignee: 'P1',
    });
    expect(ticketQuery({ status: 'all' }).status).toEqual([]);
    expect(ticketQuery({ status: 'resolved' }).status).toEqual(['resolved']);
  });

  it('searches id, device, address, customer and caller, case-insensitively', () => {
    const t = ticket({ contact: { name: '赵敏', phone: '13800000000' } });
    for (const q of ['t000001', 'ha-1', '人民路', '王芳', '赵敏', '138000']) expect(matchesSearch(t, q), q).toBe(true);
    expect(matchesSearch(t, '李强')).toBe(false);
    expect(matchesSearch(t, undefined)).toBe(true);
  });

  it("finds an incident by one of its devices, and says which, so its fold opens on them", () => {
    const incident = ticket({ subject: 'gateway', subjectId: 'GW-B', deviceId: null, address: null, customer: null, devices: ['HA-PC00', 'HA-PC01', 'HA-PC11'] });
    expect(isIncident(incident)).toBe(true);
    expect(isIncident(ticket({ subject: 'customer' }))).toBe(false);
    expect(matchesSearch(incident, 'pc11')).toBe(true);
    expect(devicesMatching(incident, 'pc1')).toEqual(['HA-PC11']);
    expect(devicesMatching(incident, undefined)).toEqual([]);
    expect(matchesSearch(incident, 'HA-PC99')).toBe(false);
  });
});
