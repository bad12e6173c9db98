/**
 * `npm run stand-ins`: every phone provider's stand-in (alerts/push/phone-stand-ins.ts) on fixed
 * loopback ports, so the phone channels can be tried without a provider account. Each checks what
 * the provider checks (tokens, signatures, shapes) and logs every message a phone would have
 * received. Keeps what it received in memory: for trying things, not for running for weeks.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { phoneChannelSettings, STAND_IN_PHONE, STAND_IN_PORTS, startPhoneStandIns, type StandInPorts } from '../alerts/push/phone-stand-ins.ts';

const DEFAULT_APP_URL = 'http://127.0.0.1:8080/console/';
const EXAMPLE = 'alerts/push/phone-channels.example.json';

const USAGE = `Usage: npm run stand-ins -- [options]

  --host HOST          address to listen on (loopback only is meant)          default 127.0.0.1
  --wecom-port N       WeCom (企业微信) application messages                     default ${STAND_IN_PORTS.wecom}
  --dingtalk-port N    DingTalk (钉钉) work notices                               default ${STAND_IN_PORTS.dingtalk}
  --feishu-port N      Feishu (飞书) app bot cards                                default ${STAND_IN_PORTS.feishu}
  --cloud-port N       Aliyun and Tencent Cloud: SMS, customer SMS, voice calls   default ${STAND_IN_PORTS.cloud}
  --web-push-port N    a Web Push service holding the stand-in phone's browser    default ${STAND_IN_PORTS.webPush}
  --app-url URL        the console's address, for the one-tap links      default ${DEFAULT_APP_URL}
  --out FILE           write the settings file (CONFIG) pointing the phone channels here
  --help

With the default ports and --app-url, ${EXAMPLE} is that settings file.
Each message a phone receives is logged (pino, LOG_LEVEL) on stdout. Ctrl-C stops.
`;

class UsageError extends Error {}

function port(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > 65535) throw new UsageError(`--${name} must be a TCP port (1-65535), got ${JSON.stringify(raw)}`);
  return n;
}

function parse(argv: string[]) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: 'string', default: '127.0.0.1' },
        'wecom-port': { type: 'string' },
        'dingtalk-port': { type: 'string' },
        'feishu-port': { type: 'string' },
        'cloud-port': { type: 'string' },
        'web-push-port': { type: 'string' },
        'app-url': { type: 'string', default: DEFAULT_APP_URL },
        out: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return 'help' as const;
  if (!/^https?:\/\//.test(values['app-url'])) throw new UsageError(`--app-url must be an http:// or https:// URL, got ${JSON.stringify(values['app-url'])}`);
  const ports: StandInPorts = {
    wecom: port('wecom-port', values['wecom-port'], STAND_IN_PORTS.wecom),
    dingtalk: port('dingtalk-port', values['dingtalk-port'], STAND_IN_PORTS.dingtalk),
    feishu: port('feishu-port', values['feishu-port'], STAND_IN_PORTS.feishu),
    cloud: port('cloud-port', values['cloud-port'], STAND_IN_PORTS.cloud),
    webPush: port('web-push-port', values['web-push-port'], STAND_IN_PORTS.webPush),
  };
  return { host: values.host, ports, appUrl: values['app-url'], out: values.out };
}

async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parse(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`stand-ins: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (args === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }

  const log = pino({ level: process.env.LOG_LEVEL || 'info', base: { component: 'phone-stand-ins' } });
  let standIns;
  try {
    standIns = await startPhoneStandIns({
      host: args.host,
      ports: args.ports,
      onPhone: (m) => log.info({ provider: m.provider, kind: m.kind, to: m.to, text: m.text }, '手机收到 / Phone received'),
    });
  } catch (err) {
    log.error({ err }, '无法启动 / Stand-ins could not start (a port in use? see --help for the port flags)');
    return 1;
  }
  const settings = phoneChannelSettings(standIns.urls, args.appUrl);
  const defaults = args.appUrl === DEFAULT_APP_URL && Object.entries(STAND_IN_PORTS).every(([k, v]) => args.ports[k as keyof StandInPorts] === v) && args.host === '127.0.0.1';
  let settingsNote: string;
  if (args.out) {
    const file = resolve(args.out);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(settings, null, 2)}\n`);
    settingsNote = `written to ${args.out}: CONFIG=${args.out} npm start`;
  } else if (defaults) {
    settingsNote = `CONFIG=${EXAMPLE} npm start (the example is these ports)`;
  } else {
    settingsNote = `not the example's ports: save this as a file and start with CONFIG=<file> (or use --out)\n${JSON.stringify(settings, null, 2)}`;
  }
  const u = standIns.urls;
  process.stdout.write(
    [
      '',
      '  手机服务商模拟 / Phone provider stand-ins',
      `    WeCom 企业微信           ${u.wecom}`,
      `    DingTalk 钉钉            ${u.dingtalk}`,
      `    Feishu 飞书              ${u.feishu}`,
      `    Aliyun + Tencent Cloud   ${u.cloud}  (SMS, customer SMS, voice)`,
      `    Web Push service         ${u.webPush}`,
      '',
      `  Settings / 配置: ${settingsNote}`,
      '',
      `  The stand-in phone's Web Push subscription (browser "${STAND_IN_PHONE.id}"), to POST to /api/v1/push/subscriptions`,
      '  with a technician\'s token (alerts/push/README.md, "Trying the phone channels"):',
      `    ${JSON.stringify(standIns.phoneSubscription)}`,
      '',
    ].join('\n') + '\n',
  );

  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  log.info('Stopping');
  await standIns.close();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`stand-ins: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
