// Pictures chosen in the browser are made small before they are sent: a
// phone photo would not fit in one request. The node shrinks them again
// to its own limit.
const MAX_SIDE = 800;

// shrinkPicture returns a JPEG of the file, at most MAX_SIDE pixels on
// its longest side, as base64 (how the API takes bytes in JSON).
export async function shrinkPicture(file) {
  const bmp = await createImageBitmap(file);
  const scale = Math.min(1, MAX_SIDE / Math.max(bmp.width, bmp.height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(bmp.width * scale));
  canvas.height = Math.max(1, Math.round(bmp.height * scale));
  canvas.getContext('2d').drawImage(bmp, 0, 0, canvas.width, canvas.height);
  const url = canvas.toDataURL('image/jpeg', 0.8);
  return url.slice(url.indexOf(',') + 1);
}
