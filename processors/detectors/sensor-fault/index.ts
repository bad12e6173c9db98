import { Type } from '@sinclair/typebox';
import { defineDetector } from '../../detector.ts';

interface State {
  /** Last judgement per input, kept while readings omit that input so a partial reading cannot clear another input's fault. */
  lampFault: boolean;
  buzzerContinuous: boolean;
  temperatureBad: boolean;
  pressureBad: boolean;
}

/**
 * SENSOR_FAULT. A home gas alarm signals its own sensor fault with the yellow lamp and a continuous
 * buzz (manual lines 216–220); either one counts. A flow meter's temperature or pressure outside the
 * plausible range means a loose front wire or a failed sensor (manual lines 472–478).
 */
export const SensorFaultDetector = defineDetector({
  name: 'sensor-fault',
  description: "Home alarm's yellow lamp / continuous buzz; flow meter temperature or pressure out of range",
  kinds: ['home_gas_alarm', 'flow_meter'],
  conditions: ['SENSOR_FAULT'],
  settingsSchema: Type.Object({
    minTemperatureC: Type.Number({ default: -40, description: 'flow meter temperature under this is a sensor fault, °C' }),
    maxTemperatureC: Type.Number({ default: 70, description: 'flow meter temperature over this is a sensor fault, °C' }),
    minPressureKPa: Type.Number({ default: 0, description: 'flow meter pressure under this is a sensor fault, kPa' }),
    maxPressureKPa: Type.Number({ default: 1600, description: 'flow meter pressure over this is a sensor fault, kPa' }),
  }),
  stateSchema: Type.Object({ lampFault: Type.Boolean(), buzzerContinuous: Type.Boolean(), temperatureBad: Type.Boolean(), pressureBad: Type.Boolean() }),
  initialState: (): State => ({ lampFault: false, buzzerContinuous: false, temperatureBad: false, pressureBad: false }),
  step(_profile, settings, state, reading, _linked, out) {
    let { lampFault, buzzerContinuous, temperatureBad, pressureBad } = state;
    const { temperatureC, pressureKPa } = reading;
    const sources: string[] = [];
    if (reading.kind === 'home_gas_alarm') {
      const lamp = reading.lamps?.fault;
      if (lamp === undefined && reading.buzzer === undefined) return state;
      if (lamp !== undefined) lampFault = lamp;
      if (reading.buzzer !== undefined) buzzerContinuous = reading.buzzer === 'continuous';
      if (lampFault) sources.push('fault_lamp');
      if (buzzerContinuous) sources.push('continuous_buzzer');
    } else {
      if (temperatureC === undefined && pressureKPa === undefined) return state;
      if (temperatureC !== undefined) temperatureBad = temperatureC < settings.minTemperatureC || temperatureC > settings.maxTemperatureC;
      if (pressureKPa !== undefined) pressureBad = pressureKPa < settings.minPressureKPa || pressureKPa > settings.maxPressureKPa;
      if (temperatureBad) sources.push('temperature');
      if (pressureBad) sources.push('pressure');
    }

    out.report('SENSOR_FAULT', sources.length > 0, () => ({
        ...(sources.length ? { sources } : {}),
        ...(temperatureC !== undefined ? { temperatureC, minTemperatureC: settings.minTemperatureC, maxTemperatureC: settings.maxTemperatureC } : {}),
        ...(pressureKPa !== undefined ? { pressureKPa, minPressureKPa: settings.minPressureKPa, maxPressureKPa: settings.maxPressureKPa } : {}),
    }));
    if (lampFault === state.lampFault && buzzerContinuous === state.buzzerContinuous && temperatureBad === state.temperatureBad && pressureBad === state.pressureBad) return state;
    return { lampFault, buzzerContinuous, temperatureBad, pressureBad };
  },
});
