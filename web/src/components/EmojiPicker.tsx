/**
 * A reaction picker: a quick row of common reactions, then emoji-picker-element's full picker on demand. The emoji
 * data comes from Natter itself (web/vite.config.ts, EMOJI_DATA_PATH), never from the picker's default CDN.
 *
 * Our CSP allows no inline style (style-src 'self'), and the picker styles its shadow DOM with a <style> element and
 * style="" attributes, both of which the browser refuses. installPickerStyles() moves its stylesheet to a
 * constructed one (adoptedStyleSheets, not governed by style-src) and turns its setAttribute('style') calls into
 * CSSOM writes (element.style, also allowed): the same styles, no violation, no header change.
 */
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { Picker } from 'emoji-picker-element';

export const QUICK_REACTIONS: readonly string[] = ['👍', '❤️', '😂', '🎉', '😮', '😢'];

/** The page-relative URL of the emoji data (EMOJI_DATA_PATH in web/vite.config.ts), so a path prefix works. */
export function emojiDataUrl(): string {
  return new URL('emoji/en/data.json', document.baseURI).href;
}

/** Shadow roots of our pickers, and fragments still being built for them: style attributes there go through CSSOM. */
const pickerRoots = new WeakSet<Node>();
let attributeShimInstalled = false;

function installAttributeShim(): void {
  if (attributeShimInstalled) return;
  attributeShimInstalled = true;
  const prototype = Element.prototype;
  const native = Object.getOwnPropertyDescriptor(prototype, 'setAttribute')?.value as (this: Element, name: string, value: string) => void;
  // The picker's template engine renders into detached fragments, then moves them into its shadow root.
  prototype.setAttribute = function setAttribute(this: Element, name: string, value: string): void {
    if (name === 'style' && (this instanceof HTMLElement || this instanceof SVGElement)) {
      const root = this.getRootNode();
      if (pickerRoots.has(root) || (root instanceof DocumentFragment && !(root instanceof ShadowRoot))) {
        this.style.cssText = value;
        return;
      }
    }
    native.call(this, name, value);
  };
}

/** Moves a new (not yet connected) picker's <style> to a constructed stylesheet before the CSP can refuse it. */
function installPickerStyles(picker: Picker): void {
  const root = picker.shadowRoot;
  if (root === null) return;
  pickerRoots.add(root);
  const sheets: CSSStyleSheet[] = [];
  for (const element of root.querySelectorAll('style')) {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(element.textContent);
    sheets.push(sheet);
    element.remove();
  }
  root.adoptedStyleSheets = [...root.adoptedStyleSheets, ...sheets];
}

let pickerModule: Promise<typeof import('emoji-picker-element/picker.js')> | undefined;

/** The picker is a separate chunk, loaded the first time someone opens the full picker. */
function loadPicker(): Promise<typeof import('emoji-picker-element/picker.js')> {
  installAttributeShim();
  pickerModule ??= import('emoji-picker-element/picker.js');
  return pickerModule;
}

interface FullPickerProps {
  readonly onPick: (emoji: string) => void;
}

function FullPicker({ onPick }: FullPickerProps) {
  const host = useRef<HTMLDivElement>(null);
  const pick = useRef(onPick);
  pick.current = onPick;
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let picker: Picker | undefined;
    let cancelled = false;
    loadPicker()
      .then(({ default: PickerElement }) => {
        if (cancelled || host.current === null) return;
        picker = new PickerElement({ dataSource: emojiDataUrl() });
        installPickerStyles(picker);
        picker.addEventListener('emoji-click', (event) => {
          const unicode = event.detail.unicode;
          if (unicode !== undefined) pick.current(unicode);
        });
        host.current.appendChild(picker);
        // The search box, once the picker has rendered into its shadow root.
        requestAnimationFrame(() => picker?.shadowRoot?.querySelector<HTMLInputElement>('input')?.focus({ preventScroll: true }));
      })
      .catch(() => {
        if (!cancelled) setFailed(true);
      });
    return () => {
      cancelled = true;
      picker?.remove();
    };
  }, []);
  return (
    <div class="emoji-full" ref={host}>
      {failed && <p class="emoji-failed">The emoji list could not be loaded.</p>}
    </div>
  );
}

