/**
 * Desktop notifications for a mention or a direct message, when the user is not looking at it: the page is hidden,
 * or the message is in a buffer other than the focused one. Permission is asked only when the user clicks "Enable
 * notifications" (browsers ignore or punish prompts nobody asked for); the body is plain text (the Notification API
 * renders no markup anyway, and nothing of the message is loaded).
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ChatClient, ChatMessage, ClientState } from '../../src/client/index.js';
import { notificationsWanted, storeNotificationsWanted } from './storage.js';

export type NotificationSetting = 'unsupported' | 'denied' | 'off' | 'on';

function supported(): boolean {
  return typeof window !== 'undefined' && 'Notification' in window;
}

function currentSetting(): NotificationSetting {
  if (!supported()) return 'unsupported';
  if (Notification.permission === 'denied') return 'denied';
  return Notification.permission === 'granted' && notificationsWanted() ? 'on' : 'off';
}

export interface NotificationControl {
  readonly setting: NotificationSetting;
  /** On: asks the browser's permission first if it was never given. Off: only stops them (permission stays). */
  readonly toggle: () => void;
}

export function useNotificationSetting(): NotificationControl {
  const [setting, setSetting] = useState<NotificationSetting>(currentSetting);
  return {
    setting,
    toggle() {
      if (setting === 'on') {
        storeNotificationsWanted(false);
        setSetting('off');
        return;
      }
      if (setting !== 'off') return;
      const enable = (permission: NotificationPermission): void => {
        storeNotificationsWanted(permission === 'granted');
        setSetting(currentSetting());
      };
      if (Notification.permission === 'granted') enable('granted');
      else void Notification.requestPermission().then(enable, () => undefined);
    },
  };
}

const CHAT_KINDS = new Set<ChatMessage['kind']>(['privmsg', 'notice', 'action']);
/** Only messages newer than the connection, less this margin, notify: history fetched at connect never does. */
const HISTORY_MARGIN_MS = 5_000;
const BODY_LIMIT = 180;

/** Messages in `next` that `previous` did not have, of the last few (new messages arrive at the end). */
function arrivals(previous: readonly ChatMessage[] | undefined, next: readonly ChatMessage[]): ChatMessage[] {
  if (previous === next) return [];
  const seen = new Set((previous ?? []).slice(-100).map((message) => message.id));
  return next.slice(-20).filter((message) => !seen.has(message.id));
}

/** Shows a notification for each new mention or direct message the user is not looking at, while enabled. */
export function useDesktopNotifications(client: ChatClient, state: ClientState, enabled: boolean): void {
  const previous = useRef<ClientState | undefined>(undefined);
  const since = useRef(Date.now());
  useEffect(() => {
    const before = previous.current;
    previous.current = state;
    if (!enabled || before === undefined || !supported() || Notification.permission !== 'granted') return;
    for (const [key, buffer] of state.buffers) {
      const looking = key === state.active && document.visibilityState === 'visible';
      if (looking || buffer.kind === 'server') continue;
      for (const message of arrivals(before.buffers.get(key)?.messages, buffer.messages)) {
        if (!message.highlight || message.self || !CHAT_KINDS.has(message.kind) || message.time < since.current - HISTORY_MARGIN_MS) continue;
        const title = buffer.kind === 'dm' ? message.from : `${message.from} in ${buffer.name}`;
        // A view-once message has no text in the state, and its content never goes into a notification.
        const text = message.viewOnce === undefined ? message.text : 'View-once message';
        const body = text.length > BODY_LIMIT ? `${text.slice(0, BODY_LIMIT)}…` : text;
        const notification = new Notification(title, { body, tag: `natter:${key}`, silent: false });
        notification.onclick = () => {
          window.focus();
          client.act({ type: 'focus', name: buffer.name });
          notification.close();
        };
      }
    }
  }, [client, state, enabled]);
}
