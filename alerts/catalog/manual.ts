import type { Condition, DeviceKind } from '../../contracts/messages.ts';

/**
 * The repair manual's cause, remedy, tool card and parts for every condition, so an alert or
 * ticket sends the technician out with the right card and part. zh-CN uses the manual's own
 * wording (seeds/000_f04b2edd387080a9.txt, lines cited in `source`); English sits beside it.
 *
 * Lookup order: condition + kind + vendor, then condition + kind, then the condition's general
 * entry. Household ERR codes are Meihua's (the only ones the manual lists), so Meihua is the
 * household default and Qianfeng differs only where its section of the manual does.
 */

export interface Text { 'zh-CN': string; en: string }

export interface ManualEntry {
  /** Short name of the fault. */
  title: Text;
  /** 原因 */
  cause: Text;
  /** 排除方法 */
  remedy: Text;
  /** The tool card(s) the technician brings; 无 / none when none. */
  toolCard: Text;
  /** Parts likely needed; [] when none. */
  parts: Text[];
  /** Where in the manual, e.g. 'repair manual 000:310-314'. */
  source: string;
}

const t = (zh: string, en: string): Text => ({ 'zh-CN': zh, en });

const NOT_IN_MANUAL = 'not in the repair manual (pipeline condition)';

// Tool cards (lines 398-436 Meihua, 608-620 Qianfeng). On the Meihua industrial controller the
// 维修卡 is the *initialise* card and wipes gas and password (line 430), so controller entries
// never send it and say so.
const NONE = t('无', 'none');
const MH_FAULT_CARD = t('故障卡（维修卡）', 'fault (repair) card');
const MH_FAULT_CARD_REPLACE = t('故障卡（维修卡）；换表时带数据转存卡', 'fault (repair) card; data-transfer card if the meter is replaced');
const MH_TRANSFER_CARD = t('数据转存卡（换表时）', 'data-transfer card (if the meter is replaced)');
const INSPECTION_CARD = t('检测卡（前锋表为查询卡）', 'inspection card (Qianfeng: query card)');
const MHI_NO_CARD = t('无，插卡恢复（勿用维修卡/初始化卡，会清除表内信息）', 'none, re-insert the card to recover (not the repair/initialise card, which wipes the controller)');
const MHI_RECOVERY_CARD = t('故障恢复卡', 'fault-recovery card');
const MHI_PARAMETER_CARD = t('参数卡、检测卡', 'parameter card, inspection card');
const QF_QUERY_TRANSFER = t('查询卡；换表时带回收转移卡、总初始化卡', 'query card; recovery/transfer card and master initialise card if the meter is replaced');
const QF_TRANSFER = t('回收转移卡、总初始化卡（新表转入前）', 'recovery/transfer card, master initialise card (before loading the new meter)');

// Parts.
const P_REED_ANTI_MAGNETIC = t('防磁干簧管', 'anti-magnetic reed switch');
const P_REED = t('干簧管', 'reed switch');
const P_SIGNAL_LINE = t('信号线', 'signal line');
const P_BATTERY = t('电池', 'battery');
const P_SPRINGS = t('电池盒弹簧', 'battery-box springs');
const P_METER = t('燃气表（换表时）', 'replacement gas meter (if replaced)');
const P_VALVE = t('阀门或基表（阀门坏时）', 'valve or base meter (if the valve is broken)');
const P_CONTROLLER_BATTERY = t('控制器电池（内电池或外电）', 'controller battery (internal or external supply)');
const P_FLOW_METER_BATTERY = t('流量计电池', 'flow-meter battery');
const P_BACKUP_BATTERY = t('备用电池', 'backup battery');

// Shared texts.
const HM_ERR34_CAUSE = t('死表，或传感器长时间未得到信号（超过设置的天数）', 'Dead meter, or the sensor has had no signal for longer than the configured number of days');
const HM_ERR34_REMEDY = t(
  '插入维修卡消除故障，不能消除则换表（用数据转存卡将原表数据转入新表，G6方以上表换表补气）',
  'Clear it with the repair (fault) card; if it does not clear, replace the meter (move the old data with the data-transfer card; above G6, a replacement top-up at the service hall)',
);
const HM_ERR67_CAUSE = t('干簧管坏', 'The reed switch is broken');
const HM_ERR67_REMEDY = t('排除干簧管故障（修复或更换干簧管）后插入维修卡消除故障', 'Fix or replace the reed switch, then clear the code with the repair (fault) card');
const MHI_ERR67_CAUSE = t('干簧管坏，或信号线断路；控制器关阀，用户停气', 'The reed switch is broken or the signal line is open; the controller closes the valve and the customer has no gas');
const MHI_ERR67_REMEDY = t('重新连接信号线或更换干簧管后插卡恢复', 'Reconnect the signal line or replace the reed switch, then re-insert the card to recover');
const GAS_LEAK_REMEDY = t(
  '紧急处理：先确认电磁阀是否已切断燃气；打开所有门窗，让气体散发室外；切勿触动室内任何电器开关、插头，不要在室内打电话；不得使用打火机或火柴寻找泄漏来源，熄灭所有明火；对管道连接口及燃气设备连接口检漏，找出并处理泄漏；周围环境不存在爆炸或有毒气体后方可维修',
  'Emergency: first confirm the solenoid valve has cut the gas; open all doors and windows to let the gas out; do not touch any electrical switch or plug or make phone calls indoors; never use a lighter or match to find the leak, and put out all flames; leak-test the pipe and appliance joints to find and fix the leak; work on the devices only once no explosive or toxic gas remains',
);
const GAS_LEAK_REMEDY_INDUSTRIAL = t(
  '紧急处理：确认切断阀已切断燃气；通风；禁止触动电器开关和使用明火；派人检漏，找出并处理泄漏；周围环境不存在爆炸或有毒气体后方可维护',
  'Emergency: confirm the shut-off valve has cut the gas; ventilate; no electrical switches and no flames; send someone to find and fix the leak; do maintenance only once no explosive or toxic gas remains',
);
const WORK_SAFE = '维护前须确认周围环境不存在爆炸或有毒气体';
const WORK_SAFE_EN = 'before working make sure there is no explosive or toxic gas around';

