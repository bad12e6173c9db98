/**
 * Test support and `npm run stand-ins`: a stand-in for DingTalk's open API as documented.
 * `GET /gettoken?appkey&appsecret` answers `{errcode:0, access_token, expires_in:7200}`;
 * `POST /topapi/message/corpconversation/asyncsend_v2?access_token=` takes `{agent_id, userid_list:
 * "a,b", msg}` and answers `{errcode:0, task_id}`. It checks what DingTalk checks (token, agent, msg
 * shape) and, like DingTalk, drops a notice whose content the user already got from the app that
 * day: `phone` holds only what would reach a phone.
 * `POST /topapi/message/corpconversation/getsendresult?access_token=` takes `{agent_id, task_id}` and
 * answers `{errcode:0, send_result:{read_user_id_list, unread_user_id_list, …}}` (open.dingtalk.com,
 * 获取工作通知消息的发送结果): a user is read once the test opened the notice (`readBy`).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PhoneListener } from '../phone-stand-ins.ts';

export const DINGTALK_APP = { appKey: 'dingappkey01', appSecret: 'app-secret-01', agentId: 2_718_281_828 };
export type DingtalkApp = typeof DINGTALK_APP;

export interface DingtalkStandIn {
  base: string;
  /** Tokens the stand-in honours; clear it to revoke them all before their time. */
  validTokens: Set<string>;
  tokenCalls: number;
  /** Every asyncsend_v2 call, answered or not. */
  sendCalls: Array<{ token: string; body: any }>;
  /** Work notices that reached a phone, in order, with the task that sent them. */
  phone: Array<{ userid: string; msg: any; taskId: number }>;
  /** `<task_id>:<userid>` of the notices their recipient opened. */
  readBy: Set<string>;
  /** Replaces the answer to the next sends, one per call (then back to normal); 'hang' never answers. */
  sendScript: Array<{ status: number; body: unknown } | 'hang'>;
  /** The same for gettoken. */
  tokenScript: Array<{ status: number; body: unknown }>;
  /** Told of every notice that reached a phone. */
  onPhone?: PhoneListener;
  reset(): void;
  close(): Promise<void>;
}

