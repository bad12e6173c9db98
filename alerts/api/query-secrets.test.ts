import { describe, expect, it } from 'vitest';
import { accessTokenOf, urlForLog } from './query-secrets.ts';

describe('query-string tokens', () => {
  it.each([
    { url: '/api/v1/stream?access_token=abc', token: 'abc' },
    { url: '/api/v1/stream?lastEventId=4&access_token=a%2Bb', token: 'a+b' },
    { url: '/api/v1/stream?access_token=&access_token=second', token: 'second' },
    { url: '/api/v1/stream?access%5Ftoken=abc', token: undefined },
    { url: '/api/v1/stream?ACCESS_TOKEN=abc', token: undefined },
    { url: '/api/v1/stream?xaccess_token=abc', token: undefined },
    { url: '/api/v1/stream', token: undefined },
  ])('issue 13 #6: takes the token only from the exact name access_token ($url)', ({ url, token }) => {
    expect(accessTokenOf(url)).toBe(token);
  });

  it.each([
    ['/s?access_token=SECRET', '/s?access_token=[redacted]'],
    ['/s?access%5Ftoken=SECRET&lastEventId=3', '/s?access%5Ftoken=[redacted]&lastEventId=3'],
    ['/s?ACCESS_TOKEN=SECRET', '/s?ACCESS_TOKEN=[redacted]'],
    ['/s?acc%65ss+token=SECRET', '/s?acc%65ss+token=[redacted]'],
    ['/s?%E0%74oken=SECRET', '/s?%E0%74oken=[redacted]'],
    ['/s?access%255Ftoken=SECRET', '/s?access%255Ftoken=[redacted]'],
    ['/s?password=SECRET&x=1', '/s?password=[redacted]&x=1'],
    ['/s?access_token', '/s?access_token=[redacted]'],
    ['/s?deviceId=HM-1&limit=5', '/s?deviceId=HM-1&limit=5'],
    ['/s', '/s'],
  ])('issue 13 #6: redacts %s in logs however the name is spelled', (url, logged) => {
    expect(urlForLog(url)).toBe(logged);
  });
});