/** The condition's general entry: used when no kind- or vendor-specific variant exists. */
const GENERAL: Record<Condition, ManualEntry> = {
  'ERR-1': {
    title: t('强磁干扰（ERR-1）', 'Magnetic interference (ERR-1)'),
    cause: t('表周围有强磁干扰或防磁干簧管损坏（可能有人为干扰）', 'Strong magnetic interference near the meter, or the anti-magnetic reed switch is damaged (possible tampering)'),
    remedy: t('排除周围磁干扰或更换防磁干簧管后重新安装一次电池，再插入故障卡（维修卡）消除故障', 'Remove the magnetic interference or replace the anti-magnetic reed switch, reinstall the battery once, then clear the code with the fault (repair) card'),
    toolCard: MH_FAULT_CARD,
    parts: [P_REED_ANTI_MAGNETIC],
    source: 'repair manual 000:310-314, 418-420',
  },
  'ERR-2': {
    title: t('故障代码ERR-2（手册未收录）', 'Error code ERR-2 (not in the manual)'),
    cause: t('维修手册未列出ERR-2的含义（美华表只列出ERR-1、ERR-3至ERR-7），原因不明', 'The repair manual does not list ERR-2 (Meihua lists ERR-1 and ERR-3 to ERR-7 only); the cause is unknown'),
    remedy: t('到现场检查设备（电池、阀门、干簧管、信号线），用检测卡读取表内信息并向厂商确认代码含义，按其意见处理', 'Inspect the device on site (battery, valve, reed switch, signal line), read it with the inspection card, and ask the vendor what the code means before repairing'),
    toolCard: INSPECTION_CARD,
    parts: [],
    source: NOT_IN_MANUAL,
  },
  'ERR-3': {
    title: t('死表或传感器无信号（ERR-3）', 'Dead meter or no sensor signal (ERR-3)'),
    cause: HM_ERR34_CAUSE,
    remedy: HM_ERR34_REMEDY,
    toolCard: MH_FAULT_CARD_REPLACE,
    parts: [P_METER],
    source: 'repair manual 000:316-320, 414-420',
  },
  'ERR-4': {
    title: t('死表或传感器无信号（ERR-4）', 'Dead meter or no sensor signal (ERR-4)'),
    cause: HM_ERR34_CAUSE,
    remedy: HM_ERR34_REMEDY,
    toolCard: MH_FAULT_CARD_REPLACE,
    parts: [P_METER],
    source: 'repair manual 000:316-320, 414-420',
  },
  'ERR-5': {
    title: t('超流量（ERR-5）', 'Flow over range (ERR-5)'),
    cause: t('超过燃气表所能承受的流量范围（过载）', 'Gas flow above the range the meter can take (overload)'),
    remedy: t('减小燃气流量到燃气表的流量范围之内后插入故障卡消除故障', 'Reduce the gas flow into the meter\'s range, then clear the code with the fault card'),
    toolCard: MH_FAULT_CARD,
    parts: [],
    source: 'repair manual 000:322-326',
  },
  'ERR-6': {
    title: t('干簧管坏（ERR-6）', 'Reed switch broken (ERR-6)'),
    cause: HM_ERR67_CAUSE,
    remedy: HM_ERR67_REMEDY,
    toolCard: MH_FAULT_CARD,
    parts: [P_REED],
    source: 'repair manual 000:328-332',
  },
  'ERR-7': {
    title: t('干簧管坏（ERR-7）', 'Reed switch broken (ERR-7)'),
    cause: HM_ERR67_CAUSE,
    remedy: HM_ERR67_REMEDY,
    toolCard: MH_FAULT_CARD,
    parts: [P_REED],
    source: 'repair manual 000:328-332',
  },
  DEVICE_FAULT: {
    title: t('设备故障（无代码）', 'Device fault (no code)'),
    cause: t('设备显示“故障”但没有代码，维修手册对此没有专门条目', 'The device shows a fault without a code; the manual has no specific entry for it'),
    remedy: t('到现场检查设备（电池、接线、阀门），用检测卡读取表内信息；不能排除时联系厂家或换表', 'Inspect the device on site (battery, wiring, valve) and read it with the inspection card; if the fault remains, call the manufacturer or replace the meter'),
    toolCard: INSPECTION_CARD,
    parts: [],
    source: NOT_IN_MANUAL,
  },
  LOW_BATTERY: {
    title: t('低电或欠压', 'Low battery'),
    cause: t('电池电压过低，或电池安装不正确、接触不良（电池盒弹簧接触点氧化）', 'Battery voltage too low, or the battery is badly seated or poorly contacted (oxidised battery-box springs)'),
    remedy: t('更换电池或正确安装电池，清除弹簧接触点氧化；电池耗尽后燃气表会自动关阀', 'Replace the battery or seat it correctly and clean oxidised spring contacts; once the battery is flat the meter closes its valve'),
    toolCard: NONE,
    parts: [P_BATTERY],
    source: 'repair manual 000:194-196, 260-262, 300-304',
  },
  VALVE_CLOSED_LOW_BATTERY: {
    title: t('低电关阀', 'Valve closed on low battery'),
    cause: t('燃气表电池电压过低，自动关阀（液晶显示“低电关阀”），用户已无气可用', 'The battery is so low that the meter closed its valve (display: low battery, valve closed); the customer has no gas'),
    remedy: t('更换电池，确认阀门重新打开、恢复供气', 'Replace the battery and make sure the valve opens again and gas is restored'),
    toolCard: NONE,
    parts: [P_BATTERY],
    source: 'repair manual 000:194-196, 266-268',
  },
  LOW_BALANCE: {
    title: t('欠量', 'Low balance'),
    cause: t('表内气量已不足5方（液晶显示欠量提示，使用中常伴有蜂鸣提示）', 'Less than 5 m³ of prepaid gas left (the display shows low balance and the meter often beeps)'),
    remedy: t('通知用户到营业厅（指定地点）购气；用户通知，无需派维修人员', 'Tell the customer to buy gas at the service hall; a customer notice, no technician needed'),
    toolCard: NONE,
    parts: [],
    source: 'repair manual 000:296-298',
  },
  NO_BALANCE: {
    title: t('气量为零（请速购气）', 'Balance used up (buy gas now)'),
    cause: t('表内气量为零，燃气表关阀不过气（提示“请速购气”）', 'The prepaid gas is used up; the meter closed its valve and passes no gas'),
    remedy: t('通知用户立即到营业厅购气，插卡后恢复供气（可按键或插卡查询气量）；用户通知，无需派维修人员', 'Tell the customer to buy gas at the service hall now; gas returns once the card is inserted (the balance can be checked on the meter); a customer notice, no technician needed'),
    toolCard: NONE,
    parts: [],
    source: 'repair manual 000:266-270, 564-566',
  },
  OVERLOAD: {
    title: t('超流量（过载）', 'Flow over range (overload)'),
    cause: t('燃气流量超过燃气表所能承受的流量范围', 'Gas flow above the range the meter can take'),
    remedy: t('减小燃气流量到燃气表的流量范围之内；表已显示ERR-5时插入故障卡消除故障', 'Reduce the gas flow into the meter\'s range; if the meter already shows ERR-5, clear it with the fault card'),
    toolCard: t('故障卡（维修卡，美华表显示ERR-5时）', 'fault (repair) card (Meihua meter showing ERR-5)'),
    parts: [],
    source: 'repair manual 000:322-326',
  },
  SELF_METERING: {
    title: t('流量计自计量', 'Flow meter self-metering'),
    cause: t('流量计受干扰，在没有燃气通过时计量', 'Interference makes the flow meter count with no gas flowing'),
    remedy: t('排除干扰；核对无流量期间多计的气量，以便更正用户账单', 'Remove the interference; check the volume counted with no flow so the customer\'s bill can be corrected'),
    toolCard: NONE,
    parts: [],
    source: 'repair manual 000:506-508',
  },
  COUNT_MISMATCH: {
    title: t('计数不同步', 'Count mismatch'),
    cause: t(
      '控制器与流量计计数不同步：信号传输不正常，或流量计与控制器所对应的参数不一致；工业基表与控制器不同步：计数器上的磁钢和干簧管位置不对，或参数设置不对应',
      'Controller and flow meter disagree: the signal transmission is faulty, or their parameters differ; an industrial base meter and its controller disagree: the magnet and reed switch on the counter are out of position, or the parameters do not match',
    ),
    remedy: t(
      '首先判断信号传输是否正常，其次核对流量计与控制器所对应的参数（计数脉冲）是否一致；工业基表则先检查计数器上的磁钢和干簧管的位置，再核对参数设置',
      'First check the signal transmission, then check the flow meter and controller parameters (pulse constant) match; for an industrial base meter, first check the magnet and reed-switch positions on the counter, then the parameter settings',
    ),
    toolCard: MHI_PARAMETER_CARD,
    parts: [],
    source: 'repair manual 000:376-378, 432-434',
  },
  GAS_ALARM_L1: {
    title: t('一级燃气报警', 'Gas alarm, level 1'),
    cause: t('室内可燃气浓度超过一级报警浓度（红灯闪烁、蜂鸣器间歇鸣叫），也可能检测到室内有其它刺鼻气味', 'Combustible gas indoors is above the first alarm level (red lamp flashing, intermittent buzz); it may also be another pungent gas'),
    remedy: GAS_LEAK_REMEDY,
    toolCard: NONE,
    parts: [],
    source: 'repair manual 000:204-206, 222-230, 256',
  },
  GAS_ALARM_L2: {
    title: t('二级燃气报警', 'Gas alarm, level 2'),
    cause: t('室内可燃气浓度超过二级报警浓度（红灯闪烁、蜂鸣器间歇鸣叫），燃气泄漏严重', 'Combustible gas indoors is above the second alarm level (red lamp flashing, intermittent buzz): a serious leak'),
    remedy: GAS_LEAK_REMEDY,
    toolCard: NONE,
    parts: [],
    source: 'repair manual 000:204-206, 222-230, 256',
  },
  VALVE_NOT_CUT: {
    title: t('报警但电磁阀未切断', 'Alarm sounding, valve not cut'),
    cause: t('蜂鸣器响但电磁阀不切断：报警装置或电磁阀故障，燃气仍在供应，用户处于危险中', 'The alarm sounds but the solenoid valve did not cut the gas: the alarm or the valve is faulty, gas still flows and the household is exposed'),
    remedy: t(
      '安全紧急：立即关闭表前阀切断燃气，按燃气报警处理（通风，禁止电器开关和明火）；检测报警装置及电磁阀是否故障，同时检测是否有气体泄漏，若是请立即更换，故障设备返厂更换',
      'Safety-critical: close the upstream valve at once and treat it as a gas alarm (ventilate, no switches, no flames); test the alarm and the solenoid valve and check for a leak; replace the faulty device at once and return it to the factory',
    ),
    toolCard: NONE,
    parts: [t('电磁阀', 'solenoid shut-off valve'), t('燃气报警器', 'gas alarm')],
    source: 'repair manual 000:204-206, 222-230',
  },
  SENSOR_FAULT: {
    title: t('传感器故障', 'Sensor fault'),
    cause: t('黄灯亮且蜂鸣器长鸣：传感器发生故障或电压不稳', 'Yellow lamp on with a continuous buzz: the sensor has failed or the supply voltage is unstable'),
    remedy: t(
      '交待用户在不使用时将电源断电10分钟后重新通电（前提不得有明火、室内保持通风），如正常可继续使用；若蜂鸣声经常性出现，更换新报警器，故障报警器返厂更换',
      'Have the customer switch it off for 10 minutes when not in use and back on (no open flames, room ventilated); if normal it stays in use; if the buzz keeps recurring, replace the alarm and return the faulty one to the factory',
    ),
    toolCard: NONE,
    parts: [t('燃气报警器（经常性故障时）', 'gas alarm (if the fault recurs)')],
    source: 'repair manual 000:216-220',
  },
  POWER_LOST: {
    title: t('停电', 'Power lost'),
    cause: t('绿色指示灯熄灭：停电或电源部分有故障（断电时报警器不能工作）', 'Green lamp off: mains power lost or the power supply is faulty (the alarm cannot work without power)'),
    remedy: t('检查供电系统，恢复供电', 'Check the power supply and restore it'),
    toolCard: NONE,
    parts: [],
    source: 'repair manual 000:210-214',
  },
  MAIN_POWER_UNDERVOLTAGE: {
    title: t('主电欠压', 'Main power undervoltage'),
    cause: t('故障灯点亮，蜂鸣器发出断续音，主电显示欠压：控制器主电未接通，或外接的220伏交流电源断电或电压低于180伏', 'Fault lamp on, intermittent tone, main power shows undervoltage: the controller\'s mains is not switched on, or its 220 V AC supply is off or below 180 V'),
    remedy: t('检查控制器主电是否接通；检查控制器外接的220伏交流电源是否断电或者电压低于180伏，恢复正常供电', 'Check the controller\'s mains is switched on; check its 220 V AC supply for an outage or a voltage under 180 V, and restore normal supply'),
    toolCard: NONE,
    parts: [],
    source: 'repair manual 000:234-238',
  },
  BACKUP_UNDERVOLTAGE: {
    title: t('备电欠压', 'Backup power undervoltage'),
    cause: t('故障灯点亮，备电显示欠压：备电开关处于关闭状态，或电池无法充进电', 'Fault lamp on, backup power shows undervoltage: the backup switch is off, or the battery will not charge'),
    remedy: t('检查控制器的备电开关是否处于关闭状态；电池无法充进电时换电池', 'Check whether the controller\'s backup switch is off; if the battery will not charge, replace it'),
    toolCard: NONE,
    parts: [P_BACKUP_BATTERY],
    source: 'repair manual 000:244-246',
  },
  BACKUP_OPEN_CIRCUIT: {
    title: t('备电断路', 'Backup power open circuit'),
    cause: t('故障灯点亮，备电显示断路：备用电池连接线断路，电池无法充进电', 'Fault lamp on, backup power shows open circuit: the backup battery\'s wire is broken and the battery cannot charge'),
    remedy: t('检查备用电池连接线是否断路并修复；电池无法充进电时换电池', 'Check the backup battery wire for a break and repair it; if the battery will not charge, replace it'),
    toolCard: NONE,
    parts: [t('备用电池连接线', 'backup battery wire'), P_BACKUP_BATTERY],
    source: 'repair manual 000:248-250',
  },
  DETECTOR_OFFLINE: {
    title: t('探测器掉线（--F）', 'Detector offline (--F)'),
    cause: t('探测器的浓度信息显示--F，故障灯点亮：探测器掉线，该点位不再检测燃气', 'The detector\'s reading shows --F and the fault lamp is on: the detector is offline and that point is no longer watched for gas'),
    remedy: t(`断电后检查探测器是否掉线（检查探测器线路），排除故障后重新接通电源；${WORK_SAFE}`, `Power the controller down, check the detector line, fix it and power up again; ${WORK_SAFE_EN}`),
    toolCard: NONE,
    parts: [],
    source: 'repair manual 000:252-256',
  },
  NO_SIGNAL: {
    title: t('设备无信号', 'No signal'),
    cause: t('设备超过预期上报间隔未上报数据：电池耗尽、通信模块或接线故障，或所属网关故障', 'The device has not reported within its expected interval: flat battery, a radio module or wiring fault, or a fault at its gateway'),
    remedy: t('检查设备电池和显示；检查通信模块、天线或接线；确认所属网关在线（网关离线时先处理网关）', 'Check the device\'s battery and display; check its radio module, antenna or wiring; make sure its gateway is online (if not, fix the gateway first)'),
    toolCard: INSPECTION_CARD,
    parts: [],
    source: NOT_IN_MANUAL,
  },
  GATEWAY_OFFLINE: {
    title: t('网关离线', 'Gateway offline'),
    cause: t('网关断电或回传链路中断（遗嘱消息触发或长时间无数据），其下所有设备的数据都收不到', 'The gateway lost power or its backhaul link (its last will fired or it fell silent); none of the devices behind it are heard'),
    remedy: t('检查网关供电和回传网络（SIM卡或有线），必要时重启网关；恢复后确认其下设备重新上报', 'Check the gateway\'s power and backhaul (SIM or wired) and restart it if needed; once back, check its devices report again'),
    toolCard: NONE,
    parts: [],
    source: NOT_IN_MANUAL,
  },
  TAMPER: {
    title: t('疑似人为干扰（强磁）', 'Suspected tampering (magnetic)'),
    cause: t('表周围有强磁干扰或防磁干簧管损坏，可能有人为干扰计量', 'Strong magnetic interference near the meter or a damaged anti-magnetic reed switch: someone may be interfering with metering'),
    remedy: t('现场核查是否有人为干扰；排除周围磁干扰或更换防磁干簧管后重新安装一次电池，插入故障卡（维修卡）消除故障', 'Check on site for tampering; remove the magnetic interference or replace the anti-magnetic reed switch, reinstall the battery once, and clear the code with the fault (repair) card'),
    toolCard: t('故障卡（维修卡，美华表）', 'fault (repair) card (Meihua meter)'),
    parts: [P_REED_ANTI_MAGNETIC],
    source: 'repair manual 000:310-314, 418-420',
  },
  MAINTENANCE_DUE: {
    title: t('流量计润滑维护', 'Flow-meter lubrication due'),
    cause: t('流量计需定期润滑维护，一般2~3月一次；长期未按规定加润滑油会造成计量误差大', 'The flow meter needs lubricating every 2-3 months; running without it makes the metering error large'),
    remedy: t(
      '用专用油对流量计进行润滑维护，按规定加油（油位过高油会进入计量腔）；涡轮表油加不进去时，依次松开加油管与壳体连接的螺母、油管弯曲处的螺母、油杯内部的螺母，疏通脏物',
      'Lubricate the flow meter with its special oil to the prescribed level (too much oil gets into the metering chamber); if a turbine meter will not take oil, loosen in turn the fill-pipe nut at the housing, the nut at the pipe bend and the nut inside the oil cup, and clear the dirt',
    ),
    toolCard: NONE,
    parts: [t('流量计专用润滑油', 'the flow meter\'s special lubricating oil')],
    source: 'repair manual 000:448, 492-504',
  },
};

