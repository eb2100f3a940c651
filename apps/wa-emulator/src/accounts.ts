import { createHash, randomBytes } from 'node:crypto';
import { EmulatorError } from './errors';
import { checkedSendMedia, mediaPathOf } from './emulator-media';
import { newPairingCode, newRef, refFromQr } from './qr';
import { SendFaults, type SendFaultMode } from './send-faults';

/** Timings the control API can change (`PUT /control/settings`). */
export interface EmulatorSettings {
  /** How often an unlinked device's QR ref rotates; 0 = never, else at least 1000. */
  qrRotateMs: number;
  /** Delay before a sent message is delivered (ack 2); 0 or negative = never. */
  deliveredAfterMs: number;
  /** Delay before a sent message is read (ack 3); 0 or negative = never. */
  readAfterMs: number;
}

export const DEFAULT_SETTINGS: EmulatorSettings = {
  qrRotateMs: 20_000,
  deliveredAfterMs: 300,
  readAfterMs: 600,
};

/** Below this a QR ref would rotate faster than a test (or a person) can scan it. */
export const MIN_QR_ROTATE_MS = 1000;

/**
 * Settings as the control API (or startEmulator) gives them, checked: known keys only, finite
 * numbers, `qrRotateMs` 0 (never rotate) or at least MIN_QR_ROTATE_MS.
 */
export function checkedSettings(input: Record<string, unknown>): Partial<EmulatorSettings> {
  const checked: Partial<EmulatorSettings> = {};
  for (const [key, value] of Object.entries(input)) {
    if (!Object.hasOwn(DEFAULT_SETTINGS, key))
      throw new EmulatorError(400, 'bad_setting', `unknown setting ${key.slice(0, 40)}`);
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new EmulatorError(400, 'bad_setting', `${key} must be a number`);
    if (key === 'qrRotateMs' && value !== 0 && !(value >= MIN_QR_ROTATE_MS))
      throw new EmulatorError(
        400,
        'bad_setting',
        `qrRotateMs must be 0 (never rotate) or at least ${MIN_QR_ROTATE_MS}`,
      );
    checked[key as keyof EmulatorSettings] = value;
  }
  return checked;
}

/** Server -> page pushes (page/auth.js and page/messages.js handle them). */
export type Push =
  | { type: 'state'; state: string; ref?: string; me?: Me }
  | { type: 'ref'; ref: string }
  | { type: 'linked'; me: Me }
  | { type: 'logout' }
  | { type: 'freeze' }
  | { type: 'reload' }
  | { type: 'incoming'; msg: PageMessage }
  | { type: 'ack'; id: string; ack: number; force?: true };

/** The open link to one page (an SSE stream). */
export interface PageLink {
  push(push: Push): void;
  close(): void;
}

export interface Me {
  phone: string;
  pushname: string;
}

export interface MediaRecord {
  mimetype: string;
  filename?: string;
  size: number;
  /** base64 sha256 of the file. */
  filehash: string;
  base64?: string;
}

/** A message the server knows: one the account sent, or one it received. */
export interface MessageRecord {
  seq: number;
  /** The account (the linked phone). */
  phone: string;
  /** The device that sent it (sent messages). */
  deviceId: string | null;
  waMessageId: string;
  key: { fromMe: boolean; remote: string; id: string };
  from: string;
  to: string;
  type: string;
  body: string;
  /** Seconds since the epoch. */
  t: number;
  ack: number;
  notifyName?: string;
  quotedMsgId?: string;
  media?: MediaRecord;
  /**
   * Received messages: the account's page confirmed it holds it (in its Msg store, with
   * whatsapp-web.js listening: the `delivered` RPC). Until then it is pushed again on every new
   * link of the account's page (a reload, a restarted browser).
   */
  delivered?: boolean;
  /**
   * Sent messages: the ack the account's page confirmed it applied (the `acked` RPC). An ack the
   * page did not confirm (it was dead, frozen or reloading when the ack came) is pushed again on
   * its next link, as WhatsApp's server keeps receipts for a device until it takes them.
   */
  pageAck?: number;
}

