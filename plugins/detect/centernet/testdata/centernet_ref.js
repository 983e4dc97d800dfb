// The reference for centernet_test.go: TF.js 4.22 running the CenterNet
// graph model (the conversion's source), and the letterbox its authors
// feed it (610265158/mobilenetv3_centernet: the frame, RGB 0..255, scaled
// to fit with OpenCV's bilinear resize, aspect kept, centred on black)
// written with tf ops: tf.image.resizeBilinear with half-pixel centres
// (OpenCV's sampling geometry), then tf.pad.
//
//   node centernet_ref.js JOB.json
//
// JOB: {tfjs, model (folder of centernet.json), inputs (N×512×512×3
// float32 file, model inputs as they are), images: [{rgb (u8 file), w, h}],
// outPrep, outDetections, outKeypoints, outWh}. Writes outPrep: each
// image's prepared input, float32; the outputs (float32) for the inputs,
// then for the prepared images, one after the other.
'use strict';
const fs = require('fs');
const path = require('path');

const SIZE = 512;

function f32(file) {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

const bytes = (d) => Buffer.from(d.buffer, d.byteOffset, d.byteLength);

async function main() {
  const job = JSON.parse(fs.readFileSync(process.argv[2]));
  const tf = require(path.resolve(job.tfjs));
  await tf.setBackend('cpu');
  const json = JSON.parse(fs.readFileSync(path.join(job.model, 'centernet.json')));
  const bin = Buffer.concat(json.weightsManifest.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(job.model, p)))));
  const model = await tf.loadGraphModel(tf.io.fromMemory({
    modelTopology: json.modelTopology,
    weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
    weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
  }));

  const inputs = [];
  const raw = f32(job.inputs);
  const per = SIZE * SIZE * 3;
  for (let i = 0; i < raw.length / per; i++) {
    inputs.push(tf.tensor4d(raw.subarray(i * per, (i + 1) * per), [1, SIZE, SIZE, 3]));
  }
  const prepared = [];
  for (const im of job.images) {
    const rgb = fs.readFileSync(im.rgb);
    prepared.push(tf.tidy(() => {
      const frame = tf.tensor4d(Float32Array.from(rgb), [1, im.h, im.w, 3]);
      const scale = Math.min(SIZE / im.w, SIZE / im.h);
      const nw = Math.round(im.w * scale);
      const nh = Math.round(im.h * scale);
      const dx = Math.floor((SIZE - nw) / 2);
      const dy = Math.floor((SIZE - nh) / 2);
      const resized = tf.image.resizeBilinear(frame, [nh, nw], false, true);
      return tf.pad(resized, [[0, 0], [dy, SIZE - nh - dy], [dx, SIZE - nw - dx], [0, 0]]);
    }));
  }

  const out = { det: [], kp: [], wh: [] };
  for (const x of inputs.concat(prepared)) {
    // The graph decodes one image at a time (its reshapes name batch 1).
    const [det, kp, wh] = model.execute(x, ['tower_0/detections', 'tower_0/keypoints', 'tower_0/wh']);
    out.det.push(bytes(await det.data()));
    out.kp.push(bytes(await kp.data()));
    out.wh.push(bytes(await wh.data()));
    tf.dispose([det, kp, wh]);
  }
  const prep = [];
  for (const p of prepared) prep.push(bytes(await p.data()));
  fs.writeFileSync(job.outPrep, Buffer.concat(prep));
  fs.writeFileSync(job.outDetections, Buffer.concat(out.det));
  fs.writeFileSync(job.outKeypoints, Buffer.concat(out.kp));
  fs.writeFileSync(job.outWh, Buffer.concat(out.wh));
}

main().catch((e) => { console.error(e); process.exit(1); });
