// Checks a picked photo the way the upload will (type by content, decodable, size, shape) so a
// wrong pick is explained at once, next to the picker. The server checks again: it decides.
// The rules come from the page (data attributes rendered from the server's own limits).

export function rulesFrom(element) {
  const data = element.dataset;
  return {
    maxBytes: Number(data.maxBytes),
    minSide: Number(data.minSide),
    maxAspect: Number(data.maxAspect),
    types: data.types.split(","),
    formats: data.formats,
  };
}

const SIGNATURES = [
  ["image/jpeg", [0xff, 0xd8, 0xff]],
  ["image/png", [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]],
];

// The type the bytes say, whatever the name or the browser's guess from the extension.
async function sniff(file) {
  const head = new Uint8Array(await file.slice(0, 12).arrayBuffer());
  for (const [type, signature] of SIGNATURES) {
    if (signature.every((byte, index) => head[index] === byte)) return type;
  }
  const text = String.fromCharCode(...head);
  if (text.startsWith("RIFF") && text.slice(8, 12) === "WEBP") return "image/webp";
  return null;
}

function megabytes(bytes) {
  return (bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, "");
}

// Decodes the photo in an <img> (the same object URL then serves as the preview).
function decode(url) {
  const image = new Image();
  image.src = url;
  return image.decode().then(() => ({ width: image.naturalWidth, height: image.naturalHeight }),
                             () => null);
}

// {ok: true, url, width, height} or {ok: false, message}; the caller revokes an ok url.
export async function checkPhoto(file, rules) {
  const name = file.name ? `“${file.name}”` : "That file";
  if (/hei[cf]/i.test(file.type) || /\.hei[cf]$/i.test(file.name)) {
    return { ok: false, message: `HEIC photos aren't supported yet. Export it as JPEG (or pick it from the photo library on your phone) and try again.` };
  }
  if (file.size === 0) return { ok: false, message: `${name} is empty. Pick a photo of your face.` };
  if (file.size > rules.maxBytes) {
    return { ok: false, message: `That photo is ${megabytes(file.size)} MB; the limit is ${megabytes(rules.maxBytes)} MB. Pick a smaller one.` };
  }
  const type = await sniff(file);
  if (!rules.types.includes(type)) {
    return { ok: false, message: `${name} is not a ${rules.formats} photo. Pick a photo of your face.` };
  }
  const url = URL.createObjectURL(file);
  const size = await decode(url);
  if (!size) {
    URL.revokeObjectURL(url);
    return { ok: false, message: `${name} can't be opened: the image is damaged or incomplete. Pick another photo.` };
  }
  const { width, height } = size;
  const short = Math.min(width, height);
  if (short < rules.minSide) {
    URL.revokeObjectURL(url);
    return { ok: false, message: `That photo is ${width} × ${height} pixels: too small. Its shortest side must be at least ${rules.minSide} pixels.` };
  }
  if (Math.max(width, height) > rules.maxAspect * short) {
    URL.revokeObjectURL(url);
    return { ok: false, message: `That photo (${width} × ${height}) is too long and narrow for a portrait. Crop it closer.` };
  }
  return { ok: true, url, width, height };
}