// Meihua MHCG-G meter / MHCG-DN flow-meter controller (lines 340-396).
const MHI_FLOW_METER_ERR3: ManualEntry = {
  title: t('流量计电池低电或断电（ERR-3）', 'Flow-meter battery low or power cut (ERR-3)'),
  cause: t('流量计电池低电、无电或被强行断电（控制器显示“关阀、故障、ERR-3”，用户停气）', 'The flow meter\'s battery is low or dead, or its power was forcibly cut (the controller shows valve closed, fault, ERR-3: the customer has no gas)'),
  remedy: t('与流量计供应商联系，更换流量计电池后插故障恢复卡恢复', 'Contact the flow-meter supplier, replace the flow-meter battery, then recover with the fault-recovery card'),
  toolCard: MHI_RECOVERY_CARD,
  parts: [P_FLOW_METER_BATTERY],
  source: 'repair manual 000:386-390, 434-436',
};
const MHI_FLOW_METER_ERR4: ManualEntry = {
  title: t('流量计损坏或无信号（ERR-4）', 'Flow meter damaged or no signal (ERR-4)'),
  cause: t('流量计损坏或流量计长时间无信号输出（控制器显示“关阀、故障、ERR-4”，用户停气）', 'The flow meter is damaged, or has put out no signal for a long time (the controller shows valve closed, fault, ERR-4: the customer has no gas)'),
  remedy: t('检查流量计工作状态，若正常，插入故障恢复卡恢复使用；若损坏，维修或更换流量计', 'Check the flow meter is working; if it is, recover with the fault-recovery card; if it is damaged, repair or replace it'),
  toolCard: MHI_RECOVERY_CARD,
  parts: [],
  source: 'repair manual 000:392-396, 434-436',
};
const MHI_LOW_BATTERY_CAUSE = t(
  '电池电量不足或安装不正确；无外电时为内电池低电，有外电时为外电低电；显示字母t为内电池电量不足',
  'The battery is low or badly installed; with no external power it is the internal battery, with external power the external supply is low; a "t" on the display means the internal battery',
);

