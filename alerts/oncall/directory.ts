/** A person who can be notified: a technician, a supervisor or a director. */
export interface Person {
  id: string;
  name: string;
  role: 'technician' | 'supervisor' | 'director';
  phone?: string;
  email?: string;
  /** Webhook targets (group robots) this person's notices also go to, by channel name. */
  webhooks?: string[];
  /** User ids at the enterprise messengers, for app messages to this person. */
  accounts?: PersonAccounts;
  /** Channel instance names, first tried first; absent: every serving channel at once (see PushDispatcher). */
  channelOrder?: string[];
  /** How long the next channel in `channelOrder` waits for one still retrying; absent: until it has finished. */
  fallbackAfterMs?: number;
  /** Local 'HH:MM' (the tickets' time zone) between which normal and low pushes wait; never emergency or urgent. */
  quietHours?: { start: string; end: string };
}

export interface PersonAccounts {
  wecom?: string;
  dingtalk?: string;
  feishu?: string;
}

/** Who answers for a district at one instant, and how (on site or on call at home). */
export interface OnCallAnswer {
  district: string;
  teamId: string;
  /** The technician on duty now (an override wins over the rotation); undefined when nobody is. */
  technician?: Person;
  shift?: { name: string; kind: 'on_site' | 'home'; startsAt: string; endsAt: string };
  supervisor?: Person;
  director?: Person;
}

/** The on-call directory: teams by district, rotations with hand-over times, overrides, home on-call. */
export interface OnCallDirectory {
  whoIsOnCall(district: string | undefined, atMs: number): Promise<OnCallAnswer>;
  person(id: string): Promise<Person | undefined>;
}
