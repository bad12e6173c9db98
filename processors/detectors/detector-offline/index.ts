import { Type } from '@sinclair/typebox';
import type { DetectorChannel } from '../../../contracts/messages.ts';
import { defineDetector } from '../../detector.ts';
import { normaliseToken } from '../common.ts';

const OFFLINE_TOKEN = '--F';

interface State {
  /** Channels offline in the last reading that listed the detectors, kept while readings omit the list. */
  channels: Array<string | number>;
}

function isOfflineToken(token: string): boolean {
  return normaliseToken(token).replaceAll(' ', '') === OFFLINE_TOKEN;
}

function isOffline(d: DetectorChannel): boolean {
  if (d.lelPct === null) return true;
  const s = d.status;
  if (s === undefined) return false;
  return typeof s === 'string' ? isOfflineToken(s) : s.some(isOfflineToken);
}

/**
 * DETECTOR_OFFLINE (掉线, manual line 252): an industrial alarm controller shows --F for a detector, or
 * a channel reports no concentration. A dropped detector watches nothing, so this is a ticket even
 * though no value is bad.
 */
export const DetectorOfflineDetector = defineDetector({
  name: 'detector-offline',
  description: 'Industrial alarm controller detector channel offline (--F)',
  kinds: ['alarm_controller'],
  conditions: ['DETECTOR_OFFLINE'],
  settingsSchema: Type.Object({}),
  stateSchema: Type.Object({ channels: Type.Array(Type.Union([Type.String(), Type.Number()])) }),
  initialState: (): State => ({ channels: [] }),
  step(_profile, _settings, state, reading, _linked, out) {
    const { detectors, status } = reading;
    if (detectors === undefined && status === undefined) return state;

    let channels = state.channels;
    if (detectors !== undefined) {
      const now = detectors.filter(isOffline).map((d) => d.channel);
      if (now.length !== channels.length || now.some((c, i) => c !== channels[i])) channels = now;
    }
    const shown = status?.some(isOfflineToken) ?? false;
    out.report('DETECTOR_OFFLINE', channels.length > 0 || shown, () => ({ channels, ...(status ? { tokens: status } : {}) }));
    return channels === state.channels ? state : { channels };
  },
});