const INDUSTRIAL_CONTROLLER: Partial<Record<Condition, ManualEntry>> = {
  'ERR-1': {
    title: t('控制器内电池低电（ERR-1）', 'Controller internal battery low (ERR-1)'),
    cause: t('控制器显示“关阀、故障、ERR-1”：控制器内电池低电，阀门关闭，用户停气', 'The controller shows valve closed, fault, ERR-1: its internal battery is low; the valve is closed and the customer has no gas'),
    remedy: t('请与厂商联系更换电池', 'Contact the vendor to replace the controller\'s internal battery'),
    toolCard: NONE,
    parts: [t('控制器内电池', 'controller internal battery')],
    source: 'repair manual 000:380-384',
  },
  'ERR-3': MHI_FLOW_METER_ERR3,
  'ERR-4': MHI_FLOW_METER_ERR4,
  'ERR-5': {
    title: t('超流量（ERR-5）', 'Flow over range (ERR-5)'),
    cause: t('超过表所能承受的流量范围（过载）', 'Gas flow above the range the meter can take (overload)'),
    remedy: t('减小燃气流量到表的流量范围之内，缓慢开启阀门（开启时间不少于15s）；手册未列出控制器ERR-5的恢复卡', 'Reduce the gas flow into the meter\'s range and open valves slowly (no less than 15 s); the manual names no recovery card for a controller\'s ERR-5'),
    toolCard: MHI_NO_CARD,
    parts: [],
    source: 'repair manual 000:322-326, 440-444',
  },
  'ERR-6': { title: t('干簧管坏或信号线断路（ERR-6）', 'Reed switch broken or signal line open (ERR-6)'), cause: MHI_ERR67_CAUSE, remedy: MHI_ERR67_REMEDY, toolCard: MHI_NO_CARD, parts: [P_REED, P_SIGNAL_LINE], source: 'repair manual 000:328-332, 346-348' },
  'ERR-7': { title: t('干簧管坏或信号线断路（ERR-7）', 'Reed switch broken or signal line open (ERR-7)'), cause: MHI_ERR67_CAUSE, remedy: MHI_ERR67_REMEDY, toolCard: MHI_NO_CARD, parts: [P_REED, P_SIGNAL_LINE], source: 'repair manual 000:328-332, 346-348' },
  DEVICE_FAULT: {
    title: t('故障关阀', 'Fault, valve closed'),
    cause: t(
      '液晶显示故障、关阀，阀门关闭，用户停气。原因：①外界有强磁干扰；②信号线断路或干簧管损坏；③电路板进水短路；④控制器盒盖被打开',
      'The display shows fault and valve closed; the customer has no gas. Causes: (1) external magnetic interference; (2) signal line open or reed switch damaged; (3) water has shorted the circuit board; (4) the controller cover was opened',
    ),
    remedy: t(
      '①排除干扰后插卡恢复；②重新连接信号线或更换干簧管；③电路板进水短路则更换芯片；④安装好控制器盒后插卡恢复',
      '(1) Remove the interference and re-insert the card; (2) reconnect the signal line or replace the reed switch; (3) if water shorted the board, replace the chip; (4) refit the controller cover and re-insert the card',
    ),
    toolCard: MHI_NO_CARD,
    parts: [P_REED, P_SIGNAL_LINE, t('芯片（电路板进水时）', 'chip (if water shorted the board)')],
    source: 'repair manual 000:340-352',
  },
  LOW_BATTERY: {
    title: t('控制器低电', 'Controller battery low'),
    cause: MHI_LOW_BATTERY_CAUSE,
    remedy: t('更换电池（无外电时换内电池，有外电时检查外电）或正确安装电池，阀门已关时插卡恢复', 'Replace the battery (internal when there is no external power, otherwise check the external supply) or install it correctly; if the valve has closed, re-insert the card to recover'),
    toolCard: MHI_NO_CARD,
    parts: [P_CONTROLLER_BATTERY],
    source: 'repair manual 000:352-362',
  },
  VALVE_CLOSED_LOW_BATTERY: {
    title: t('低电关阀（控制器）', 'Valve closed on low battery (controller)'),
    cause: t(
      '液晶显示低电、关阀，无法使用，用户停气：电池电量不足或安装不正确；无外电时为内电池低电，有外电时为外电低电；显示字母t为内电池电量不足',
      'The display shows low battery and valve closed; the customer has no gas: the battery is low or badly installed; with no external power it is the internal battery, with external power the external supply is low; a "t" means the internal battery',
    ),
    remedy: t('更换电池后插卡恢复（无外电时换内电池，有外电时检查外电），或正确安装电池；确认恢复供气', 'Replace the battery (internal when there is no external power, otherwise the external supply) or install it correctly, re-insert the card to recover, and make sure gas is restored'),
    toolCard: MHI_NO_CARD,
    parts: [P_CONTROLLER_BATTERY],
    source: 'repair manual 000:352-362',
  },
  OVERLOAD: {
    title: t('超流量（过载）', 'Flow over range (overload)'),
    cause: t('燃气流量超过表的流量范围；快速开阀也会造成超流量运行', 'Gas flow above the meter\'s range; opening valves quickly also causes over-range flow'),
    remedy: t('减小燃气流量到表的流量范围之内；有压启动，缓慢开启阀门（开启时间不少于15s）；长期超出时选择流量范围合适的表', 'Reduce the flow into the meter\'s range; start under pressure and open valves slowly (no less than 15 s); if it stays over range, fit a meter of suitable range'),
    toolCard: NONE,
    parts: [],
    source: 'repair manual 000:322-326, 440-444, 490',
  },
  SELF_METERING: {
    title: t('关阀时仍计量', 'Counting with the valve closed'),
    cause: t(
      '关阀或无流量时控制器仍计数：信号受干扰，计数器上的磁钢和干簧管位置不对、信号线故障，或阀门坏关不严',
      'The controller counts while its valve is closed or nothing flows: interference on the signal, the magnet and reed switch on the counter out of position, a faulty signal line, or a broken valve that does not seal',
    ),
    remedy: t('排除干扰；检查信号传输、磁钢和干簧管位置及参数设置；阀门坏则更换阀门或基表；核对多计的气量', 'Remove the interference; check the signal line, the magnet and reed-switch positions and the parameters; replace a broken valve or base meter; check the volume counted in error'),
    toolCard: MHI_PARAMETER_CARD,
    parts: [P_VALVE],
    source: 'repair manual 000:272, 376-378, 506-508',
  },
  TAMPER: {
    title: t('疑似人为干扰（强磁或开盖）', 'Suspected tampering (magnet or cover opened)'),
    cause: t('外界有强磁干扰，或控制器盒盖被打开；控制器显示故障、关阀，用户停气', 'External magnetic interference, or the controller cover was opened; the controller shows fault and valve closed, and the customer has no gas'),
    remedy: t('现场核查是否有人为破坏；排除干扰后插卡恢复；安装好控制器盒后插卡恢复', 'Check on site for tampering; remove the interference and re-insert the card; refit the controller cover and re-insert the card'),
    toolCard: MHI_NO_CARD,
    parts: [],
    source: 'repair manual 000:342-352',
  },
};

