/**
 * Pictures inline (issue 7): a message carrying the URL of one of this server's uploads (upload.ts uploadLink: same
 * origin, /uploads/<id>.<ext>) shows its thumbnail under the text, which keeps the link. Clicking the thumbnail opens
 * the full image in a native <dialog> (Escape, the Close button or a click beside the image closes it), with a link
 * to open it in a new tab. Pictures from anywhere else are never loaded: they stay links.
 */
import { useMemo, useRef, useState } from 'preact/hooks';
import { linkify } from '../text.js';
import { uploadLink } from '../upload.js';
import type { UploadLink } from '../upload.js';
import './uploads.css';

/** At most this many pictures of one message are shown inline; the others stay links. */
const MAX_INLINE = 4;

/** The uploads of this server that a message's text links to, each once, in order. */
export function uploadLinksIn(text: string, location: Location): UploadLink[] {
  const found = new Map<string, UploadLink>();
  for (const segment of linkify(text)) {
    if (segment.kind !== 'link') continue;
    const link = uploadLink(segment.href, location);
    if (link !== undefined && !found.has(link.id)) found.set(link.id, link);
  }
  return [...found.values()].slice(0, MAX_INLINE);
}

/** A log stuck at the bottom stays there when a thumbnail arriving makes the message taller. */
function keepAtBottom(image: HTMLImageElement): void {
  const log = image.closest('.log');
  if (log === null) return;
  if (log.scrollHeight - log.scrollTop - log.clientHeight <= image.offsetHeight + 64) log.scrollTop = log.scrollHeight;
}

export function InlineImages({ text, from }: { readonly text: string; readonly from: string }) {
  const links = useMemo(() => uploadLinksIn(text, window.location), [text]);
  if (links.length === 0) return null;
  return (
    <div class="msg-images">
      {links.map((link) => (
        <InlineImage key={link.id} link={link} from={from} />
      ))}
    </div>
  );
}

function InlineImage({ link, from }: { readonly link: UploadLink; readonly from: string }) {
  const [failed, setFailed] = useState(false);
  // The full image is only fetched once it is asked for.
  const [opened, setOpened] = useState(false);
  const dialog = useRef<HTMLDialogElement>(null);
  // A deleted upload (404): nothing inline, the link says what there was.
  if (failed) return null;
  const alt = `Picture sent by ${from}`;
  const close = (): void => {
    dialog.current?.close();
  };
  return (
    <>
      <button
        type="button"
        class="inline-image"
        aria-haspopup="dialog"
        title="Open full size"
        onClick={() => {
          setOpened(true);
          dialog.current?.showModal();
        }}
      >
        <img
          src={link.thumbnail}
          alt={alt}
          loading="lazy"
          decoding="async"
          onLoad={(event) => {
            keepAtBottom(event.currentTarget);
          }}
          onError={() => {
            setFailed(true);
          }}
        />
      </button>
      <dialog
        ref={dialog}
        class="lightbox"
        aria-label={alt}
        onClick={(event) => {
          // A click on the backdrop (the dialog itself, not what it holds) closes it.
          if (event.target === event.currentTarget) close();
        }}
      >
        {opened && <img class="lightbox-image" src={link.full} alt={alt} />}
        <div class="lightbox-bar">
          <a class="m-button" href={link.full} target="_blank" rel="noopener noreferrer">
            Open in a new tab
          </a>
          <button type="button" class="m-button" onClick={close}>
            Close
          </button>
        </div>
      </dialog>
    </>
  );
}
