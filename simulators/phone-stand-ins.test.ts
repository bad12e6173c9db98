/**
 * `npm run stand-ins` as a user runs it: the stand-ins listen on the ports given (the push service
 * on https with a certificate for the pipeline to trust), the settings file written with --out
 * points the phone channels there, a message a phone receives is logged, a bad flag exits 2, and
 * SIGTERM stops it cleanly.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../app/clock.ts';
import { createChannels, parsePushConfig, type StaffChannelInstance } from '../alerts/push/channels.ts';
import { phoneChannelSettings, type StandInPorts, standInUrls } from '../alerts/push/phone-stand-ins.ts';
import { notice, technician } from '../alerts/push/testing.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(join(tmpdir(), 'gas-stand-ins-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A port free a moment ago: the system's pick for port 0, released again. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as { port: number };
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** Resolves with everything the child printed once `pattern` appears on its stdout. */
function waitFor(child: ChildProcess, pattern: RegExp, what: string, output: { text: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${what} within 20 s; stdout:\n${output.text}`)), 20_000);
    const check = () => {
      if (!pattern.test(output.text)) return;
      clearTimeout(timer);
      child.stdout!.off('data', check);
      resolve();
    };
    child.stdout!.on('data', check);
    check();
  });
}

describe('npm run stand-ins', () => {
  it('listens on the ports given, writes the settings for them, logs what a phone receives and stops on SIGTERM', async () => {
    const ports: StandInPorts = { wecom: await freePort(), dingtalk: await freePort(), feishu: await freePort(), cloud: await freePort(), webPush: await freePort() };
    const out = join(dir, 'phones.json');
    const child = spawn(process.execPath, [
      '--import', 'tsx', 'simulators/phone-stand-ins.ts',
      '--wecom-port', String(ports.wecom), '--dingtalk-port', String(ports.dingtalk), '--feishu-port', String(ports.feishu),
      '--cloud-port', String(ports.cloud), '--web-push-port', String(ports.webPush), '--out', out, '--dir', join(dir, 'state'),
    ], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    const output = { text: '' };
    child.stdout!.on('data', (c: Buffer) => (output.text += c.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor(child, /Web Push subscription[\s\S]*"endpoint"/, 'banner', output);
      expect(output.text).toContain(`DingTalk 钉钉            http://127.0.0.1:${ports.dingtalk}`);
      expect(output.text).toContain(`written to ${out}: NODE_EXTRA_CA_CERTS=${join(dir, 'state', 'cert.pem')} CONFIG=${out} npm start`);
      // The push service is https, as the subscription API requires, with the certificate the pipeline is told to trust.
      const subscription = JSON.parse(readFileSync(join(dir, 'state', 'phone-subscription.json'), 'utf8'));
      expect(subscription).toMatchObject({ endpoint: `https://127.0.0.1:${ports.webPush}/push/stand-in-phone`, keys: { p256dh: expect.any(String), auth: expect.any(String) } });
      expect(output.text).toContain(JSON.stringify(subscription));
      const cert = new X509Certificate(readFileSync(join(dir, 'state', 'cert.pem')));
      expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
      const settings = JSON.parse(readFileSync(out, 'utf8'));
      expect(settings).toEqual(phoneChannelSettings(standInUrls(ports)));

      // An SMS through the channel those settings configure reaches the stand-in, which logs it.
      const sms = parsePushConfig(settings.push).channels.filter((c) => c.name === 'sms');
      const channels = createChannels(sms, { log: pino({ level: 'silent' }), clock: new ManualClock(Date.now()) });
      await expect((channels.get('sms') as StaffChannelInstance).channel.send(notice(), technician)).resolves.toEqual({ delivered: true });
      await waitFor(child, /Phone received/, 'log line', output);
      const line = JSON.parse(output.text.split('\n').find((l) => l.includes('Phone received'))!);
      expect(line).toMatchObject({ level: 30, provider: 'aliyun', kind: 'sms', to: '13900000100', msg: '手机收到 / Phone received' });

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  }, 40_000);

  it('refuses a bad port with usage and exit code 2', async () => {
    const failed = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'simulators/phone-stand-ins.ts', '--sms-port', '1'], { cwd: ROOT }).catch((e: { code: number; stderr: string }) => e);
    expect(failed).toMatchObject({ code: 2, stderr: expect.stringContaining('stand-ins: Unknown option') });
    const bad = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'simulators/phone-stand-ins.ts', '--wecom-port', '70000'], { cwd: ROOT }).catch((e: { code: number; stderr: string }) => e);
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringContaining('--wecom-port must be a TCP port (1-65535), got "70000"') });
  }, 30_000);
});