// Turbine / Roots flow meter (lines 438-508); its ERR-3/ERR-4 are the controller's flow-meter codes.
const FLOW_METER: Partial<Record<Condition, ManualEntry>> = {
  'ERR-3': MHI_FLOW_METER_ERR3,
  'ERR-4': MHI_FLOW_METER_ERR4,
  LOW_BATTERY: {
    title: t('流量计电池低电', 'Flow-meter battery low'),
    cause: t('流量计电池电量不足；耗尽或被断电时所接控制器显示ERR-3并关阀', 'The flow meter\'s battery is low; once dead or cut, the controller it feeds shows ERR-3 and closes the valve'),
    remedy: t('与流量计供应商联系更换流量计电池；检查电池插头是否存在接触不良', 'Contact the flow-meter supplier to replace its battery; check the battery plug for poor contact'),
    toolCard: t('无（控制器已显示ERR-3时带故障恢复卡）', 'none (fault-recovery card if the controller already shows ERR-3)'),
    parts: [P_FLOW_METER_BATTERY],
    source: 'repair manual 000:386-390, 466',
  },
  OVERLOAD: {
    title: t('流量计超流量', 'Flow meter over range'),
    cause: t('流量过大，超过规定范围（常有异常响声和噪音）；快速启动也会造成超流量运行；长期超流量会使轴承损坏、主轴变形', 'Flow above the rated range (often with abnormal noise); a fast start-up also overruns it; sustained overload damages the bearing and bends the shaft'),
    remedy: t(
      '调整流量达到规定范围内；必须有压启动，缓慢开启阀门（开启时间不少于15s），先开进气口、再开出气口；轴承损坏时向厂商提出检修更换机芯；选型不当时选择流量范围合适的流量计',
      'Bring the flow into the rated range; start under pressure and open valves slowly (no less than 15 s), inlet first, then outlet; if the bearing is damaged, have the manufacturer replace the movement; if the meter is the wrong size, fit one with a suitable range',
    ),
    toolCard: NONE,
    parts: [t('机芯（轴承损坏时）', 'movement (if the bearing is damaged)')],
    source: 'repair manual 000:440-446, 480-486, 490',
  },
  SENSOR_FAULT: {
    title: t('温度、压力不正常', 'Temperature or pressure abnormal'),
    cause: t('前置温度、压力接线有脱线、压线现象，或温度传感器、压力传感器故障', 'The front temperature or pressure wiring is loose or pinched, or the temperature or pressure sensor has failed'),
    remedy: t('检查前置温度、压力接线是否有脱线、压线现象；检查温度传感器和压力传感器是否正常，损坏则更换', 'Check the front temperature and pressure wiring for loose or pinched wires; test the temperature and pressure sensors and replace a failed one'),
    toolCard: NONE,
    parts: [t('温度传感器', 'temperature sensor'), t('压力传感器', 'pressure sensor')],
    source: 'repair manual 000:472-478',
  },
};

