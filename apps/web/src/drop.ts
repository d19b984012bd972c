// Files from a picker or from drag and drop (folders walked), as paths inside what was picked.
import type { PickedFile } from './files.ts';

export function fromInput(input: HTMLInputElement): PickedFile[] {
  return [...(input.files ?? [])].map((f) => ({ path: f.webkitRelativePath || f.name, file: f }));
}

async function walk(entry: FileSystemEntry, out: PickedFile[]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((res, rej) => (entry as FileSystemFileEntry).file(res, rej));
    out.push({ path: entry.fullPath.replace(/^\//, ''), file });
  } else if (entry.isDirectory) {
    const reader = (entry as FileSystemDirectoryEntry).createReader();
    // readEntries hands out a batch at a time until it returns none.
    for (;;) {
      const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
      if (batch.length === 0) break;
      for (const e of batch) await walk(e, out);
    }
  }
}

export async function fromDrop(dt: DataTransfer): Promise<PickedFile[]> {
  const entries = [...dt.items].map((i) => i.webkitGetAsEntry?.() ?? null);
  if (entries.every((e) => e !== null)) {
    const out: PickedFile[] = [];
    for (const e of entries) await walk(e!, out);
    return out;
  }
  return [...dt.files].map((f) => ({ path: f.name, file: f }));
}
