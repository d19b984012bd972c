// What the user picked or dropped, sorted into a dataset: images, ground-truth mask folders (VOC layout:
// JPEGImages/ beside SegmentationClassAug/ or SegmentationClass/), and id lists (lists/val.txt,
// ImageSets/Segmentation/val.txt). No DOM here: the page and the tests both call it.

export interface PickedFile {
  /** The path inside what was picked (webkitRelativePath, or the walked path of a dropped folder), else the name. */
  path: string;
  file: Blob;
}

export interface Sample {
  id: string;
  image: PickedFile;
  mask: PickedFile | null;
}

export interface MaskFolder {
  /** The folder's path, e.g. "voc-sample/VOC2012/SegmentationClassAug". */
  folder: string;
  /** Masks by file stem. */
  byId: Map<string, PickedFile>;
  /** How many of the images have a mask here. */
  matches: number;
}

export interface IdList {
  path: string;
  ids: string[];
}

export interface Picked {
  /** Images by id (file stem), in path order. */
  images: Map<string, PickedFile>;
  maskFolders: MaskFolder[];
  lists: IdList[];
  /** Files that are none of these (shown to the user, not an error). */
  ignored: string[];
}

const IMAGE_EXT = /\.(jpe?g|png|bmp|webp)$/i;
/** A PNG in a folder with one of these words is a mask, never an image. */
const MASK_FOLDER = /segmentation|mask|label|annotation|gt/i;

export const stem = (path: string) => {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(0, dot) : name;
};
const folderOf = (path: string) => (path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '');
const folderName = (folder: string) => folder.slice(folder.lastIndexOf('/') + 1);

/** The ids of a list file: the first word of each line, as SeCo's lists are read (a path's stem if it is one). */
export function parseList(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim().split(/\s+/)[0])
    .filter(Boolean)
    .map((w) => (w.includes('/') || IMAGE_EXT.test(w) ? stem(w) : w));
}

export async function sortPicked(files: readonly PickedFile[]): Promise<Picked> {
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const images = new Map<string, PickedFile>();
  const masks = new Map<string, Map<string, PickedFile>>();
  const lists: IdList[] = [];
  const ignored: string[] = [];
  for (const f of sorted) {
    const folder = folderOf(f.path);
    if (/\.png$/i.test(f.path) && MASK_FOLDER.test(folderName(folder))) {
      if (!masks.has(folder)) masks.set(folder, new Map());
      masks.get(folder)!.set(stem(f.path), f);
    } else if (IMAGE_EXT.test(f.path)) {
      if (!images.has(stem(f.path))) images.set(stem(f.path), f);
      else ignored.push(`${f.path} (a second image with id ${stem(f.path)})`);
    } else if (/\.txt$/i.test(f.path)) {
      const ids = parseList(await f.file.text());
      if (ids.length > 0) lists.push({ path: f.path, ids });
      else ignored.push(`${f.path} (an empty list)`);
    } else ignored.push(f.path);
  }
  const maskFolders = [...masks].map(([folder, byId]) => ({ folder, byId, matches: [...byId.keys()].filter((id) => images.has(id)).length }));
  // Most matches first; SegmentationClassAug (SeCo's ground truth) before other folders with as many.
  const rank = (m: MaskFolder) => (folderName(m.folder) === 'SegmentationClassAug' ? 0 : folderName(m.folder) === 'SegmentationClass' ? 1 : 2);
  maskFolders.sort((a, b) => b.matches - a.matches || rank(a) - rank(b) || (a.folder < b.folder ? -1 : 1));
  return { images, maskFolders, lists, ignored };
}

export interface Selection {
  samples: Sample[];
  /** List ids with no image among the picked files. */
  missing: string[];
}

/** The images to evaluate: a list's ids in its order (else every image), with masks from `maskFolder`. */
export function selectSamples(p: Picked, o: { list?: IdList | null; maskFolder?: MaskFolder | null; limit?: number | null }): Selection {
  const ids = o.list ? o.list.ids : [...p.images.keys()];
  const missing = ids.filter((id) => !p.images.has(id));
  const present = ids.filter((id) => p.images.has(id));
  const n = Math.min(present.length, o.limit && o.limit > 0 ? o.limit : Infinity);
  const samples = present.slice(0, n).map((id) => ({ id, image: p.images.get(id)!, mask: o.maskFolder?.byId.get(id) ?? null }));
  return { samples, missing };
}