/** A message as the page builds its Msg model from it (page/messages.js msgFromRecord). */
export interface PageMessage {
  waMessageId: string;
  id: { fromMe: boolean; remote: string; id: string };
  from: string;
  to: string;
  type: string;
  body: string;
  t: number;
  ack: number;
  notifyName?: string;
  mimetype?: string;
  filename?: string;
  size?: number;
  filehash?: string;
  directPath?: string;
  caption?: string;
}

/** One entry of `GET /control/sent`. */
export interface SentEntry {
  seq: number;
  phone: string;
  deviceId: string | null;
  waMessageId: string;
  to: string;
  type: string;
  body: string;
  media?: { mimetype: string; filename?: string; size: number; filehash: string };
  t: number;
  ack: number;
}

export interface DeviceView {
  deviceId: string;
  state: string;
  /** The current QR ref (scan accepts it as the `qr`), null when linked or offline. */
  qr: string | null;
  phone: string | null;
  connected: boolean;
}

export interface SendParams {
  id: string;
  to: string;
  type: string;
  body?: string;
  quotedMsgId?: string;
  media?: { mimetype: string; filename?: string; size: number; filehash: string; base64?: string };
  /** The fault mode the page took for this send (`sendFault` RPC); only `fail` matters here. */
  fault?: SendFaultMode;
}

/** The server's answer to a send it received: the message has ack 1 (server) now. */
export type SendAnswer = { t: number; ack: number };

export interface IncomingParams {
  from: string;
  body?: string;
  id?: string;
  pushname?: string;
  media?: { mimetype: string; filename?: string; base64: string; caption?: string };
}

interface Device {
  deviceId: string;
  state: string;
  phone: string | null;
  ref: string | null;
  link: PageLink | null;
  rotation: NodeJS.Timeout | null;
}

interface Account {
  phone: string;
  pushname: string;
  /** The linked device, if any (one per phone). */
  deviceId: string | null;
}

export type NumberRule = { canonical: string } | { exists: false };

const nowSeconds = () => Math.floor(Date.now() / 1000);
const digitsOf = (s: string) => s.replace(/\D/g, '');
const userWid = (s: string) => (s.includes('@') ? s : `${digitsOf(s)}@c.us`);

/**
 * What WhatsApp's servers and the user's phone know: devices (one per browser profile), accounts
 * (phones) and which device each has linked, QR refs and pairing codes, the messages sent and
 * received, acks, send faults and which numbers exist. The page reaches it through RPCs and
 * pushes (page-link.ts), tests through the control API (control-api.ts).
 */
export class EmulatorState {
  settings: EmulatorSettings;
  readonly faults = new SendFaults();
  private readonly devices = new Map<string, Device>();
  private readonly accounts = new Map<string, Account>();
  private readonly numbers = new Map<string, NumberRule>();
  private readonly refs = new Map<string, string>();
  private readonly pairingCodes = new Map<string, { deviceId: string; phone: string }>();
  private messages: MessageRecord[] = [];
  private seq = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Received messages not yet confirmed: the link each was last pushed on (by seq). */
  private readonly pushedOn = new Map<number, PageLink>();

  constructor(settings: Partial<EmulatorSettings> = {}) {
    this.settings = { ...DEFAULT_SETTINGS, ...checkedSettings(settings) };
  }

  // --- The page's link ----------------------------------------------------------------------

  /** A page opened its link: a linked device is CONNECTED, an unknown one UNPAIRED with a QR. */
  attachLink(deviceId: string, link: PageLink): void {
    const device = this.devices.get(deviceId) ?? this.newDevice(deviceId);
    // A reloaded page opens a new link before the old one is noticed closed.
    if (device.link && device.link !== link) device.link.close();
    device.link = link;
    if (device.phone) {
      device.state = 'CONNECTED';
      link.push({ type: 'state', state: 'CONNECTED', me: this.meOf(device.phone) });
      this.deliverPending(device.phone);
      this.redeliverAcks(device.phone);
    } else {
      device.state = 'UNPAIRED';
      link.push({ type: 'state', state: 'UNPAIRED', ref: this.rotateRef(device) });
      this.startRotation(device);
    }
  }