// Meihua household meter (lines 258-338); ERR codes are the general entries above.
const HOUSEHOLD_METER: Partial<Record<Condition, ManualEntry>> = {
  'ERR-2': {
    ...GENERAL['ERR-2'],
    remedy: t('到现场检查表具（电池、阀门、干簧管），用检测卡读取表内信息并向厂商确认代码含义；美华表可用故障卡（维修卡）消除（该卡处理ERR-1到ERR-7）', 'Inspect the meter on site (battery, valve, reed switch), read it with the inspection card and ask the vendor what the code means; a Meihua meter can be cleared with the fault (repair) card, which handles ERR-1 to ERR-7'),
    toolCard: t('检测卡、故障卡（维修卡）', 'inspection card, fault (repair) card'),
    source: 'not in the repair manual; fault card: repair manual 000:418-420',
  },
  DEVICE_FAULT: {
    title: t('燃气表故障（无代码）', 'Meter fault (no code)'),
    cause: t('燃气表显示“故障”但没有代码，或前锋表显示“安全保护”（有错误操作）', 'The meter shows a fault without a code, or a Qianfeng meter shows safety protection (a wrong operation)'),
    remedy: t('检查电池是否正确安装、电池盒弹簧接触点是否氧化，用检测卡读取表内信息；前锋表查看有无错误操作；控制器坏则更换新表', 'Check the battery is seated and the spring contacts are not oxidised, and read the meter with the inspection card; on a Qianfeng meter look for a wrong operation; if the electronics have failed, replace the meter'),
    toolCard: INSPECTION_CARD,
    parts: [P_METER],
    source: 'repair manual 000:260-264, 576',
  },
  SELF_METERING: {
    title: t('关阀时仍计量', 'Counting with the valve closed'),
    cause: t('阀门关闭时表仍在计数：表受干扰，阀门坏关不严，或计量机构故障（表装反向、直通表或机械部分不计量）', 'The meter counts while its valve is closed: interference, a broken valve that does not seal, or a faulty counting mechanism (meter fitted reversed, a straight-through meter, or the mechanical part not counting properly)'),
    remedy: t('排除干扰；阀门坏则更换阀门或基表；计量机构故障则换表，用数据转存卡将原表数据转入新表（G6方以上表换表补气）；核对多计的气量', 'Remove the interference; replace a broken valve or base meter; if the counting is faulty, replace the meter and move the old data with the data-transfer card (above G6, a replacement top-up); check the volume counted in error'),
    toolCard: MH_TRANSFER_CARD,
    parts: [P_VALVE, P_METER],
    source: 'repair manual 000:180, 272, 414-416, 506-508',
  },
};

