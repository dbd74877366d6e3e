/**
 * The room directory (LIST) in a dialog: every public room with its member count and topic, filtered as you type;
 * choosing one joins it (or shows it, when already joined). Also the modal Dialog the shell's other dialogs use: a
 * native <dialog> opened with showModal(), so focus is trapped, Escape closes and the page behind is inert.
 */
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import type { ComponentChildren } from 'preact';
import { bufferKey } from '../../../src/client/index.js';
import type { ChatClient, ClientState, ListEntry } from '../../../src/client/index.js';
import { Icon } from './Header.js';

export interface DialogProps {
  readonly title: string;
  readonly description?: string;
  readonly onClose: () => void;
  readonly children: ComponentChildren;
  readonly wide?: boolean;
}

export function Dialog({ title, description, onClose, children, wide }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const descriptionId = useId();
  const closeRef = useRef(onClose);
  closeRef.current = onClose;
  useEffect(() => {
    const dialog = ref.current;
    if (dialog === null) return undefined;
    if (!dialog.open) dialog.showModal();
    const closed = (): void => {
      closeRef.current();
    };
    dialog.addEventListener('close', closed);
    return () => {
      dialog.removeEventListener('close', closed);
      if (dialog.open) dialog.close();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      class={`dialog${wide === true ? ' dialog-wide' : ''}`}
      aria-modal="true"
      aria-labelledby={titleId}
      aria-describedby={description === undefined ? undefined : descriptionId}
      onClick={(event) => {
        // A click on the backdrop lands on the <dialog> itself; clicks inside land on its content.
        if (event.target === ref.current) ref.current?.close();
      }}
    >
      <div class="dialog-body">
        <div class="dialog-head">
          <h2 id={titleId}>{title}</h2>
          <button
            type="button"
            class="icon-button"
            aria-label="Close"
            onClick={() => {
              ref.current?.close();
            }}
          >
            <Icon name="close" />
          </button>
        </div>
        {description !== undefined && (
          <p id={descriptionId} class="dialog-description">
            {description}
          </p>
        )}
        {children}
      </div>
    </dialog>
  );
}

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}

export interface DirectoryProps {
  readonly client: ChatClient;
  readonly state: ClientState;
  readonly onClose: () => void;
  /** Offered when the directory is empty, or nothing matches the filter. */
  readonly onCreateRoom: () => void;
}

export function Directory({ client, state, onClose, onCreateRoom }: DirectoryProps) {
  const [filter, setFilter] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [joining, setJoining] = useState<string | undefined>(undefined);
  useEffect(() => {
    client.list().catch((failure: unknown) => {
      setError(failure instanceof Error ? failure.message : 'The directory could not be loaded');
    });
  }, [client]);
  const directory = state.directory;
  const needle = filter.trim().toLowerCase();
  const entries = [...(directory?.entries ?? [])]
    .filter((entry) => needle === '' || entry.name.toLowerCase().includes(needle) || entry.topic.toLowerCase().includes(needle))
    .sort((a, b) => b.users - a.users || a.name.localeCompare(b.name));
  const choose = (entry: ListEntry): void => {
    const joined = state.buffers.get(bufferKey(state, entry.name))?.joined === true;
    if (joined) {
      client.act({ type: 'focus', name: entry.name });
      onClose();
      return;
    }
    setJoining(entry.name);
    client.join(entry.name).then(
      () => {
        client.act({ type: 'open', name: entry.name });
        onClose();
      },
      (failure: unknown) => {
        setJoining(undefined);
        setError(failure instanceof Error ? failure.message : `Could not join ${entry.name}`);
      },
    );
  };
  const loading = directory === undefined || !directory.complete;
  return (
    <Dialog title="Browse rooms" description="Public rooms on this server. Choose one to join it." onClose={onClose} wide>
      <label class="search-field">
        <Icon name="search" />
        <span class="visually-hidden">Search rooms</span>
        <input
          type="search"
          value={filter}
          placeholder="Search rooms"
          onInput={(event) => {
            setFilter(event.currentTarget.value);
          }}
        />
      </label>
      {error !== undefined && (
        <p role="alert" class="form-error">
          {error}
        </p>
      )}
      <p class="directory-status muted" role="status">
        {loading ? 'Loading rooms…' : entries.length === 0 ? (needle === '' ? 'No public rooms yet.' : 'No room matches.') : plural(entries.length, 'room', 'rooms')}
      </p>
      {entries.length > 0 && (
        <ul class="directory-list">
          {entries.map((entry) => {
            const joined = state.buffers.get(bufferKey(state, entry.name))?.joined === true;
            return (
              <li key={entry.name}>
                <button
                  type="button"
                  class="directory-entry"
                  aria-label={`${joined ? 'Open' : 'Join'} ${entry.name}, ${plural(entry.users, 'member', 'members')}${entry.topic === '' ? '' : `: ${entry.topic}`}`}
                  disabled={joining !== undefined}
                  onClick={() => {
                    choose(entry);
                  }}
                >
                  <span class="directory-name">
                    <span class="room-sigil">{entry.name[0]}</span>
                    {entry.name.slice(1)}
                  </span>
                  <span class="directory-users">{plural(entry.users, 'member', 'members')}</span>
                  {entry.topic !== '' && <span class="directory-topic">{entry.topic}</span>}
                  <span class="directory-action">{joining === entry.name ? 'Joining…' : joined ? 'Open' : 'Join'}</span>
                </button>
              </li>
            );
          })}
        </ul>
      )}
      {!loading && (entries.length === 0 || needle !== '') && (
        <div class="dialog-actions">
          <button type="button" class="button" onClick={onCreateRoom}>
            Create a room
          </button>
        </div>
      )}
    </Dialog>
  );
}
