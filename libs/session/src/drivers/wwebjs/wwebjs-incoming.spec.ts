import type { WwebjsMessage } from './wwebjs-client';
import { incomingFromWwebjs, SYSTEM_MESSAGE_TYPES } from './wwebjs-incoming';

/** A received message as whatsapp-web.js's Message exposes it (Message.js `_patch`). */
function received(fields: Partial<WwebjsMessage> = {}): WwebjsMessage {
  return {
    id: {
      _serialized: 'false_15551112222@c.us_3EB0AAA',
      fromMe: false,
      remote: '15551112222@c.us',
    },
    from: '15551112222@c.us',
    to: '15550000000@c.us',
    body: 'hello',
    type: 'chat',
    fromMe: false,
    hasMedia: false,
    timestamp: 1_700_000_000,
    _data: { notifyName: 'Ana' },
    ...fields,
  };
}

describe('incomingFromWwebjs: which `message` events are incoming messages, and what they say', () => {
  it('maps a text message from a person: phone, chat, push name, text, time', () => {
    expect(incomingFromWwebjs(received())).toEqual({
      waMessageId: 'false_15551112222@c.us_3EB0AAA',
      from: '15551112222',
      chatId: '15551112222@c.us',
      senderName: 'Ana',
      text: 'hello',
      type: 'chat',
      media: null,
      timestamp: '2023-11-14T22:13:20.000Z',
      isGroup: false,
    });
  });

  it('maps media as metadata only (mimetype, filename, size from _data), the caption as text', () => {
    const msg = received({
      type: 'document',
      body: 'the invoice',
      hasMedia: true,
      _data: { mimetype: 'application/pdf', filename: 'invoice.pdf', size: 48213 },
    });
    expect(incomingFromWwebjs(msg)).toMatchObject({
      type: 'document',
      text: 'the invoice',
      senderName: null,
      media: { mimetype: 'application/pdf', filename: 'invoice.pdf', size: 48213 },
    });
  });

  it('gives media without a caption a null text, and unknown metadata as null', () => {
    const msg = received({ type: 'ptt', body: '', hasMedia: true, _data: {} });
    expect(incomingFromWwebjs(msg)).toMatchObject({
      text: null,
      media: { mimetype: 'application/octet-stream', filename: null, size: null },
    });
  });

  it('names the participant as the sender of a group message, the group as the chat', () => {
    const msg = received({
      id: {
        _serialized: 'false_120363000000000000@g.us_3EB0BBB_15553334444@c.us',
        remote: '120363000000000000@g.us',
        participant: '15553334444@c.us',
      },
      from: '120363000000000000@g.us',
      author: '15553334444@c.us',
    });
    expect(incomingFromWwebjs(msg)).toMatchObject({
      from: '15553334444',
      chatId: '120363000000000000@g.us',
      isGroup: true,
    });
  });

  it('keeps a sender WhatsApp hides behind a LID as that id (no lookup per message)', () => {
    const msg = received({
      id: { _serialized: 'false_123456789012345@lid_3EB0CCC', remote: '123456789012345@lid' },
      from: '123456789012345@lid',
    });
    expect(incomingFromWwebjs(msg)).toMatchObject({
      from: '123456789012345@lid',
      chatId: '123456789012345@lid',
    });
  });

  it('skips our own messages', () => {
    expect(incomingFromWwebjs(received({ fromMe: true }))).toBeNull();
    expect(
      incomingFromWwebjs(
        received({ id: { _serialized: 'true_15551112222@c.us_3EB0DDD', fromMe: true } }),
      ),
    ).toBeNull();
  });

  it('skips status updates and channel posts', () => {
    expect(
      incomingFromWwebjs(received({ from: 'status@broadcast', isStatus: true, author: '1@c.us' })),
    ).toBeNull();
    expect(incomingFromWwebjs(received({ from: 'status@broadcast' }))).toBeNull();
    expect(incomingFromWwebjs(received({ from: '120363111111111111@newsletter' }))).toBeNull();
  });

  it.each([...SYSTEM_MESSAGE_TYPES])('skips the system message type %s', (type) => {
    expect(incomingFromWwebjs(received({ type, body: '' }))).toBeNull();
  });

  it('maps content types it does not know (new content is better seen than lost)', () => {
    expect(incomingFromWwebjs(received({ type: 'poll_creation', body: 'Lunch?' }))).toMatchObject({
      type: 'poll_creation',
      text: 'Lunch?',
    });
  });

  it('skips what has no id or no chat', () => {
    expect(incomingFromWwebjs({ id: { _serialized: '' } })).toBeNull();
    expect(
      incomingFromWwebjs({ id: { _serialized: 'false_x_1' }, type: 'chat', body: 'x' }),
    ).toBeNull();
  });
});
