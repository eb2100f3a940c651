'use strict';
// Reads a Server-Sent Events answer (a fetch body) frame by frame: what `EventSource` does,
// without a browser and without a dependency. Each frame is {id, event, data}; comments
// (`: ping`) and the `retry:` hint are skipped.

/** Yields the frames of an SSE body as they arrive. */
async function* sseFrames(body) {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = frameEnd(buffer)) !== null) {
      const frame = parseFrame(buffer.slice(0, end.at));
      buffer = buffer.slice(end.at + end.length);
      if (frame) yield frame;
    }
  }
}

/** Where the first blank line (the end of a frame) is, whatever the line endings. */
function frameEnd(buffer) {
  const m = /\r\n\r\n|\n\n|\r\r/.exec(buffer);
  return m ? { at: m.index, length: m[0].length } : null;
}

function parseFrame(text) {
  const frame = { id: undefined, event: 'message', data: [] };
  let fields = 0;
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const name = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (name === 'id') frame.id = value;
    else if (name === 'event') frame.event = value;
    else if (name === 'data') frame.data.push(value);
    else continue; // retry: and unknown fields
    fields++;
  }
  if (fields === 0 || frame.data.length === 0) return null;
  return { id: frame.id, event: frame.event, data: frame.data.join('\n') };
}

module.exports = { sseFrames };
