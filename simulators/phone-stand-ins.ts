/**
 * `npm run stand-ins`: every phone provider's stand-in (alerts/push/phone-stand-ins.ts) on fixed
 * loopback ports, so the phone channels can be tried without a provider account. Each checks what
 * the provider checks (tokens, signatures, shapes) and logs every message a phone would have
 * received. Keeps what it received in memory: for trying things, not for running for weeks.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { phoneChannelSettings, STAND_IN_PHONE, STAND_IN_PORTS, startPhoneStandIns, type StandInPorts } from '../alerts/push/phone-stand-ins.ts';
import { selfSignedCert } from '../tests/tls-fixture.ts';

const DEFAULT_APP_URL = 'http://127.0.0.1:8080/console/';
const EXAMPLE = 'alerts/push/phone-channels.example.json';
const DEFAULT_DIR = 'data/phone-stand-ins';
const DAY_MS = 86_400_000;

const USAGE = `Usage: npm run stand-ins -- [options]

  --host HOST          address to listen on (loopback only is meant)          default 127.0.0.1
  --wecom-port N       WeCom (企业微信) application messages                     default ${STAND_IN_PORTS.wecom}
  --dingtalk-port N    DingTalk (钉钉) work notices                               default ${STAND_IN_PORTS.dingtalk}
  --feishu-port N      Feishu (飞书) app bot cards                                default ${STAND_IN_PORTS.feishu}
  --cloud-port N       Aliyun and Tencent Cloud: SMS, customer SMS, voice calls   default ${STAND_IN_PORTS.cloud}
  --web-push-port N    a Web Push service holding the stand-in phone's browser    default ${STAND_IN_PORTS.webPush}
  --app-url URL        the console's address, for the one-tap links      default ${DEFAULT_APP_URL}
  --out FILE           write the settings file (CONFIG) pointing the phone channels here
  --dir DIR            kept here: the push service's self-signed certificate (openssl, cert.pem)
                       and the stand-in phone's Web Push subscription (phone-subscription.json)
                                                                  default ${DEFAULT_DIR}
  --help

With the default ports and --app-url, ${EXAMPLE} is that settings file.
The pipeline must trust the push service's certificate: start it with NODE_EXTRA_CA_CERTS=<DIR>/cert.pem
(the subscription API takes only https:// push services, as browsers' are).
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
        dir: { type: 'string', default: DEFAULT_DIR },
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
  return { host: values.host, ports, appUrl: values['app-url'], out: values.out, dir: values.dir };
}

/**
 * The push service's certificate: kept in `dir`, so a pipeline started with NODE_EXTRA_CA_CERTS
 * pointing at it keeps trusting the stand-in across its restarts; made anew a day before it ends.
 */
function pushServiceCert(dir: string): { certFile: string; cert: Buffer; key: Buffer } {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  if (existsSync(certFile) && existsSync(keyFile)) {
    const cert = readFileSync(certFile);
    if (Date.parse(new X509Certificate(cert).validTo) > Date.now() + DAY_MS) return { certFile, cert, key: readFileSync(keyFile) };
  }
  mkdirSync(dir, { recursive: true });
  return selfSignedCert(dir, 30);
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
  let tls;
  try {
    tls = pushServiceCert(args.dir);
  } catch (err) {
    log.error({ err }, '无法生成证书 / Could not make the push service\'s certificate (is openssl installed?)');
    return 1;
  }
  const trust = `NODE_EXTRA_CA_CERTS=${join(args.dir, 'cert.pem')}`;
  let standIns;
  try {
    standIns = await startPhoneStandIns({
      host: args.host,
      ports: args.ports,
      pushServiceTls: { cert: tls.cert, key: tls.key },
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
    settingsNote = `written to ${args.out}: ${trust} CONFIG=${args.out} npm start`;
  } else if (defaults) {
    settingsNote = `${trust} CONFIG=${EXAMPLE} npm start (the example is these ports)`;
  } else {
    settingsNote = `not the example's ports: save this as a file and start with ${trust} CONFIG=<file> npm start (or use --out)\n${JSON.stringify(settings, null, 2)}`;
  }
  const subscriptionFile = join(args.dir, 'phone-subscription.json');
  writeFileSync(subscriptionFile, `${JSON.stringify(standIns.phoneSubscription)}\n`);
  const u = standIns.urls;
  process.stdout.write(
    [
      '',
      '  手机服务商模拟 / Phone provider stand-ins',
      `    WeCom 企业微信           ${u.wecom}`,
      `    DingTalk 钉钉            ${u.dingtalk}`,
      `    Feishu 飞书              ${u.feishu}`,
      `    Aliyun + Tencent Cloud   ${u.cloud}  (SMS, customer SMS, voice)`,
      `    Web Push service         ${u.webPush}  (certificate ${tls.certFile})`,
      '',
      `  Settings / 配置: ${settingsNote}`,
      '',
      `  The stand-in phone's Web Push subscription (browser "${STAND_IN_PHONE.id}"), in ${subscriptionFile}:`,
      '  POST it to /api/v1/push/subscriptions with a technician\'s token (alerts/push/README.md, "Trying the phone channels")',
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
