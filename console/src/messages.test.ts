import { describe, expect, it } from 'vitest';
import { message } from './messages.ts';

describe('console texts', () => {
  it('calls the supervisor 主管 and the director 经理 on the on-call card, as the pushes do (the card said 班长 and 主管)', () => {
    expect(message('zh-CN', 'oncallSupervisor')).toBe('主管');
    expect(message('zh-CN', 'oncallDirector')).toBe('经理');
    expect(message('zh-CN', 'role.supervisor')).toBe('主管');
  });
});