  /**
   * The page went away: its QR is no longer on any screen, so the ref is dropped (a scan of it is
   * a 404, the device lists `qr: null`); a page that comes back gets a fresh one.
   */
  detachLink(deviceId: string, link: PageLink): void {
    const device = this.devices.get(deviceId);
    if (!device || device.link !== link) return;
    device.link = null;
    this.stopRotation(device);
    this.dropRef(device);
  }

  // --- RPCs from the page ---------------------------------------------------------------------

  /** The fault armed for the device's account's next send (consumed): the page asks first. */
  takeSendFault(deviceId: string): { mode: SendFaultMode } {
    return { mode: this.faults.take(this.linkedPhone(deviceId)) };
  }

  /**
   * The server receives a sent message (the page stored it at ack 0 already): recorded in the
   * sent log at ack 1, delivered/read later. `fault` is the mode the page took for it: `fail`
   * is refused (nothing recorded), `ok`/`undefined` are received alike.
   */
  send(deviceId: string, params: SendParams): SendAnswer {
    const phone = this.linkedPhone(deviceId);
    if (params.fault === 'fail')
      throw new EmulatorError(502, 'send_failed', 'send failed (emulated fault)');
    const waMessageId = `true_${params.to}_${params.id}`;
    const known = this.messages.find((m) => m.waMessageId === waMessageId);
    const record =
      known ??
      this.addMessage({
        phone,
        deviceId,
        waMessageId,
        key: { fromMe: true, remote: params.to, id: params.id },
        from: `${phone}@c.us`,
        to: params.to,
        type: params.type,
        body: params.body ?? '',
        t: nowSeconds(),
        ack: 1,
        quotedMsgId: params.quotedMsgId,
        media: params.media ? checkedSendMedia(params.media) : undefined,
      });
    if (!known) this.scheduleAcks(record);
    return { t: record.t, ack: 1 };
  }

  queryExists(number: string): { wid: string | null } {
    const digits = digitsOf(number);
    const rule = this.numbers.get(digits);
    if (rule && 'exists' in rule) return { wid: null };
    return { wid: `${rule?.canonical ?? digits}@c.us` };
  }

  requestPairingCode(deviceId: string, phone: string): { code: string } {
    this.deviceOrThrow(deviceId);
    const code = newPairingCode();
    this.pairingCodes.set(code, { deviceId, phone: digitsOf(phone) });
    return { code };
  }

  /** The page's own logout (Socket.logout): the device is forgotten. */
  pageLogout(deviceId: string): void {
    const device = this.deviceOrThrow(deviceId);
    this.forgetDevice(device);
  }

  takeover(deviceId: string): void {
    const device = this.deviceOrThrow(deviceId);
    if (!device.phone) throw new EmulatorError(409, 'not_linked', 'device is not linked');
    const account = this.accountOf(device.phone);
    const previous = account.deviceId && this.devices.get(account.deviceId);
    if (previous && previous !== device) this.conflict(previous);
    account.deviceId = deviceId;
    this.setDeviceState(device, 'CONNECTED');
  }

  refreshQr(deviceId: string): void {
    const device = this.deviceOrThrow(deviceId);
    if (device.phone) return;
    device.link?.push({ type: 'ref', ref: this.rotateRef(device) });
  }