const reply = (res: ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json;charset=utf-8' }).end(JSON.stringify(body));

function checkMsg(msg: any): string | undefined {
  if (msg?.msgtype === 'markdown') return typeof msg.markdown?.title === 'string' && typeof msg.markdown?.text === 'string' ? undefined : 'markdown needs title and text';
  if (msg?.msgtype === 'action_card') {
    const c = msg.action_card;
    if (typeof c?.title !== 'string' || typeof c?.markdown !== 'string') return 'action_card needs title and markdown';
    const single = typeof c.single_title === 'string' && typeof c.single_url === 'string';
    const list = Array.isArray(c.btn_json_list) && c.btn_json_list.length > 0 && c.btn_json_list.every((b: any) => typeof b.title === 'string' && /^https?:\/\//.test(b.action_url));
    if (!single && !list) return 'action_card needs single_title/single_url or btn_json_list';
    if (c.btn_orientation !== undefined && !['0', '1'].includes(c.btn_orientation)) return 'btn_orientation is "0" or "1"';
    return undefined;
  }
  return `unsupported msgtype ${msg?.msgtype}`;
}

export async function startDingtalkStandIn(app: DingtalkApp = DINGTALK_APP, options: { port?: number; host?: string } = {}): Promise<DingtalkStandIn> {
  /** Same content to the same person: DingTalk drops it within the day. */
  const seenToday = new Set<string>();
  /** The userids each task was sent to. */
  const tasks = new Map<number, string[]>();
  let nextTaskId = 256_271_667_526;
  const s: DingtalkStandIn = {
    base: '',
    validTokens: new Set(),
    tokenCalls: 0,
    sendCalls: [],
    phone: [],
    readBy: new Set(),
    sendScript: [],
    tokenScript: [],
    reset() {
      s.validTokens.clear();
      s.tokenCalls = 0;
      s.sendCalls.length = 0;
      s.phone.length = 0;
      s.readBy.clear();
      tasks.clear();
      s.sendScript.length = 0;
      s.tokenScript.length = 0;
      seenToday.clear();
    },
    close: async () => {},
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url!, s.base);
      if (req.method === 'GET' && url.pathname === '/gettoken') {
        s.tokenCalls++;
        const scripted = s.tokenScript.shift();
        if (scripted) return reply(res, scripted.status, scripted.body);
        if (url.searchParams.get('appkey') !== app.appKey || url.searchParams.get('appsecret') !== app.appSecret) return reply(res, 200, { errcode: 40089, errmsg: '不合法的corpid或corpsecret' });
        const token = randomBytes(16).toString('hex');
        s.validTokens.add(token);
        return reply(res, 200, { errcode: 0, errmsg: 'ok', access_token: token, expires_in: 7200 });
      }
      if (req.method === 'POST' && url.pathname === '/topapi/message/corpconversation/asyncsend_v2') {
        const token = url.searchParams.get('access_token') ?? '';
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        s.sendCalls.push({ token, body });
        const scripted = s.sendScript.shift();
        if (scripted === 'hang') return;
        if (scripted) return reply(res, scripted.status, scripted.body);
        if (!s.validTokens.has(token)) return reply(res, 200, { errcode: 88, sub_code: '40014', sub_msg: '不合法的access_token', errmsg: 'ding talk error[subcode=40014,submsg=不合法的access_token]' });
        if (body.agent_id !== app.agentId) return reply(res, 200, { errcode: 88, sub_code: '60020', errmsg: '访问ip不在白名单之中或agent_id错误' });
        if (typeof body.userid_list !== 'string' || !body.userid_list) return reply(res, 200, { errcode: 40035, errmsg: 'userid_list 不能为空' });
        const bad = checkMsg(body.msg);
        if (bad) return reply(res, 200, { errcode: 40035, errmsg: `不合法的参数: ${bad}` });
        const taskId = nextTaskId++;
        tasks.set(taskId, body.userid_list.split(','));
        for (const userid of body.userid_list.split(',')) {
          const key = `${userid}\u0000${JSON.stringify(body.msg)}`;
          if (seenToday.has(key)) continue; // same content to the same person within a day: dropped
          seenToday.add(key);
          s.phone.push({ userid, msg: body.msg, taskId });
          s.onPhone?.({ provider: 'dingtalk', kind: 'app', to: userid, text: body.msg.action_card?.title ?? body.msg.markdown.title });
        }
        return reply(res, 200, { errcode: 0, errmsg: 'ok', task_id: taskId, request_id: 'req-1' });
      }
      if (req.method === 'POST' && url.pathname === '/topapi/message/corpconversation/getsendresult') {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        if (!s.validTokens.has(url.searchParams.get('access_token') ?? '')) return reply(res, 200, { errcode: 88, sub_code: '40014', errmsg: 'ding talk error[subcode=40014,submsg=不合法的access_token]' });
        const userids = tasks.get(body.task_id);
        if (body.agent_id !== app.agentId || !userids) return reply(res, 200, { errcode: 400002, errmsg: '无效的参数 task_id' });
        const read = userids.filter((u) => s.readBy.has(`${body.task_id}:${u}`));
        const send_result = { read_user_id_list: read, unread_user_id_list: userids.filter((u) => !read.includes(u)), invalid_user_id_list: [], forbidden_user_id_list: [], failed_user_id_list: [], invalid_dept_id_list: [], forbidden_list: [] };
        return reply(res, 200, { errcode: 0, errmsg: 'ok', send_result, request_id: 'req-2' });
      }
      reply(res, 404, { errcode: 404, errmsg: '请求的URI地址不存在' });
    });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  s.base = `http://${options.host ?? '127.0.0.1'}:${(server.address() as AddressInfo).port}`;
  s.close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  return s;
}
