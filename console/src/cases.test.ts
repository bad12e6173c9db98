import { describe, expect, it } from 'vitest';
import { caseLabel } from './cases.ts';

describe('caseLabel', () => {
  it('names a person-opened ticket as the case it is (the queue showed a 报修 as "T000123 ×0")', () => {
    expect(caseLabel({ origin: 'report', complaintClass: null, complaintKind: null }, 'zh-CN')).toBe('报修');
    expect(caseLabel({ origin: 'complaint', complaintClass: 'justified', complaintKind: null }, 'zh-CN')).toBe('有效投诉');
    expect(caseLabel({ origin: 'complaint', complaintClass: 'communication', complaintKind: 'enquiry' }, 'zh-CN')).toBe('沟通性投诉（咨询）');
    expect(caseLabel({ origin: 'complaint', complaintClass: 'communication', complaintKind: 'venting' }, 'en')).toBe('Communication complaint (Venting)');
  });
});