  /**
   * Messages of the device's account the page may know, oldest first: those of one chat
   * (fetchMessages history), or the newest `limit` of all chats (what a page loads at boot, so
   * acks of messages sent before a reload still reach a Msg). Received messages only once the
   * page confirmed them: an unconfirmed one comes as `incoming` instead.
   */
  history(deviceId: string, chat?: string, limit = Infinity): PageMessage[] {
    const phone = this.linkedPhone(deviceId);
    const known = this.messages.filter(
      (m) =>
        m.phone === phone &&
        (chat === undefined || m.key.remote === chat) &&
        (m.key.fromMe || m.delivered),
    );
    // A sent message as the page last held it: at the ack it confirmed (the newer ones come as
    // `ack` pushes, redeliverAcks), so each still fires `message_ack` there.
    return known
      .slice(Math.max(0, known.length - limit))
      .map((m) => (m.key.fromMe ? { ...toPageMessage(m), ack: m.pageAck ?? 0 } : toPageMessage(m)));
  }

  /** The page applied these acks to its messages (and whatsapp-web.js was listening). */
  confirmAcks(deviceId: string, acks: { id: string; ack: number }[]): void {
    const phone = this.linkedPhone(deviceId);
    const byId = new Map(acks.map((a) => [a.id, a.ack]));
    for (const record of this.messages) {
      if (record.phone !== phone || !record.key.fromMe) continue;
      const ack = byId.get(record.waMessageId);
      if (ack !== undefined) record.pageAck = ack;
    }
  }

  /** The page holds these received messages (in its store, the app listening): delivered. */
  confirmDelivered(deviceId: string, waMessageIds: string[]): void {
    const phone = this.linkedPhone(deviceId);
    const ids = new Set(waMessageIds);
    for (const record of this.messages) {
      if (record.phone !== phone || record.key.fromMe || !ids.has(record.waMessageId)) continue;
      record.delivered = true;
      this.pushedOn.delete(record.seq);
    }
  }

  getMessages(deviceId: string, ids: string[]): PageMessage[] {
    const phone = this.linkedPhone(deviceId);
    const wanted = new Set(ids);
    return this.messages
      .filter((m) => m.phone === phone && wanted.has(m.waMessageId))
      .map(toPageMessage);
  }

  // --- Control: the phone, the network, the test ------------------------------------------------

  listDevices(): DeviceView[] {
    return [...this.devices.values()].map((d) => ({
      deviceId: d.deviceId,
      state: d.state,
      qr: d.phone || !d.link ? null : d.ref,
      phone: d.phone,
      connected: d.link !== null,
    }));
  }

  /** The phone scans a QR (the string whatsapp-web.js emitted, or its ref). */
  scan(qr: string, phone: string, pushname?: string, takeover = false): { deviceId: string } {
    const deviceId = this.refs.get(refFromQr(qr));
    if (!deviceId) throw new EmulatorError(404, 'unknown_qr', 'unknown or expired QR ref');
    this.link(deviceId, phone, pushname, takeover);
    return { deviceId };
  }

  /** The phone confirms a pairing code. */
  pairing(code: string): { deviceId: string; phone: string } {
    const normalized = code.replace(/[\s-]/g, '').toUpperCase();
    const entry = this.pairingCodes.get(normalized);
    if (!entry) throw new EmulatorError(404, 'unknown_code', 'unknown pairing code');
    this.pairingCodes.delete(normalized);
    this.link(entry.deviceId, entry.phone);
    return entry;
  }

  /** Links a device to a phone (QR, code or directly). One device per phone unless `takeover`. */
  link(deviceId: string, phoneInput: string, pushname?: string, takeover = false): void {
    const phone = digitsOf(phoneInput);
    if (!phone) throw new EmulatorError(400, 'bad_phone', 'phone must hold digits');
    const device = this.deviceOrThrow(deviceId);
    if (device.phone)
      throw new EmulatorError(409, 'already_linked', `device is linked to ${device.phone}`);
    const account = this.accountOf(phone);
    if (pushname) account.pushname = pushname;
    const previous = account.deviceId ? this.devices.get(account.deviceId) : undefined;
    if (previous && previous !== device) {
      if (!takeover)
        throw new EmulatorError(
          409,
          'phone_linked',
          `${phone} already has a linked device (${previous.deviceId})`,
        );
      this.conflict(previous);
    }
    account.deviceId = deviceId;
    device.phone = phone;
    this.stopRotation(device);
    this.dropRef(device);
    device.state = 'CONNECTED';
    device.link?.push({ type: 'linked', me: this.meOf(phone) });
    this.deliverPending(phone);
  }

