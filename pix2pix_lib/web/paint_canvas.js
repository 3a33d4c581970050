// The map-painting canvas, one source for notebook 06's widget (pix2pix_lib/paint.py, through
// anywidget) and the exported web page (pix2pix_lib/web/page.js).
//
// Crisp strokes: the maps are flat colours with crisp edges, and a browser canvas antialiases
// its strokes, which would add in-between colours the generator never saw. So each stroke is
// drawn on a scratch canvas, every pixel of it snapped to the brush's colours (or left
// untouched), and only then laid on the map. Pillow's paint_stroke (paint.py) paints the same.
// While the pointer is down the stroke is redrawn once per animation frame; when it is
// released, onStroke gets the map once (debounced by construction).

const rgb = hex => [1, 3, 5].map(i => parseInt(hex.slice(i, i + 2), 16));
const distance = (data, i, c) =>
  (data[i] - c[0]) ** 2 + (data[i + 1] - c[1]) ** 2 + (data[i + 2] - c[2]) ** 2;

// A square canvas of `size` map pixels shown `displaySize` CSS pixels wide. brush() returns
// { width, fill, outline, outlineWidth } (colours as "#rrggbb", outline "" for none) when a
// stroke is drawn; onStroke(canvas) is called when a stroke ends.
export function createPaintCanvas({ size, displaySize, brush, onStroke }) {
  const canvas = document.createElement("canvas");
  canvas.className = "p2p-paint-surface";
  const context = canvas.getContext("2d", { willReadFrequently: true });
  const scratch = document.createElement("canvas");
  const scratchContext = scratch.getContext("2d", { willReadFrequently: true });
  let points = null, before = null, pending = false;

  function layout(newSize, newDisplaySize) {
    canvas.width = canvas.height = scratch.width = scratch.height = newSize;
    canvas.style.width = canvas.style.height = newDisplaySize + "px";
  }

  function strokePath(width) {
    scratchContext.lineWidth = width;
    scratchContext.beginPath();
    scratchContext.moveTo(points[0][0], points[0][1]);
    for (const [x, y] of points.slice(1)) scratchContext.lineTo(x, y);
    if (points.length === 1) scratchContext.lineTo(points[0][0] + 0.01, points[0][1]);
    scratchContext.stroke();
  }

  function drawStroke() {
    pending = false;
    if (!points) return;
    const { width, height } = canvas;
    const { width: brushWidth, fill, outline, outlineWidth } = brush();
    scratchContext.clearRect(0, 0, width, height);
    scratchContext.lineCap = scratchContext.lineJoin = "round";
    if (outline) {
      scratchContext.strokeStyle = outline;
      strokePath(brushWidth + 2 * outlineWidth);
    }
    scratchContext.strokeStyle = fill;
    strokePath(brushWidth);
    const pixels = scratchContext.getImageData(0, 0, width, height), data = pixels.data;
    const colours = outline ? [rgb(fill), rgb(outline)] : [rgb(fill)];
    for (let i = 0; i < data.length; i += 4) {  // crisp: a brush colour, or untouched
      if (data[i + 3] < 128) { data[i + 3] = 0; continue; }
      const c = colours.length > 1 && distance(data, i, colours[1]) < distance(data, i, colours[0])
        ? colours[1] : colours[0];
      data[i] = c[0]; data[i + 1] = c[1]; data[i + 2] = c[2]; data[i + 3] = 255;
    }
    scratchContext.putImageData(pixels, 0, 0);
    context.putImageData(before, 0, 0);
    context.drawImage(scratch, 0, 0);
  }

  function at(event) {
    const box = canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * canvas.width / box.width,
            (event.clientY - box.top) * canvas.height / box.height];
  }

  function schedule() {
    if (!pending) { pending = true; requestAnimationFrame(drawStroke); }
  }

  canvas.addEventListener("pointerdown", event => {
    if (event.button !== 0) return;
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    before = context.getImageData(0, 0, canvas.width, canvas.height);
    points = [at(event)];
    schedule();
  });
  canvas.addEventListener("pointermove", event => {
    if (!points) return;
    points.push(at(event));
    schedule();
  });
  const finish = () => {
    if (!points) return;
    drawStroke();
    points = null;
    onStroke(canvas);
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);
  layout(size, displaySize);

  // Show an image (a URL) as the map, scaled to the canvas without smoothing.
  function showImage(url) {
    return new Promise((resolve, reject) => {
      const image = new Image();
      image.onload = () => {
        context.imageSmoothingEnabled = false;
        context.clearRect(0, 0, canvas.width, canvas.height);
        context.drawImage(image, 0, 0, canvas.width, canvas.height);
        resolve(canvas);
      };
      image.onerror = reject;
      image.src = url;
    });
  }

  // Fill the canvas with one colour ("#rrggbb"): a blank map.
  function fill(colour) {
    context.fillStyle = colour;
    context.fillRect(0, 0, canvas.width, canvas.height);
  }

  return { canvas, context, layout, showImage, fill };
}
