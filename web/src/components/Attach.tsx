/**
 * Sending pictures from the composer (issue 7): the "Attach image" button, an image pasted into the composer, or one
 * dropped on the conversation. It is uploaded (upload.ts) with a progress bar and a Cancel; once stored, its URL is
 * sent as a message (Composer's onUploaded), so every IRC client gets a link and this one shows it inline
 * (InlineImage.tsx). Refusals are shown in the server's words. Only when the server announces soju.im/FILEHOST;
 * guests (no account) cannot upload, and the button says why.
 */
import { createContext } from 'preact';
import { useContext, useEffect, useRef, useState } from 'preact/hooks';
import type { ClientState } from '../../../src/client/index.js';
import { ACCEPTED_IMAGE_TYPES, UploadError, uploadEndpoint, uploadFile } from '../upload.js';
import type { UploadCredentials, UploadTask } from '../upload.js';
import './uploads.css';

/** The signed-in account's credentials for uploads (useClient.ts), undefined for a guest. */
export const UploadCredentialsContext = createContext<UploadCredentials | undefined>(undefined);

export const FILEHOST = 'soju.im/FILEHOST';

const GUEST_TEXT = 'Guests cannot send pictures: sign in with an account to attach one.';

type Progress =
  | { readonly kind: 'idle' }
  | { readonly kind: 'uploading'; readonly name: string; readonly percent: number; readonly task: UploadTask }
  | { readonly kind: 'error'; readonly message: string };

export interface AttachProps {
  readonly state: ClientState;
  readonly bufferKey: string;
  /** The upload is stored: send its URL. */
  readonly onUploaded: (url: string) => void;
}

function describeFile(file: File): string {
  return file.name === '' ? 'image' : file.name;
}

/** The image among what was pasted or dropped (else the first file, for the server to refuse in its words). */
function pickFile(files: FileList | null | undefined): File | undefined {
  const all = [...(files ?? [])];
  return all.find((file) => file.type.startsWith('image/')) ?? all[0];
}

