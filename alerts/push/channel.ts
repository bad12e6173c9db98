import type { Static, TSchema } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import type { Clock } from '../../app/clock.ts';
import type { Person } from '../oncall/directory.ts';
import type { Db } from '../store/db.ts';
import type { StoreDeadLetterSink } from '../store/dead-letters.ts';
import type { Notice } from '../tickets/notice.ts';
import type { ActionApplier, ActionTokenIssuer, ActionTokenRedeemer } from './actions.ts';
import type { Scheduler } from './scheduler.ts';

/** What a channel says about one push when it did not throw. */
export type SendResult = { delivered: true } | { delivered: false; reason: string };

/**
 * Whom a channel reaches: `staff`, the people of the on-call directory; `customer`, the utility's
 * customers. Customer notices go only to customer channels and staff notices never do, so no
 * ticket detail meant for technicians reaches a customer system.
 */
export type Audience = 'staff' | 'customer';

/** Recipient ids of customers (the ticket side's customer notices); every other recipient is a person. */
export const CUSTOMER_PREFIX = 'customer:';

/**
 * A customer as a customer notice names it: the recipient id `customer:<account>` (the device id
 * stands in when the registry names no customer). Only the id, so that a person is one too and
 * code holding either kind of channel can call it with a person.
 */
export interface CustomerRecipient {
  id: string;
}

/** A configured push channel: throws a PushError (see errors.ts) when the push failed. */
export interface Channel {
  /** `{ delivered: false }` is not a failure: nobody to reach here now (e.g. no open stream). */
  send(notice: Notice, recipient: Person): Promise<SendResult>;
  close(): Promise<void>;
}

/** A configured customer channel: sends only customer notices, to customers; fails as a Channel does. */
export interface CustomerChannel {
  send(notice: Notice, customer: CustomerRecipient): Promise<SendResult>;
  close(): Promise<void>;
}

export interface ChannelDeps {
  log: Logger;
  clock: Clock;
  /** The process's data folder, for a channel that keeps state across restarts (absent: memory only). */
  dataDir?: string;
  /** Stored records a channel cannot replay at start (skipped): the runner logs, counts and keeps them. */
  onDeadLetter?: StoreDeadLetterSink;
  /** The ticket store, for a channel that keeps per-person records (Web Push subscriptions); absent outside the service stage. */
  db?: Db;
  /** The instance's configured name (createChannels sets it): the `via` of actions its callbacks apply. */
  instanceName?: string;
  /** The on-call directory's people, for a callback that must check who clicked (e.g. the WeCom userid). */
  people?: { person(id: string): Promise<Person | undefined> };
  /** The console's address: a one-tap link is `<appUrl>/#/act/<token>` (see actionLink). */
  appUrl?: string;
  /** Issues the action tokens a channel puts into its buttons and links (absent: no buttons). */
  actions?: ActionTokenIssuer;
  /** Applies an action a provider's callback reports (e.g. a WeCom card button click). */
  applyAction?: ActionApplier;
  /** Checks and spends a token a provider's callback carries back (refusals are audited). */
  redeemAction?: ActionTokenRedeemer;
  /**
   * Records a provider's later word on a push this instance sent (createChannels binds it to the
   * instance's name): reached the device, or read / heard. False when no such delivery is known.
   * Absent outside the service stage.
   */
  recordReceipt?: (noticeId: string, personId: string, receipt: Receipt, atMs: number) => Promise<boolean>;
  /** Runs a channel's later work (a read check after sending); timers when absent, a ManualScheduler in tests. */
  scheduler?: Scheduler;
  /** Counts what a provider's reports and read checks said (createChannels binds it to the instance); the runner exposes the counts. */
  onReport?: (outcome: ReportOutcome) => void;
}

/**
 * What one provider report or read check said: `delivered` / `read` recorded; `failed`, the provider
 * says it did not reach the person (recorded nowhere, logged); `unknown`, about a message not sent from here.
 */
export type ReportOutcome = 'delivered' | 'read' | 'failed' | 'unknown';

/** What a provider said later about a push it accepted: reached the device, or read (heard, for a call). */
export type Receipt = 'delivered' | 'read';

/** Where receipts are kept: the push dispatcher's delivery store (PushDispatcher.recordReceipt). */
export interface ReceiptStore {
  recordReceipt(noticeId: string, recipientId: string, channel: string, receipt: Receipt, atMs: number): Promise<boolean>;
}

/**
 * Routes a provider calls back (button clicks, delivery reports), mounted under
 * `/hooks/v1/push/<instance name>/` outside the bearer-token API: each route checks the
 * provider's own signature (or, where the provider signs nothing, a shared secret in the URL) and
 * answers in the provider's documented shape. Undefined when the instance is configured for none.
 */
export type ChannelCallbacks<S extends TSchema = TSchema, C = unknown> = (config: Static<S>, channel: C, deps: ChannelDeps) => FastifyPluginAsync | undefined;

/** A channel plugin: declared alike, config parsed against `configSchema` before `create`. */
export interface ChannelPlugin<S extends TSchema = TSchema, C extends Channel = Channel> {
  name: string;
  /** Staff channels may leave it out. */
  audience?: 'staff';
  description: string;
  configSchema: S;
  create(config: Static<S>, deps: ChannelDeps): C;
  /** Whether an instance called `instanceName` serves this person (e.g. e-mail needs an address). */
  serves(person: Person, instanceName: string, config: Static<S>): boolean;
  /** Provider callback routes for an instance, if the provider calls back. */
  callbacks?: ChannelCallbacks<S, C>;
}

/** A plugin whose instances reach customers (a CRM webhook; later SMS to customers' phones). */
export interface CustomerChannelPlugin<S extends TSchema = TSchema, C extends CustomerChannel = CustomerChannel> {
  name: string;
  audience: 'customer';
  description: string;
  configSchema: S;
  create(config: Static<S>, deps: ChannelDeps): C;
  /** Whether an instance called `instanceName` serves this customer. */
  serves(customer: CustomerRecipient, instanceName: string, config: Static<S>): boolean;
}

export const DELIVERED: SendResult = { delivered: true };
