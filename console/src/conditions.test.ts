import { describe, expect, it } from 'vitest';
import { conditionLabel } from './conditions.ts';

describe('issue 12 item 11: the operator list shows raw codes (GAS_ALARM_L2) instead of the zh names', () => {
  it.each([
    ['GAS_ALARM_L2', 'zh-CN', { name: '二级燃气报警', code: 'GAS_ALARM_L2' }],
    ['GAS_ALARM_L2', 'en', { name: 'Gas alarm, level 2', code: 'GAS_ALARM_L2' }],
    ['GATEWAY_OFFLINE', 'zh-CN', { name: '网关离线', code: 'GATEWAY_OFFLINE' }],
    // The name already carries the display code: no second label.
    ['ERR-4', 'zh-CN', { name: '故障代码ERR-4' }],
    // A condition newer than this console: the code is all there is.
    ['SOMETHING_NEW', 'zh-CN', { name: 'SOMETHING_NEW' }],
    ['toString', 'en', { name: 'toString' }],
  ] as const)('%s in %s', (condition, lang, expected) => {
    expect(conditionLabel(condition, lang)).toEqual(expected);
  });
});
