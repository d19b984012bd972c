// A test page: @seco/data's browser decoder (createImageBitmap + OffscreenCanvas), as apps/web uses it, on the
// files of #files; results come back as SHA-256 of the RGB bytes, and the bytes themselves on request.
import { decodeImage } from '@seco/data/web';

const hex = (b: ArrayBuffer) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, '0')).join('');
const decoded = new Map<string, Uint8Array>();

async function decodeAll(): Promise<{ name: string; width: number; height: number; sha256: string }[]> {
  const files = [...((document.getElementById('files') as HTMLInputElement).files ?? [])];
  const out = [];
  for (const f of files) {
    const img = await decodeImage(new Uint8Array(await f.arrayBuffer()), f.name);
    decoded.set(f.name, img.data);
    out.push({ name: f.name, width: img.width, height: img.height, sha256: hex(await crypto.subtle.digest('SHA-256', img.data as Uint8Array<ArrayBuffer>)) });
  }
  return out;
}

/** The decoded RGB bytes of one file, base64 (only for images whose hash differs). */
function pixels(name: string): string {
  const d = decoded.get(name)!;
  let s = '';
  for (let i = 0; i < d.length; i += 0x8000) s += String.fromCharCode(...d.subarray(i, i + 0x8000));
  return btoa(s);
}

Object.assign(globalThis, { decodeAll, pixels });