  setState(deviceId: string, state: string): void {
    const device = this.deviceOrThrow(deviceId);
    if (state === 'UNPAIRED' && device.phone) this.unpair(device);
    this.setDeviceState(device, state);
  }

  freeze(deviceId: string): void {
    this.connectedDevice(deviceId).link?.push({ type: 'freeze' });
  }

  reload(deviceId: string): void {
    this.connectedDevice(deviceId).link?.push({ type: 'reload' });
  }

  /** The phone removes its linked device: the page logs out (Cmd logout, post_logout). */
  unlink(phoneInput: string): { deviceId: string } {
    const phone = digitsOf(phoneInput);
    const deviceId = this.accounts.get(phone)?.deviceId;
    const device = deviceId ? this.devices.get(deviceId) : undefined;
    if (!device) throw new EmulatorError(404, 'no_linked_device', `${phone} has no linked device`);
    device.link?.push({ type: 'logout' });
    this.forgetDevice(device);
    return { deviceId: device.deviceId };
  }

  /** Someone sends the account a message. Held until the account's page is connected. */
  incoming(phoneInput: string, params: IncomingParams): { waMessageId: string } {
    const phone = digitsOf(phoneInput);
    if (!params.from) throw new EmulatorError(400, 'bad_request', '`from` is required');
    const account = this.accountOf(phone);
    const from = userWid(params.from);
    const id = params.id ?? randomBytes(16).toString('hex').toUpperCase();
    const waMessageId = `false_${from}_${id}`;
    const media = params.media ? mediaRecordOf(params.media) : undefined;
    this.addMessage({
      phone,
      deviceId: null,
      waMessageId,
      key: { fromMe: false, remote: from, id },
      from,
      to: `${phone}@c.us`,
      type: media ? mediaTypeOf(media.mimetype) : 'chat',
      body: params.media?.caption ?? params.body ?? '',
      t: nowSeconds(),
      ack: 0,
      notifyName: params.pushname ?? `Contact ${digitsOf(from).slice(-4)}`,
      media,
      delivered: false,
    });
    if (account.deviceId) this.deliverPending(phone);
    return { waMessageId };
  }

  /** Sets a sent message's ack (the recipient's phone got / read it). */
  ack(phoneInput: string, waMessageId: string, ack: number): void {
    const phone = digitsOf(phoneInput);
    const record = this.messages.find((m) => m.phone === phone && m.waMessageId === waMessageId);
    if (!record) throw new EmulatorError(404, 'unknown_message', `unknown message ${waMessageId}`);
    this.setAck(record, ack, true);
  }

  setNumbers(rules: Record<string, NumberRule>): void {
    for (const [number, rule] of Object.entries(rules)) {
      const canonical = 'canonical' in rule ? digitsOf(rule.canonical) : undefined;
      this.numbers.set(digitsOf(number), canonical ? { canonical } : { exists: false });
    }
  }

  /** Changes timings (checked: checkedSettings); a running QR rotation restarts at the new pace. */
  updateSettings(settings: Record<string, unknown>): EmulatorSettings {
    Object.assign(this.settings, checkedSettings(settings));
    for (const device of this.devices.values()) {
      if (device.rotation || (device.link && !device.phone)) this.startRotation(device);
    }
    return this.settings;
  }

  sent(phone?: string, after = 0): SentEntry[] {
    const wanted = phone ? digitsOf(phone) : undefined;
    return this.messages
      .filter((m) => m.key.fromMe && m.seq > after && (!wanted || m.phone === wanted))
      .map((m) => ({
        seq: m.seq,
        phone: m.phone,
        deviceId: m.deviceId,
        waMessageId: m.waMessageId,
        to: m.to,
        type: m.type,
        body: m.body,
        ...(m.media
          ? {
              media: {
                mimetype: m.media.mimetype,
                filename: m.media.filename,
                size: m.media.size,
                filehash: m.media.filehash,
              },
            }
          : {}),
        t: m.t,
        ack: m.ack,
      }));
  }