// Qianfeng household meter (lines 510-620): its own battery, protection and transfer procedure.
const QF_ERR: ManualEntry = {
  title: t('前锋表故障代码（手册未收录）', 'Qianfeng meter error code (not in the manual)'),
  cause: t('维修手册只列出美华表的ERR代码，未说明前锋表此代码的含义', 'The repair manual lists ERR codes for Meihua meters only; it gives no meaning for this code on a Qianfeng meter'),
  remedy: t('检查表前阀、电池（电压是否低于4.0V或漏液）和显示内容；仍不能排除时按前锋表第1条方法换表，用回收转移卡将原表气量转入新表', 'Check the upstream valve, the battery (under 4.0 V or leaking) and the display; if the fault remains, replace the meter as in item 1 of the Qianfeng section, moving the gas to the new meter with the recovery/transfer card'),
  toolCard: QF_QUERY_TRANSFER,
  parts: [P_METER],
  source: 'repair manual 000:512-528, 558-580, 608-620',
};
const QIANFENG_HOUSEHOLD: Partial<Record<Condition, ManualEntry>> = {
  'ERR-1': QF_ERR, 'ERR-2': QF_ERR, 'ERR-3': QF_ERR, 'ERR-4': QF_ERR, 'ERR-5': QF_ERR, 'ERR-6': QF_ERR, 'ERR-7': QF_ERR,
  DEVICE_FAULT: {
    title: t('安全保护（前锋）', 'Safety protection (Qianfeng)'),
    cause: t('液晶显示“安全保护”：有错误操作，燃气表不通气', 'The display shows safety protection: a wrong operation tripped it and the meter passes no gas'),
    remedy: t('查看有无错误操作并纠正；燃气表仍不通气时按前锋表第1条方法换表，用回收转移卡转移气量', 'Look for the wrong operation and undo it; if the meter still passes no gas, replace it as in item 1 of the Qianfeng section, moving the gas with the recovery/transfer card'),
    toolCard: QF_QUERY_TRANSFER,
    parts: [],
    source: 'repair manual 000:558-580, 512-528',
  },
  LOW_BATTERY: {
    title: t('请换电池（前锋）', 'Replace battery (Qianfeng)'),
    cause: t('电池电压低于4.0V或漏液；或购买了过期、劣质电池；或电池盒内的弹簧接触不良或被腐蚀损坏', 'The battery is under 4.0 V or leaking; or it is stale or poor quality; or the battery-box springs contact poorly or are corroded'),
    remedy: t('选购优质电池并正确更换；清洁或更换弹簧，保持接触良好；仍然显示“请换电池”时按前锋表第1条方法换表', 'Fit a fresh good-quality battery correctly; clean or replace the springs so they contact well; if it still asks for a battery, replace the meter as in item 1 of the Qianfeng section'),
    toolCard: t('无（换表时带回收转移卡）', 'none (recovery/transfer card if the meter is replaced)'),
    parts: [P_BATTERY, P_SPRINGS],
    source: 'repair manual 000:568-596',
  },
  VALVE_CLOSED_LOW_BATTERY: {
    title: t('请换电池，不通气（前锋）', 'Battery flat, no gas (Qianfeng)'),
    cause: t('电池用完（提示“请换电池”，电压低于4.0V或漏液），燃气表不通气，用户已无气可用；也可能是过期劣质电池或弹簧腐蚀', 'The battery is flat (asks for a new battery; under 4.0 V or leaking) and the meter passes no gas: the customer has no gas; a stale battery or corroded springs may be behind it'),
    remedy: t('立即更换优质电池，清洁弹簧保持接触良好；装上电池循显、开阀后确认通气', 'Replace the battery at once with a good one and clean the springs; after fitting it let the display cycle, open the valve and confirm gas flows'),
    toolCard: NONE,
    parts: [P_BATTERY, P_SPRINGS],
    source: 'repair manual 000:526, 558-596',
  },
  SELF_METERING: {
    title: t('计量异常（前锋）', 'Abnormal counting (Qianfeng)'),
    cause: t('阀门关闭时表仍在计数：表受干扰，或计量机构故障（表装反向、直通表或机械部分不计量）', 'The meter counts while its valve is closed: interference, or a faulty counting mechanism (meter fitted reversed, a straight-through meter, or the mechanical part not counting properly)'),
    remedy: t(
      '排除干扰；计量机构故障则换表：将“回收转移卡”插入原表转出气量，关闭表前阀按正确方式取下原表，装上新的前锋IC卡燃气表，装上电池循显、开阀后再插入回收转移卡转入气量；详细记录新表号、表封号、已用气量、剩余气量及更换日期，适当进行气量补损',
      'Remove the interference; if the counting is faulty, replace the meter: insert the recovery/transfer card into the old meter to take its gas, close the upstream valve and remove the meter properly, fit a new Qianfeng IC-card meter, fit the battery, let the display cycle, open the valve and insert the card to load the gas; record the new meter and seal numbers, used and remaining gas and the date, and compensate the gas as needed',
    ),
    toolCard: QF_TRANSFER,
    parts: [P_METER],
    source: 'repair manual 000:506-528, 608',
  },
};