interface EmojiPickerProps {
  /** Called with the chosen emoji; the picker is closed by the caller. */
  readonly onPick: (emoji: string) => void;
  /** Escape or a click outside: the caller closes it and puts focus back on its button. */
  readonly onClose: () => void;
  /** Which emoji this user already reacted with, shown pressed. */
  readonly chosen?: ReadonlySet<string>;
  /** The button that opened it: the popover is placed beside it, in the viewport (the log would clip it). */
  readonly anchor: HTMLElement | null;
}

const MARGIN = 8;

/** Below the anchor when it fits, else above; kept inside the viewport. CSSOM writes, which the CSP allows. */
function place(popover: HTMLElement, anchor: HTMLElement): void {
  const rect = anchor.getBoundingClientRect();
  const height = popover.offsetHeight;
  const width = popover.offsetWidth;
  const fitsBelow = window.innerHeight - rect.bottom - MARGIN >= height;
  const fitsAbove = rect.top - MARGIN >= height;
  const top = fitsBelow || !fitsAbove ? Math.min(rect.bottom + 4, window.innerHeight - height - MARGIN) : rect.top - height - 4;
  const left = Math.min(rect.right - width, window.innerWidth - width - MARGIN);
  popover.style.top = `${String(Math.max(MARGIN, top))}px`;
  popover.style.left = `${String(Math.max(MARGIN, left))}px`;
}

/** A small dialog: the quick row first (focused), "More emoji" opens the full picker below it. */
export function EmojiPicker({ onPick, onClose, chosen, anchor }: EmojiPickerProps) {
  const [full, setFull] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  const close = useRef(onClose);
  close.current = onClose;

  useEffect(() => {
    box.current?.querySelector<HTMLButtonElement>('button')?.focus({ preventScroll: true });
    const outside = (event: PointerEvent) => {
      if (box.current !== null && !event.composedPath().includes(box.current)) close.current();
    };
    document.addEventListener('pointerdown', outside, true);
    return () => {
      document.removeEventListener('pointerdown', outside, true);
    };
  }, []);

  // Follow the anchor: the full picker grows once loaded, the log scrolls, the window resizes.
  useLayoutEffect(() => {
    const popover = box.current;
    if (popover === null || anchor === null) return undefined;
    const update = () => {
      place(popover, anchor);
    };
    update();
    const observer = new ResizeObserver(update);
    observer.observe(popover);
    window.addEventListener('resize', update);
    document.addEventListener('scroll', update, true);
    return () => {
      observer.disconnect();
      window.removeEventListener('resize', update);
      document.removeEventListener('scroll', update, true);
    };
  }, [anchor]);

  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key !== 'Escape') return;
    event.preventDefault();
    event.stopPropagation();
    close.current();
  };

  return (
    <div class="emoji-popover" role="dialog" aria-label="Add a reaction" ref={box} onKeyDown={onKeyDown}>
      <div class="emoji-quick" role="group" aria-label="Quick reactions">
        {QUICK_REACTIONS.map((emoji) => (
          <button
            key={emoji}
            type="button"
            class="emoji-quick-button"
            aria-label={`React with ${emoji}`}
            aria-pressed={chosen?.has(emoji) === true}
            onClick={() => {
              onPick(emoji);
            }}
          >
            {emoji}
          </button>
        ))}
        <button type="button" class="emoji-more" aria-expanded={full} onClick={() => { setFull((open) => !open); }}>
          {full ? 'Fewer' : 'More…'}
        </button>
      </div>
      {full && <FullPicker onPick={onPick} />}
    </div>
  );
}
