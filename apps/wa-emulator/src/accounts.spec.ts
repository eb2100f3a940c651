import { EmulatorState, type PageLink, type Push } from './accounts';
import { EmulatorError } from './errors';

/** A page link that records what the server pushed. */
function page(): PageLink & { pushes: Push[]; closed: boolean } {
  const link = {
    pushes: [] as Push[],
    closed: false,
    push: (p: Push) => link.pushes.push(p),
    close: () => {
      link.closed = true;
    },
  };
  return link;
}

const refOf = (link: { pushes: Push[] }) => {
  const push = [...link.pushes].reverse().find((p) => 'ref' in p && p.ref);
  return (push as { ref: string }).ref;
};

describe('EmulatorState', () => {
  let state: EmulatorState;

  beforeEach(() => {
    jest.useFakeTimers();
    state = new EmulatorState({ qrRotateMs: 1000, deliveredAfterMs: 300, readAfterMs: 600 });
  });

  afterEach(() => {
    state.close();
    jest.useRealTimers();
  });

  it('shows an unknown device UNPAIRED with a QR ref that rotates; an old ref no longer scans', () => {
    const link = page();
    state.attachLink('d1', link);
    expect(link.pushes[0]).toMatchObject({ type: 'state', state: 'UNPAIRED' });
    const first = refOf(link);
    jest.advanceTimersByTime(1000);
    const second = refOf(link);
    expect(second).not.toBe(first);
    expect(() => state.scan(`${first},k,i,a,p`, '111')).toThrow(EmulatorError);
    expect(state.scan(`${second},k,i,a,p`, '111')).toEqual({ deviceId: 'd1' });
    expect(link.pushes.at(-1)).toEqual({
      type: 'linked',
      me: expect.objectContaining({ phone: '111' }),
    });
  });

  it('drops the QR of a device whose page is gone: not scannable, listed with qr null', () => {
    const link = page();
    state.attachLink('d1', link);
    const ref = refOf(link);
    state.detachLink('d1', link);
    expect(state.listDevices()).toEqual([expect.objectContaining({ deviceId: 'd1', qr: null })]);
    expect(() => state.scan(`${ref},k,i,a,p`, '111')).toThrow(/unknown or expired QR ref/);
    const back = page();
    state.attachLink('d1', back);
    expect(refOf(back)).not.toBe(ref);
    expect(state.listDevices()).toEqual([expect.objectContaining({ qr: refOf(back) })]);
  });

  it('reconnects a linked device CONNECTED, with who it is', () => {
    state.attachLink('d1', page());
    state.link('d1', '111', 'Me');
    const again = page();
    state.attachLink('d1', again);
    expect(again.pushes).toEqual([
      { type: 'state', state: 'CONNECTED', me: { phone: '111', pushname: 'Me' } },
    ]);
  });

  it('acks a sent message 2 then 3 and records it in the sent log', () => {
    const link = page();
    state.attachLink('d1', link);
    state.link('d1', '111');
    const answer = state.send('d1', { id: '3EB0AA', to: '222@c.us', type: 'chat', body: 'hi' });
    expect(answer).toEqual({ t: expect.any(Number), ack: 1 });
    jest.advanceTimersByTime(600);
    const acks = link.pushes.filter((p) => p.type === 'ack');
    expect(acks).toEqual([
      { type: 'ack', id: 'true_222@c.us_3EB0AA', ack: 2 },
      { type: 'ack', id: 'true_222@c.us_3EB0AA', ack: 3 },
    ]);
    expect(state.sent('111')).toEqual([
      expect.objectContaining({
        waMessageId: 'true_222@c.us_3EB0AA',
        body: 'hi',
        ack: 3,
        deviceId: 'd1',
      }),
    ]);
  });

  it('pushes again, on the next link, the acks the page did not confirm (they came while it was away)', () => {
    const link = page();
    state.attachLink('d1', link);
    state.link('d1', '111');
    state.send('d1', { id: 'A', to: '2@c.us', type: 'chat', body: 'confirmed' });
    state.send('d1', { id: 'B', to: '2@c.us', type: 'chat', body: 'missed' });
    state.confirmAcks('d1', [{ id: 'true_2@c.us_A', ack: 1 }]);
    jest.advanceTimersByTime(300);
    state.confirmAcks('d1', [{ id: 'true_2@c.us_A', ack: 2 }]);
    // The page dies before the read receipts (and B's delivery) reach it.
    state.detachLink('d1', link);
    jest.advanceTimersByTime(300);
    // A booting page loads them at the acks it confirmed...
    expect(state.history('d1').map((m) => [m.body, m.ack])).toEqual([
      ['confirmed', 2],
      ['missed', 0],
    ]);
    // ...and gets the rest as pushes on its link.
    const again = page();
    state.attachLink('d1', again);
    expect(again.pushes.filter((p) => p.type === 'ack')).toEqual([
      { type: 'ack', id: 'true_2@c.us_A', ack: 3 },
      { type: 'ack', id: 'true_2@c.us_B', ack: 3 },
    ]);
    state.confirmAcks('d1', [
      { id: 'true_2@c.us_A', ack: 3 },
      { id: 'true_2@c.us_B', ack: 3 },
    ]);
    const third = page();
    state.attachLink('d1', third);
    expect(third.pushes.filter((p) => p.type === 'ack')).toEqual([]);
  });

  it('send faults: each send takes the next armed mode; a `fail` send is refused and not recorded', () => {
    state.attachLink('d1', page());
    state.link('d1', '111');
    state.faults.set('111', 'fail', 1);
    expect(state.takeSendFault('d1')).toEqual({ mode: 'fail' });
    expect(state.takeSendFault('d1')).toEqual({ mode: 'ok' });
    expect(() => state.send('d1', { id: 'B', to: '2@c.us', type: 'chat', fault: 'fail' })).toThrow(
      /send failed/,
    );
    expect(state.send('d1', { id: 'A', to: '2@c.us', type: 'chat', fault: 'undefined' })).toEqual({
      t: expect.any(Number),
      ack: 1,
    });
    expect(state.sent('111').map((s) => s.waMessageId)).toEqual(['true_2@c.us_A']);
  });

  it('holds an incoming message until the account has a connected page', () => {
    const { waMessageId } = state.incoming('111', { from: '333', body: 'hello' });
    const link = page();
    state.attachLink('d1', link);
    expect(link.pushes.some((p) => p.type === 'incoming')).toBe(false);
    state.link('d1', '111');
    expect(link.pushes.filter((p) => p.type === 'incoming')).toEqual([
      {
        type: 'incoming',
        msg: expect.objectContaining({ waMessageId, body: 'hello', from: '333@c.us' }),
      },
    ]);
  });

  it('pushes an incoming message again on a new link until the page confirms it', () => {
    state.attachLink('d1', page());
    state.link('d1', '111');
    const { waMessageId } = state.incoming('111', { from: '333', body: 'hello' });
    const incomingOn = (link: { pushes: Push[] }) =>
      link.pushes.filter((p) => p.type === 'incoming').length;
    // The page reloads before it confirmed: the next link gets it again, once.
    const reloaded = page();
    state.attachLink('d1', reloaded);
    state.incoming('111', { from: '333', body: 'second' });
    expect(incomingOn(reloaded)).toBe(2);
    expect(state.history('d1', '333@c.us')).toEqual([]);
    state.confirmDelivered('d1', [waMessageId]);
    const again = page();
    state.attachLink('d1', again);
    expect(again.pushes.filter((p) => p.type === 'incoming')).toEqual([
      { type: 'incoming', msg: expect.objectContaining({ body: 'second' }) },
    ]);
    expect(state.history('d1', '333@c.us').map((m) => m.body)).toEqual(['hello']);
  });

  it('gives a booting page the newest messages of all its chats, sent and confirmed received', () => {
    state.attachLink('d1', page());
    state.link('d1', '111');
    state.send('d1', { id: 'A', to: '2@c.us', type: 'chat', body: 'one' });
    const { waMessageId } = state.incoming('111', { from: '3', body: 'two' });
    state.send('d1', { id: 'B', to: '4@c.us', type: 'chat', body: 'three' });
    state.incoming('111', { from: '5', body: 'unconfirmed' });
    state.confirmDelivered('d1', [waMessageId]);
    expect(state.history('d1').map((m) => m.body)).toEqual(['one', 'two', 'three']);
    expect(state.history('d1', undefined, 2).map((m) => m.body)).toEqual(['two', 'three']);
  });

  it('links one device per phone: a second is refused unless it takes over (the first gets CONFLICT)', () => {
    const first = page();
    state.attachLink('d1', first);
    state.link('d1', '111');
    state.attachLink('d2', page());
    expect(() => state.link('d2', '111')).toThrow(/already has a linked device/);
    state.link('d2', '111', undefined, true);
    expect(first.pushes.at(-1)).toEqual({ type: 'state', state: 'CONFLICT' });
  });

  it('links with a pairing code once', () => {
    state.attachLink('d1', page());
    const { code } = state.requestPairingCode('d1', '+1 555');
    expect(state.pairing(code.toLowerCase())).toEqual({ deviceId: 'd1', phone: '1555' });
    expect(() => state.pairing(code)).toThrow(/unknown pairing code/);
  });

  it('answers numbers: itself by default, a configured canonical id, or not on WhatsApp', () => {
    state.setNumbers({ '5511999990000': { canonical: '551199990000' }, '999': { exists: false } });
    expect(state.queryExists('123')).toEqual({ wid: '123@c.us' });
    expect(state.queryExists('5511999990000')).toEqual({ wid: '551199990000@c.us' });
    expect(state.queryExists('999')).toEqual({ wid: null });
  });

  it('unlink pushes logout to the page and forgets the device', () => {
    const link = page();
    state.attachLink('d1', link);
    state.link('d1', '111');
    state.unlink('111');
    expect(link.pushes.at(-1)).toEqual({ type: 'logout' });
    expect(state.listDevices()).toEqual([]);
  });
});
