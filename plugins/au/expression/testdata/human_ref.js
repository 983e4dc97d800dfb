// The reference for expression_test.go: TF.js 4.22 running the emotion
// model (the conversion's source) and @vladmandic/human's preprocessing
// (src/face/facemeshutil.ts cutAndResize, src/gear/emotion.ts predict),
// written again here with the same tf ops and defaults.
//
//   node human_ref.js JOB.json
//
// JOB: {tfjs, model (folder of emotion.json), inputs (N×64×64 float32
// file, model inputs as they are), images: [{gray (u8 file), w, h, boxes:
// [[x0, y0, x1, y1], ...]}], outPrep, outProbs}. Writes outPrep: the
// prepared 64×64 input of every box, float32; outProbs: the model's
// 7 outputs for the inputs, then for the prepared boxes, float32.
'use strict';
const fs = require('fs');
const path = require('path');

function f32(file) {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

async function main() {
  const job = JSON.parse(fs.readFileSync(process.argv[2]));
  const tf = require(path.resolve(job.tfjs));
  await tf.setBackend('cpu');
  const json = JSON.parse(fs.readFileSync(path.join(job.model, 'emotion.json')));
  const bin = Buffer.concat(json.weightsManifest.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(job.model, p)))));
  const model = await tf.loadGraphModel(tf.io.fromMemory({
    modelTopology: json.modelTopology,
    weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
    weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
  }));

  const prepared = [];
  for (const im of job.images) {
    const gray = fs.readFileSync(im.gray);
    // human's input: [1, h, w, 3] with values 0..255; a gray frame has R = G = B.
    const rgb = new Float32Array(3 * gray.length);
    gray.forEach((v, i) => rgb.fill(v, 3 * i, 3 * i + 3));
    const frame = tf.tensor4d(rgb, [1, im.h, im.w, 3]);
    for (const [x0, y0, x1, y1] of im.boxes) {
      prepared.push(tf.tidy(() => {
        // cutAndResize: box normalised as [y1, x1, y2, x2], crop to the
        // face mesh input (192), then / 255.
        const crop = tf.div(tf.image.cropAndResize(frame, [[y0 / im.h, x0 / im.w, y1 / im.h, x1 / im.w]], [0], [192, 192]), 255);
        // emotion predict: resizeBilinear to the model input, weighted gray, (g - 0.5) * 2.
        const resize = tf.image.resizeBilinear(crop, [64, 64], false);
        const g = tf.sum(tf.mul(resize, tf.tensor1d([0.2989, 0.5870, 0.1140])), 3, true);
        return tf.mul(tf.sub(g, 0.5), 2);
      }));
    }
    frame.dispose();
  }
  const prep = prepared.length ? tf.concat(prepared, 0) : tf.zeros([0, 64, 64, 1]);
  const raw = f32(job.inputs);
  const all = tf.concat([tf.tensor4d(raw, [raw.length / 4096, 64, 64, 1]), prep], 0);
  const probs = model.predict(all);
  const write = async (file, t) => {
    const d = await t.data();
    fs.writeFileSync(file, Buffer.from(d.buffer, d.byteOffset, d.byteLength));
  };
  await write(job.outPrep, prep);
  await write(job.outProbs, probs);
}

main().catch((e) => { console.error(e); process.exit(1); });
