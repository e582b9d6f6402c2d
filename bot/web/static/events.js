// A job's event stream (GET /api/jobs/{id}/events, Server-Sent Events) read with fetch, so
// the Mini App can send its Authorization header: `onEvent` gets each state as an object
// ({status, position, percent}); the promise resolves with the last one when the stream
// ends (null if it could not be opened). Shared by the gallery and the dashboard.
"use strict";

window.readEvents = async function readEvents(url, headers, onEvent) {
  const response = await fetch(url, { headers, credentials: "same-origin" });
  if (!response.ok || !response.body) return null;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let last = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return last;
    buffer += value;
    const parts = buffer.split("\n\n");
    buffer = parts.pop();
    for (const part of parts) {
      const line = part.split("\n").find((l) => l.startsWith("data: "));
      if (line) {
        last = JSON.parse(line.slice(6));
        onEvent(last);
      }
    }
  }
};
