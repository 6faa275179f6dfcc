// The chat's limits as the page keeps them: the protocol's (chat-core's
// MAX_TEXT_BYTES and MAX_NAME_CHARS, the formats of ids and room codes) and
// the page's own. No DOM, so that tests/unit/ reads the same numbers.

/** The protocol's limits (chat-core's MAX_TEXT_BYTES and MAX_NAME_CHARS). */
export const MAX_TEXT_BYTES = 4096;
export const MAX_NAME_CHARS = 32;
/** Show the byte counter once a message gets this close to the limit. */
export const BYTES_WARNING = 3584;
/** Messages kept per conversation; older ones scroll out of memory. */
export const HISTORY_LIMIT = 500;
/** A message id: 13 digits of epoch ms, a dash, 8 hex digits; sortable as text. */
export const MESSAGE_ID = /^\d{13}-[0-9a-f]{8}$/;
/** A `clientId` as the protocol takes it. */
export const CLIENT_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** A room code: 8 characters, 0-9 and a-f. */
export const ROOM_CODE = /^[0-9a-f]{8}$/;

const encoder = new TextEncoder();

/** A text's size as the chat counts it: UTF-8 bytes. */
export function byteLength(text) {
  return encoder.encode(text).length;
}
