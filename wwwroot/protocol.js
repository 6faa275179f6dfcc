// The chat's frames as the page reads and writes them: the JSON envelope of
// docs/protocol.md (`format=json`). Frames in are checked field by field here,
// so that the rest of the page sees the right types; frames out are built here.
// No DOM, no state.

import { MESSAGE_ID } from './limits.js';

/** The lobby's conversation in the history protocol. */
export const EVERYONE = 'everyone';
/** The actions that post a message, whose refusals mark the message as not sent. */
export const MESSAGE_ACTIONS = new Set(['send', 'sendMessage', 'chat']);

/**
 * A frame as it came off the socket: `{ frame }` for a JSON object, `{ text }`
 * for what is not JSON (shown as it is), null for JSON that is no object.
 */
export function parse(data) {
  let frame;
  try {
    frame = JSON.parse(data);
  } catch {
    return { text: String(data) };
  }
  return frame !== null && typeof frame === 'object' ? { frame } : null;
}

/** A message id, or null when the field is not one. */
export function messageId(value) {
  return typeof value === 'string' && MESSAGE_ID.test(value) ? value : null;
}

/**
 * A message frame (live, or in a history page) as an item of a conversation.
 * `me`: our connection id; `sentIds`: the ids of the messages this tab sent.
 */
export function messageOf(frame, { me, sentIds, now }) {
  const id = messageId(frame.id);
  const fromId = typeof frame.connectionId === 'string' && frame.connectionId ? frame.connectionId : null;
  return {
    kind: 'message',
    id,
    from: typeof frame.from === 'string' && frame.from ? frame.from : 'someone',
    fromId,
    text: typeof frame.text === 'string' ? frame.text : '',
    at: typeof frame.timestamp === 'number' ? frame.timestamp : now,
    mine: (fromId !== null && fromId === me) || (id !== null && sentIds.has(id)),
  };
}

/** The frame that posts `item` in a conversation (`view`: the lobby, a room or a person), with its clientId. */
export function postFrame(view, item) {
  if (view.kind === 'lobby') return { action: 'send', text: item.text, clientId: item.clientId };
  if (view.kind === 'room') return { action: 'sendMessage', message: item.text, clientId: item.clientId };
  return { action: 'chat', connection: view.peerId, message: item.text, clientId: item.clientId };
}

/** A room's conversation in the history protocol, and the page's id for its view. */
export function roomConversation(code) {
  return `room:${code}`;
}

/** Two connections' conversation in the history protocol, without sign-in: dm:conn:<a>:conn:<b>, sorted. */
export function directConversation(me, peer) {
  const pair = [`conn:${me}`, `conn:${peer}`].sort();
  return `dm:${pair[0]}:${pair[1]}`;
}

/**
 * A chat from before history echoes `history` and `typing`, and one from
 * before #23 `ping`: the action an `echo` frame's text is, when it is one of
 * those, else null.
 */
export function extraEcho(text) {
  let frame;
  try {
    frame = JSON.parse(text);
  } catch {
    return null;
  }
  if (frame === null || typeof frame !== 'object') return null;
  return ['history', 'typing', 'ping'].includes(frame.action) ? frame.action : null;
}

/**
 * API Gateway's own answers carry no type: a frame its route model refused
 * ("Invalid request body"), "Forbidden", "Internal server error". Its message, or null.
 */
export function gatewayRefusal(frame) {
  return typeof frame.message === 'string' && frame.connectionId !== undefined ? frame.message : null;
}

/** A random `clientId`: 32 hex digits, within the protocol's [A-Za-z0-9_-]{1,64}. */
export function newClientId(crypto = globalThis.crypto) {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

export const frames = {
  ping: () => ({ action: 'ping' }),
  rename: (name) => ({ action: 'rename', name }),
  createRoom: (name) => ({ action: 'createRoom', name }),
  joinRoom: (name, roomCode) => ({ action: 'joinRoom', name, roomCode }),
  history: (conversation, bounds) => ({ action: 'history', conversation, ...bounds }),
  typing: (conversation) => ({ action: 'typing', conversation }),
};
