// SeCo's img_box: the valid-image region of a padded crop, as a pixel mask.
import { arange, cast, ge, logicalAnd, lt, reshape, scope, shapeError, tensor, Tensor, TensorError } from '@seco/tensor';

/**
 * Valid-image region per image as [row0, row1, col0, col1] with exclusive ends (the dataset's img_box):
 * a (B, 4) integer tensor, B rows of 4, or a flat array of 4·B numbers.
 */
export type ImgBox = Tensor | readonly (readonly number[])[] | ArrayLike<number>;

/** The box as a (B, 4) i32 tensor; host boxes are uploaded (8·B integers). */
function boxTensor(op: string, imgBox: ImgBox, batch: number): Tensor {
  if (imgBox instanceof Tensor) {
    const t = imgBox;
    if (t.rank !== 2 || t.shape[0] !== batch || t.shape[1] !== 4) throw shapeError(op, `imgBox must be (${batch}, 4)`, t.shape);
    return t.dtype === 'i32' ? t : cast(t, 'i32');
  }
  const rows = imgBox as ArrayLike<number> | readonly (readonly number[])[];
  const flat = rows.length > 0 && typeof rows[0] !== 'number' ? (Array.from(rows as readonly (readonly number[])[]).flat() as number[]) : Array.from(rows as ArrayLike<number>);
  if (flat.length !== 4 * batch || flat.some((v) => !Number.isInteger(v))) {
    throw new TensorError(op, `imgBox needs ${batch} rows of 4 integers [row0, row1, col0, col1], got ${flat.length} values`);
  }
  return tensor(flat, [batch, 4], 'i32');
}

/**
 * (B, H, W) u32 mask of the pixels inside each image's box. A box is a Python slice, so bounds past the map
 * (a 448-pixel box applied to a 28×28 map, §8 #1) simply select less.
 */
export function imgBoxMask(imgBox: ImgBox, batch: number, h: number, w: number): Tensor {
  return scope(() => {
    const box = boxTensor('imgBoxMask', imgBox, batch);
    const col = (k: number) => reshape(box.slice([null, k]), [batch, 1, 1]);
    const rows = reshape(arange(h, 'i32'), [1, h, 1]);
    const cols = reshape(arange(w, 'i32'), [1, 1, w]);
    const inRows = logicalAnd(ge(rows, col(0)), lt(rows, col(1)));
    const inCols = logicalAnd(ge(cols, col(2)), lt(cols, col(3)));
    return logicalAnd(inRows, inCols);
  });
}