// A residential alarm or alarm controller: mains powered, so silence points at power first.
const ALARM_NO_SIGNAL: ManualEntry = {
  title: t('报警设备无信号', 'Alarm device not reporting'),
  cause: t('报警设备超过预期间隔未上报：停电或电源部分故障、通信或接线故障，或所属网关故障；恢复前无法获知该处是否有燃气泄漏', 'The alarm has not reported within its expected interval: power lost or a supply fault, a radio or wiring fault, or a fault at its gateway; until it is heard, a leak there goes unseen'),
  remedy: t('检查供电系统、通信线路和所属网关（网关离线时先处理网关）', 'Check the power supply, the communication line and its gateway (if the gateway is offline, fix it first)'),
  toolCard: NONE,
  parts: [],
  source: 'repair manual 000:210-214; silence: not in the manual',
};

const HOME_GAS_ALARM: Partial<Record<Condition, ManualEntry>> = { NO_SIGNAL: ALARM_NO_SIGNAL };

// Industrial gas alarm controller and detectors (lines 232-256).
const ALARM_CONTROLLER: Partial<Record<Condition, ManualEntry>> = {
  NO_SIGNAL: ALARM_NO_SIGNAL,
  GAS_ALARM_L1: {
    title: t('一级燃气报警（探测器）', 'Gas alarm, level 1 (detector)'),
    cause: t('探测器检测到可燃气体浓度超过一级报警设定值：燃气泄漏', 'A detector reads combustible gas above the first set point: a gas leak'),
    remedy: GAS_LEAK_REMEDY_INDUSTRIAL,
    toolCard: NONE,
    parts: [],
    source: 'repair manual 000:222-230, 256',
  },
  GAS_ALARM_L2: {
    title: t('二级燃气报警（探测器）', 'Gas alarm, level 2 (detector)'),
    cause: t('探测器检测到可燃气体浓度超过二级报警设定值：严重燃气泄漏', 'A detector reads combustible gas above the second set point: a serious leak'),
    remedy: GAS_LEAK_REMEDY_INDUSTRIAL,
    toolCard: NONE,
    parts: [],
    source: 'repair manual 000:222-230, 256',
  },
  OVERLOAD: {
    title: t('主电过载', 'Main power overload'),
    cause: t('故障灯点亮，蜂鸣器发出断续音，主电显示过载：控制器所带的负载已超过额定容量', 'Fault lamp on, intermittent tone, main power shows overload: the load on the controller exceeds its rated capacity'),
    remedy: t(`减少控制器所带的负载，使其不超过额定容量；${WORK_SAFE}`, `Reduce the load on the controller to within its rated capacity; ${WORK_SAFE_EN}`),
    toolCard: NONE,
    parts: [],
    source: 'repair manual 000:240-242, 256',
  },
  POWER_LOST: {
    title: t('控制器主电断电', 'Controller mains lost'),
    cause: t('控制器主电未接通，或外接的220伏交流电源断电', 'The controller\'s mains is not switched on, or its 220 V AC supply is off'),
    remedy: t('检查控制器主电是否接通，检查外接220伏交流电源，恢复供电', 'Check the controller\'s mains is switched on and its 220 V AC supply, and restore power'),
    toolCard: NONE,
    parts: [],
    source: 'repair manual 000:234-238',
  },
  VALVE_NOT_CUT: {
    ...GENERAL.VALVE_NOT_CUT,
    cause: t('探测器报警但联动的切断阀未切断：报警控制器或切断阀故障，燃气仍在供应', 'A detector is alarming but the linked shut-off valve did not cut the gas: the controller or the valve is faulty and gas still flows'),
    parts: [t('切断阀（电磁阀）', 'shut-off (solenoid) valve')],
    source: 'repair manual 000:222-230, 256',
  },
};

const BY_KIND: Partial<Record<DeviceKind, Partial<Record<Condition, ManualEntry>>>> = {
  household_meter: HOUSEHOLD_METER,
  industrial_controller: INDUSTRIAL_CONTROLLER,
  flow_meter: FLOW_METER,
  home_gas_alarm: HOME_GAS_ALARM,
  alarm_controller: ALARM_CONTROLLER,
};

/** Vendor (lower-case, as in the registry) → kind → variants. */
const BY_VENDOR: Record<string, Partial<Record<DeviceKind, Partial<Record<Condition, ManualEntry>>>>> = {
  qianfeng: { household_meter: QIANFENG_HOUSEHOLD },
};

/** A condition this build does not know (e.g. replayed from a newer journal): never crash an alert. */
const UNKNOWN: ManualEntry = {
  title: t('未知状况', 'Unknown condition'),
  cause: t('维修手册中没有该状况', 'The repair manual has no entry for this condition'),
  remedy: t('到现场检查设备', 'Inspect the device on site'),
  toolCard: NONE,
  parts: [],
  source: NOT_IN_MANUAL,
};

// Entries are shared by every alert that carries them, so freeze them against accidental edits.
function frozen(e: ManualEntry): ManualEntry {
  for (const x of [e.title, e.cause, e.remedy, e.toolCard, ...e.parts]) Object.freeze(x);
  Object.freeze(e.parts);
  return Object.freeze(e);
}

// Keys: `condition`, `condition|kind`, `condition|kind|vendor`.
const TABLE = new Map<string, ManualEntry>();
for (const [condition, entry] of Object.entries(GENERAL)) TABLE.set(condition, frozen(entry));
for (const [kind, entries] of Object.entries(BY_KIND)) {
  for (const [condition, entry] of Object.entries(entries)) TABLE.set(`${condition}|${kind}`, frozen(entry));
}
for (const [vendor, kinds] of Object.entries(BY_VENDOR)) {
  for (const [kind, entries] of Object.entries(kinds)) {
    for (const [condition, entry] of Object.entries(entries)) TABLE.set(`${condition}|${kind}|${vendor}`, frozen(entry));
  }
}
frozen(UNKNOWN);

/** The manual's entry for a condition on this kind (and vendor) of device, else the condition's general entry. */
export function manualEntryFor(condition: Condition, kind?: DeviceKind, vendor?: string): ManualEntry {
  if (kind !== undefined) {
    if (vendor) {
      const byVendor = TABLE.get(`${condition}|${kind}|${vendor.toLowerCase()}`);
      if (byVendor) return byVendor;
    }
    const byKind = TABLE.get(`${condition}|${kind}`);
    if (byKind) return byKind;
  }
  return TABLE.get(condition) ?? UNKNOWN;
}
