import type { CustomerChannel, CustomerChannelPlugin } from '../channel.ts';
import { PushRejectedError } from '../errors.ts';
import { checkConfig, CustomerSmsConfigSchema, providerNumber, sendSms, str, templateValues } from '../sms/index.ts';

/**
 * The same SMS to customers: customer notices only (low balance, valve closed), to the phone the
 * registry holds for the meter (`customerPhone`, carried in the notice as `data.phone`).
 */
export const CustomerSmsPlugin: CustomerChannelPlugin<typeof CustomerSmsConfigSchema> = {
  name: 'customer-sms',
  audience: 'customer',
  description: 'SMS of customer notices to the customer’s phone from the registry (Aliyun / Tencent Cloud SendSms)',
  configSchema: CustomerSmsConfigSchema,
  // Which customers have a phone only the notice tells: one without is logged not delivered.
  serves: () => true,
  create(config, deps): CustomerChannel {
    checkConfig(config, 'customer-sms');
    return {
      async send(notice) {
        // The dispatcher routes only customer notices here; a staff notice must never reach a customer.
        if (notice.kind !== 'customer.notice') throw new PushRejectedError(`Not a customer notice: ${notice.kind}`);
        const phone = str(notice.data.phone);
        if (!phone) return { delivered: false, reason: 'the registry holds no phone number (customerPhone) for this meter' };
        const number = providerNumber(config.provider, phone, config.countryCode);
        if (!number) throw new PushRejectedError(`Not a phone number: ${phone}`);
        return sendSms(config, number, templateValues(notice, undefined, config.maxParamChars), deps);
      },
      async close() {},
    };
  },
};
