package blazeface

import (
	"encoding/binary"
	"math"
	"testing"
)

// FuzzDecode feeds decode and the NMS steps arbitrary model outputs (NaN,
// ±Inf, huge and denormal floats) and crops: they must not panic, and every
// face must be finite with a non-empty box. Seeds: testdata/fuzz/FuzzDecode
// and the f.Add calls.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{}, float32(0), float32(0), float32(640), float32(0.5))
	f.Add(floats(2, 4, -2, 32, 40), float32(-80), float32(0), float32(640), float32(0.6))
	f.Add(floats(float32(math.NaN()), float32(math.Inf(1)), 1e38, -1e38, 1e-40), float32(1e30), float32(-1e30), float32(1e38), float32(0))
	f.Fuzz(func(t *testing.T, data []byte, x0, y0, side, threshold float32) {
		scores := make([]float32, NumAnchors)
		regs := make([]float32, NumAnchors*regWidth)
		// The bytes fill the first anchors' score and regressors, then
		// repeat over a stride so that several anchors get values.
		vals := make([]float32, len(data)/4)
		for i := range vals {
			vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
		if len(vals) > 0 {
			for a := 0; a < NumAnchors; a += 37 {
				scores[a] = vals[a%len(vals)]
				for j := 0; j < regWidth; j++ {
					regs[a*regWidth+j] = vals[(a+j+1)%len(vals)]
				}
			}
		}
		fs := decode(scores, regs, crop{x0, y0, side}, threshold, nil)
		fs = append(fs, decode(scores, regs, crop{0, 0, 640}, 0.5, nil)...)
		check := func(stage string, fs []Face) {
			for _, f := range fs {
				if !finite(f) || !(f.Box.W() > 0) || !(f.Box.H() > 0) || !(f.Score >= 0 && f.Score <= 1) {
					t.Fatalf("%s: bad face %+v", stage, f)
				}
			}
		}
		check("decode", fs)
		n := weightedNMS(fs, nmsIoU)
		check("nms", n)
		check("merge", mergePasses(n, nmsIoU))
	})
}

func floats(v ...float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}
