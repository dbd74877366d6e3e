/**
 * Image processing for uploads (issue 7): the type is sniffed from the bytes (file-type), never taken from the
 * client; the image is decoded and encoded again in its own format (sharp), which drops EXIF, XMP, IPTC and
 * comments (GPS positions, camera serial numbers) after applying the EXIF orientation to the pixels; and a small
 * WebP thumbnail of its first frame is made.
 */
import { fileTypeFromBuffer } from 'file-type';
import sharp from 'sharp';
import type { Sharp } from 'sharp';
import { ACCEPTED_TYPES_TEXT, IMAGE_TYPES } from '../core/uploads.js';

/** Decoding a huge canvas takes memory in proportion to its pixels: 50 megapixels (all frames) at most. */
export const MAX_PIXELS = 50_000_000;
/** The longest side of a thumbnail. */
export const THUMBNAIL_SIZE = 320;

export interface PreparedImage {
  readonly mime: string;
  /** The extension of its type: jpg, png, gif, webp. */
  readonly ext: string;
  readonly data: Buffer;
  readonly width: number;
  /** Of one frame, for an animation. */
  readonly height: number;
  readonly thumbnail: Buffer;
  readonly thumbnailExt: 'webp';
}

export type ImageRefusal =
  /** Not one of the image types taken (SVG, PDF, anything unknown): 415. */
  | { readonly kind: 'type'; readonly message: string }
  /** Sniffed as an image but too many pixels to decode: 413. */
  | { readonly kind: 'pixels'; readonly message: string }
  /** Sniffed as an image but not decodable: 422. */
  | { readonly kind: 'invalid'; readonly message: string };

export type ImageResult = { readonly ok: true; readonly image: PreparedImage } | { readonly ok: false; readonly refusal: ImageRefusal };

function refuse(refusal: ImageRefusal): ImageResult {
  return { ok: false, refusal };
}

function encoderFor(pipeline: Sharp, mime: string): Sharp {
  switch (mime) {
    case 'image/jpeg':
      return pipeline.jpeg({ quality: 85 });
    case 'image/png':
      return pipeline.png();
    case 'image/gif':
      return pipeline.gif();
    default:
      return pipeline.webp({ quality: 85 });
  }
}

export async function prepareImage(bytes: Uint8Array): Promise<ImageResult> {
  const sniffed = await fileTypeFromBuffer(bytes);
  const ext = sniffed === undefined ? undefined : IMAGE_TYPES.get(sniffed.mime);
  if (sniffed === undefined || ext === undefined) {
    const what = sniffed === undefined ? 'this file' : `a file of type ${sniffed.mime}`;
    return refuse({ kind: 'type', message: `Only ${ACCEPTED_TYPES_TEXT} images can be uploaded, not ${what}` });
  }
  const { mime } = sniffed;
  // Every frame of an animation is kept; autoOrient turns the pixels as the EXIF orientation says, since the
  // orientation tag itself goes with the rest of the metadata.
  const input = (): Sharp => sharp(bytes, { animated: true, autoOrient: true, limitInputPixels: MAX_PIXELS });
  try {
    const metadata = await input().metadata();
    // file-type and libvips read the same magic bytes; a disagreement means a crafted file.
    if (IMAGE_TYPES.get(`image/${metadata.format}`) !== ext) {
      return refuse({ kind: 'type', message: `Only ${ACCEPTED_TYPES_TEXT} images can be uploaded; this file's content does not match its type` });
    }
    const { data, info } = await encoderFor(input(), mime).toBuffer({ resolveWithObject: true });
    const thumbnail = await sharp(data, { limitInputPixels: MAX_PIXELS })
      .resize({ width: THUMBNAIL_SIZE, height: THUMBNAIL_SIZE, fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 75 })
      .toBuffer();
    return { ok: true, image: { mime, ext, data, width: info.width, height: info.pageHeight ?? info.height, thumbnail, thumbnailExt: 'webp' } };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (/pixel limit/i.test(reason)) {
      return refuse({ kind: 'pixels', message: `The image is too large: at most ${String(MAX_PIXELS / 1_000_000)} megapixels (all frames together)` });
    }
    return refuse({ kind: 'invalid', message: `The ${ext.toUpperCase()} image could not be read (damaged or incomplete)` });
  }
}