export function Attach({ state, bufferKey, onUploaded }: AttachProps) {
  const credentials = useContext(UploadCredentialsContext);
  const [progress, setProgress] = useState<Progress>({ kind: 'idle' });
  const input = useRef<HTMLInputElement>(null);
  const current = useRef<UploadTask | undefined>(undefined);
  const uploaded = useRef(onUploaded);
  uploaded.current = onUploaded;
  const enabled = state.isupport.has(FILEHOST) && state.buffers.get(bufferKey)?.kind !== 'server';
  const idSuffix = bufferKey.replace(/[^A-Za-z0-9_-]/g, '_');

  const start = (file: File): void => {
    if (credentials === undefined) {
      setProgress({ kind: 'error', message: GUEST_TEXT });
      return;
    }
    // One picture at a time: the bar of the one under way stays.
    if (current.current !== undefined) return;
    const name = describeFile(file);
    const task = uploadFile(uploadEndpoint(window.location), file, credentials, (fraction) => {
      setProgress((now) => (now.kind === 'uploading' && now.task === task ? { ...now, percent: Math.min(100, Math.round(fraction * 100)) } : now));
    });
    current.current = task;
    setProgress({ kind: 'uploading', name, percent: 0, task });
    task.done.then(
      (result) => {
        if (current.current !== task) return;
        current.current = undefined;
        setProgress({ kind: 'idle' });
        uploaded.current(result.url);
      },
      (error: unknown) => {
        if (current.current === task) current.current = undefined;
        if (error instanceof UploadError && error.status === -1) {
          setProgress((now) => (now.kind === 'uploading' && now.task === task ? { kind: 'idle' } : now));
          return;
        }
        const message = error instanceof Error ? error.message : String(error);
        setProgress({ kind: 'error', message: `${name} was not sent: ${message}` });
      },
    );
  };
  const startRef = useRef(start);
  startRef.current = start;

  // Another buffer (or leaving): an upload under way is for the one it was started in, so it is cancelled.
  useEffect(
    () => () => {
      current.current?.cancel();
      current.current = undefined;
      setProgress({ kind: 'idle' });
    },
    [bufferKey],
  );

  // Pasting an image into the composer, dropping one on the conversation.
  useEffect(() => {
    const anchor = input.current;
    if (!enabled || anchor === null) return undefined;
    const composer = anchor.closest('.composer');
    const conversation = anchor.closest('main') ?? composer;
    const paste = (event: Event): void => {
      const file = pickFile((event as ClipboardEvent).clipboardData?.files);
      if (file === undefined) return;
      event.preventDefault();
      startRef.current(file);
    };
    const hasFiles = (event: DragEvent): boolean => event.dataTransfer?.types.includes('Files') === true;
    const dragover = (event: Event): void => {
      const drag = event as DragEvent;
      if (!hasFiles(drag)) return;
      drag.preventDefault();
      if (drag.dataTransfer !== null) drag.dataTransfer.dropEffect = 'copy';
      conversation?.classList.add('is-drop-target');
    };
    const dragleave = (event: Event): void => {
      const next = (event as DragEvent).relatedTarget;
      if (!(next instanceof Node) || conversation?.contains(next) !== true) conversation?.classList.remove('is-drop-target');
    };
    const drop = (event: Event): void => {
      const drag = event as DragEvent;
      conversation?.classList.remove('is-drop-target');
      if (!hasFiles(drag)) return;
      drag.preventDefault();
      const file = pickFile(drag.dataTransfer?.files);
      if (file !== undefined) startRef.current(file);
    };
    composer?.addEventListener('paste', paste);
    conversation?.addEventListener('dragover', dragover);
    conversation?.addEventListener('dragleave', dragleave);
    conversation?.addEventListener('drop', drop);
    return () => {
      composer?.removeEventListener('paste', paste);
      conversation?.removeEventListener('dragover', dragover);
      conversation?.removeEventListener('dragleave', dragleave);
      conversation?.removeEventListener('drop', drop);
      conversation?.classList.remove('is-drop-target');
    };
  }, [enabled]);

  if (!enabled) return null;
  const guest = credentials === undefined;
  const hintId = `attach-hint-${idSuffix}`;
  const progressId = `upload-progress-${idSuffix}`;
  return (
    <>
      <input
        ref={input}
        type="file"
        class="attach-input"
        accept={ACCEPTED_IMAGE_TYPES.join(',')}
        tabIndex={-1}
        aria-hidden="true"
        disabled={guest}
        onChange={(event) => {
          const file = event.currentTarget.files?.[0];
          // The same file may be chosen again next time.
          event.currentTarget.value = '';
          if (file !== undefined) start(file);
        }}
      />
      <button
        type="button"
        class="composer-attach"
        aria-label="Attach image"
        title={guest ? GUEST_TEXT : 'Attach image (or paste or drop one)'}
        aria-describedby={guest ? hintId : undefined}
        disabled={guest || progress.kind === 'uploading'}
        onClick={() => {
          input.current?.click();
        }}
      >
        <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
          <path
            d="M16.5 6.5v10.1a4.5 4.5 0 0 1-9 0V5.8a3 3 0 0 1 6 0v10a1.5 1.5 0 0 1-3 0V6.5H9v9.3a3 3 0 0 0 6 0v-10a4.5 4.5 0 0 0-9 0v10.8a6 6 0 0 0 12 0V6.5z"
            fill="currentColor"
          />
        </svg>
      </button>
      {guest && (
        <span id={hintId} class="visually-hidden">
          {GUEST_TEXT}
        </span>
      )}
      {progress.kind === 'uploading' && (
        <div class="upload-panel">
          <label for={progressId} class="upload-label">
            Uploading {progress.name}… {progress.percent}%
          </label>
          <progress id={progressId} class="upload-progress" max={100} value={progress.percent}>
            {progress.percent}%
          </progress>
          <button
            type="button"
            class="m-button"
            onClick={() => {
              progress.task.cancel();
            }}
          >
            Cancel
          </button>
        </div>
      )}
      {progress.kind === 'error' && (
        <div class="upload-panel is-error" role="alert">
          <span class="upload-error-text">{progress.message}</span>
          <button
            type="button"
            class="msg-tool"
            aria-label="Dismiss"
            title="Dismiss"
            onClick={() => {
              setProgress({ kind: 'idle' });
            }}
          >
            ×
          </button>
        </div>
      )}
    </>
  );
}