  /** A message record (media.js's download route reads the bytes from it). */
  message(waMessageId: string): MessageRecord | undefined {
    return this.messages.find((m) => m.waMessageId === waMessageId);
  }

  /** Forget everything; open pages reconnect as new devices. */
  reset(): void {
    this.close();
    this.devices.clear();
    this.accounts.clear();
    this.numbers.clear();
    this.refs.clear();
    this.pairingCodes.clear();
    this.faults.clear();
    this.messages = [];
    this.pushedOn.clear();
    this.settings = { ...DEFAULT_SETTINGS };
  }

  /** Stops every timer and closes every link. */
  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const device of this.devices.values()) {
      this.stopRotation(device);
      device.link?.close();
      device.link = null;
    }
  }

  // --- Internals -------------------------------------------------------------------------------

  private newDevice(deviceId: string): Device {
    const device: Device = {
      deviceId,
      state: 'OPENING',
      phone: null,
      ref: null,
      link: null,
      rotation: null,
    };
    this.devices.set(deviceId, device);
    return device;
  }

  private deviceOrThrow(deviceId: string): Device {
    const device = this.devices.get(deviceId);
    if (!device) throw new EmulatorError(404, 'unknown_device', `unknown device ${deviceId}`);
    return device;
  }

  private connectedDevice(deviceId: string): Device {
    const device = this.deviceOrThrow(deviceId);
    if (!device.link) throw new EmulatorError(409, 'not_connected', 'device has no open page');
    return device;
  }

  private linkedPhone(deviceId: string): string {
    const phone = this.devices.get(deviceId)?.phone;
    if (!phone) throw new EmulatorError(409, 'not_linked', 'device is not linked');
    return phone;
  }

  private accountOf(phone: string): Account {
    let account = this.accounts.get(phone);
    if (!account) {
      account = { phone, pushname: `Emulated ${phone.slice(-4)}`, deviceId: null };
      this.accounts.set(phone, account);
    }
    return account;
  }

  private meOf(phone: string): Me {
    return { phone, pushname: this.accountOf(phone).pushname };
  }

  private setDeviceState(device: Device, state: string): void {
    device.state = state;
    device.link?.push({
      type: 'state',
      state,
      ...(state === 'CONNECTED' && device.phone ? { me: this.meOf(device.phone) } : {}),
    });
  }

  /** Another device took the phone over: this one sees CONFLICT and is no longer linked. */
  private conflict(device: Device): void {
    this.unpair(device);
    this.setDeviceState(device, 'CONFLICT');
  }

  private unpair(device: Device): void {
    const account = device.phone ? this.accounts.get(device.phone) : undefined;
    if (account?.deviceId === device.deviceId) account.deviceId = null;
    device.phone = null;
  }

  private forgetDevice(device: Device): void {
    this.unpair(device);
    this.stopRotation(device);
    this.dropRef(device);
    this.devices.delete(device.deviceId);
  }

  private rotateRef(device: Device): string {
    this.dropRef(device);
    device.ref = newRef();
    this.refs.set(device.ref, device.deviceId);
    return device.ref;
  }

  private dropRef(device: Device): void {
    if (device.ref) this.refs.delete(device.ref);
    device.ref = null;
  }

  private startRotation(device: Device): void {
    this.stopRotation(device);
    if (this.settings.qrRotateMs === 0) return;
    device.rotation = setInterval(() => {
      device.link?.push({ type: 'ref', ref: this.rotateRef(device) });
    }, this.settings.qrRotateMs);
  }

  private stopRotation(device: Device): void {
    if (device.rotation) clearInterval(device.rotation);
    device.rotation = null;
  }

  private addMessage(fields: Omit<MessageRecord, 'seq'>): MessageRecord {
    const record = { ...fields, seq: ++this.seq };
    this.messages.push(record);
    return record;
  }

  private scheduleAcks(record: MessageRecord): void {
    const { deliveredAfterMs, readAfterMs } = this.settings;
    if (deliveredAfterMs > 0) this.later(deliveredAfterMs, () => this.setAck(record, 2));
    if (readAfterMs > 0) this.later(readAfterMs, () => this.setAck(record, 3));
  }

  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  /**
   * Acks only rise on their own (read after delivered); the control API may set any, -1 and
   * lower ones too: such a push is `force`d, so the page applies it even when it is not higher.
   */
  private setAck(record: MessageRecord, ack: number, force = false): void {
    if (!force && ack <= record.ack) return;
    record.ack = ack;
    this.pageOf(record.phone)?.push({
      type: 'ack',
      id: record.waMessageId,
      ack,
      ...(force ? { force: true as const } : {}),
    });
  }

  private pageOf(phone: string): PageLink | null {
    const deviceId = this.accounts.get(phone)?.deviceId;
    return (deviceId && this.devices.get(deviceId)?.link) || null;
  }

  /**
   * Pushes to the account's page, on its new link, every ack of a sent message it has not
   * confirmed: one that came while it was away (dead, frozen, reloading) is not lost. The page
   * holds them until whatsapp-web.js listens, then applies and confirms them.
   */
  private redeliverAcks(phone: string): void {
    const page = this.pageOf(phone);
    if (!page) return;
    for (const record of this.messages) {
      if (record.phone !== phone || !record.key.fromMe) continue;
      const known = record.pageAck ?? 0;
      if (record.ack === known) continue;
      page.push({
        type: 'ack',
        id: record.waMessageId,
        ack: record.ack,
        ...(record.ack < known ? { force: true as const } : {}),
      });
    }
  }

  /**
   * Pushes the account's unconfirmed received messages to its page, once per link: a message
   * pushed to a page that then reloads (or whose browser died) before confirming it is pushed
   * again to the next link. The page drops one it already holds (by id) and confirms it.
   */
  private deliverPending(phone: string): void {
    const page = this.pageOf(phone);
    if (!page) return;
    for (const record of this.messages) {
      if (record.phone !== phone || record.key.fromMe || record.delivered) continue;
      if (this.pushedOn.get(record.seq) === page) continue;
      this.pushedOn.set(record.seq, page);
      page.push({ type: 'incoming', msg: toPageMessage(record) });
    }
  }
}

