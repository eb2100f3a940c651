import { eventFrame, PING_FRAME, resetFrame, retryFrame } from './sse-frames';

/** What a browser's EventSource makes of a frame (the WHATWG parsing rules, the part we use). */
function parse(frame: string): { fields: Record<string, string>; comments: string[] } {
  const fields: Record<string, string> = {};
  const comments: string[] = [];
  expect(frame.endsWith('\n\n')).toBe(true);
  for (const line of frame.slice(0, -2).split('\n')) {
    if (line.startsWith(':')) comments.push(line.slice(1).trim());
    else {
      const i = line.indexOf(':');
      const [name, value] = [line.slice(0, i), line.slice(i + 2)];
      fields[name] = name === 'data' && name in fields ? `${fields[name]}\n${value}` : value;
    }
  }
  return { fields, comments };
}

describe('SSE frames', () => {
  it('writes an event as id, event and its JSON as data', () => {
    const json = JSON.stringify({ id: 'evt_1', type: 'message.status', data: { text: 'a\nb' } });
    const { fields } = parse(eventFrame('1767225600000-3', 'message.status', json));
    expect(fields).toEqual({ id: '1767225600000-3', event: 'message.status', data: json });
    expect(JSON.parse(fields.data)).toEqual(JSON.parse(json));
  });

  it('splits a payload with line breaks into data lines that join back to it', () => {
    const { fields } = parse(eventFrame('1-0', 'x', 'one\ntwo\r\nthree'));
    expect(fields.data).toBe('one\ntwo\nthree');
  });

  it('starts with the retry hint, pings as a comment, and resets without an id', () => {
    expect(parse(retryFrame(3000)).fields).toEqual({ retry: '3000' });
    expect(parse(PING_FRAME)).toEqual({ fields: {}, comments: ['ping'] });
    const reset = parse(resetFrame('1767225600000-0')).fields;
    expect(reset.event).toBe('reset');
    expect(reset.id).toBeUndefined();
    expect(JSON.parse(reset.data)).toMatchObject({
      code: 'EVENTS_TRIMMED',
      oldest: '1767225600000-0',
    });
  });
});
