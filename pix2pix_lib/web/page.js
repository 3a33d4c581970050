// The exported page: load model.json and the ONNX generator, then translate what the visitor
// paints (a map -> photo model) or drops (any other model), in the browser.
// window.p2p holds the state the browser test reads: ready, loadMs, translations, ms (one per
// translation), lastInput / lastOutput (Float32Array, NHWC, in [-1, 1]) and error.
import * as ort from "./ort.wasm.bundle.min.mjs";
import { createPaintCanvas } from "./paint_canvas.js";

const state = window.p2p = { ready: false, translations: 0, ms: [], error: null };
const $ = id => document.getElementById(id);
const DISPLAY = 320;

function say(text, error = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", error);
}

// RGBA pixels -> float32 NHWC in [-1, 1] (x / 127.5 - 1, as pix2pix_lib.data.to_float).
function toTensor(rgba, size) {
  const x = new Float32Array(size * size * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    x[j] = rgba[i] / 127.5 - 1; x[j + 1] = rgba[i + 1] / 127.5 - 1; x[j + 2] = rgba[i + 2] / 127.5 - 1;
  }
  return x;
}

// float32 NHWC in [-1, 1] -> RGBA ImageData (round((y + 1) * 127.5), as data.to_uint8).
function toImage(y, size) {
  const image = new ImageData(size, size);
  for (let i = 0, j = 0; j < y.length; i += 4, j += 3) {
    for (let c = 0; c < 3; c++) {
      image.data[i + c] = Math.min(255, Math.max(0, Math.round((y[j + c] + 1) * 127.5)));
    }
    image.data[i + 3] = 255;
  }
  return image;
}

async function main() {
  const config = await (await fetch("model.json")).json();
  const size = config.size;
  document.title = $("title").textContent = config.title;
  $("runtime").textContent = config.runtime;
  $("input-caption").textContent = config.input_label;
  $("output-caption").textContent = config.output_label;
  $("model").textContent = config.about;
  for (const element of document.querySelectorAll(".size")) element.textContent = `${size}x${size}`;
  const output = $("output");
  output.width = output.height = size;
  const outputContext = output.getContext("2d");

  // One thread unless the host sends the headers that allow shared memory (most do not).
  ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  // The bundle carries its loader and finds ort-wasm-simd-threaded.wasm beside itself.
  const session = await ort.InferenceSession.create(config.model, { executionProviders: ["wasm"] });
  const [inputName] = session.inputNames, [outputName] = session.outputNames;

  let busy = null, again = null;  // one translation at a time; the latest request waits
  async function translate(canvas) {
    if (busy) { again = canvas; return busy; }
    busy = (async () => {
      const rgba = canvas.getContext("2d").getImageData(0, 0, size, size).data;
      const x = toTensor(rgba, size);
      const start = performance.now();
      const result = await session.run({ [inputName]: new ort.Tensor("float32", x, [1, size, size, 3]) });
      const ms = performance.now() - start;
      const y = result[outputName].data;
      outputContext.putImageData(toImage(y, size), 0, 0);
      Object.assign(state, { lastInput: x, lastOutput: Float32Array.from(y) });
      state.ms.push(ms);
      state.translations += 1;
      say(`${config.output_label} ${state.translations} in ${ms.toFixed(0)} ms, in your browser`);
    })();
    try { await busy; } finally { busy = null; }
    if (again) { const next = again; again = null; await translate(next); }
  }

  if (config.mode === "paint") await paintMode(config, translate);
  else await uploadMode(config, translate);
  state.loadMs = performance.now();  // since the page was opened
  state.ready = true;
  $("model").textContent = `${config.about} Exported ${config.exported}; this page was ready ` +
    `${(state.loadMs / 1000).toFixed(1)} s after it was opened.`;
  if (!state.translations) say("Ready.");
}

async function paintMode(config, translate) {
  $("paint").hidden = false;
  const brushes = Object.fromEntries(config.brushes.map(b => [b.name, b]));
  let selected = config.default_brush;
  const size = $("brush-size");
  size.max = Math.max(8, Math.floor(config.size / 6));
  size.value = Math.max(2, Math.floor(config.size / 32));
  const showSize = () => { $("brush-size-value").textContent = size.value; };
  size.addEventListener("input", showSize);
  showSize();
  const painter = createPaintCanvas({
    size: config.size, displaySize: DISPLAY,
    brush: () => ({ width: Number(size.value), fill: brushes[selected].fill,
                    outline: brushes[selected].outline, outlineWidth: config.outline_width }),
    onStroke: canvas => translate(canvas),
  });
  $("input-holder").appendChild(painter.canvas);
  for (const brush of config.brushes) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = brush.name;
    button.dataset.brush = brush.name;
    button.style.background = brush.fill;
    button.addEventListener("click", () => {
      selected = brush.name;
      for (const other of $("palette").children) other.classList.toggle("selected", other === button);
    });
    button.classList.toggle("selected", brush.name === selected);
    $("palette").appendChild(button);
  }
  const start = async () => {
    if (config.start_image) await painter.showImage(config.start_image);
    else painter.fill(config.blank);
    await translate(painter.canvas);
  };
  $("reset").addEventListener("click", start);
  await start();
}

async function uploadMode(config, translate) {
  $("upload").hidden = false;
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = config.size;
  $("input-holder").appendChild(canvas);
  const context = canvas.getContext("2d");
  async function take(file) {
    if (!file) return;
    let bitmap;
    try {
      bitmap = await createImageBitmap(file);
    } catch {
      say(`${file.name} is not an image this browser can read; try a PNG or a JPEG.`, true);
      return;
    }
    const side = Math.min(bitmap.width, bitmap.height);  // the central square, scaled
    context.drawImage(bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side,
                      0, 0, config.size, config.size);
    await translate(canvas);
  }
  $("file").addEventListener("change", event => take(event.target.files[0]));
  const drop = $("drop");
  drop.addEventListener("dragover", event => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", event => {
    event.preventDefault();
    drop.classList.remove("over");
    take(event.dataTransfer.files[0]);
  });
  if (config.start_image) {
    const response = await fetch(config.start_image);
    await take(new File([await response.blob()], config.start_image));
  }
}

main().catch(error => {
  state.error = String(error);
  say(`Something went wrong: ${error}. Open the page through a web server (python -m http.server), not as a file.`, true);
  console.error(error);
});