function mediaRecordOf(media: NonNullable<IncomingParams['media']>): MediaRecord {
  const bytes = Buffer.from(media.base64, 'base64');
  return {
    mimetype: media.mimetype,
    filename: media.filename,
    size: bytes.length,
    filehash: createHash('sha256').update(bytes).digest('base64'),
    base64: media.base64,
  };
}

function mediaTypeOf(mimetype: string): string {
  if (mimetype.startsWith('image/')) return 'image';
  if (mimetype.startsWith('video/')) return 'video';
  if (mimetype.startsWith('audio/')) return 'audio';
  return 'document';
}

/** The page's view of a record; media messages carry `directPath`, so whatsapp-web.js sees hasMedia. */
export function toPageMessage(m: MessageRecord): PageMessage {
  return {
    waMessageId: m.waMessageId,
    id: m.key,
    from: m.from,
    to: m.to,
    type: m.type,
    body: m.body,
    t: m.t,
    ack: m.ack,
    ...(m.notifyName ? { notifyName: m.notifyName } : {}),
    ...(m.media
      ? {
          mimetype: m.media.mimetype,
          filename: m.media.filename,
          size: m.media.size,
          filehash: m.media.filehash,
          caption: m.body,
          // Sent media too: WhatsApp keeps a sent file's directPath, and whatsapp-web.js's
          // hasMedia (what findSent matches media by) is Boolean(directPath).
          directPath: mediaPathOf(m.waMessageId),
        }
      : {}),
  };
}
