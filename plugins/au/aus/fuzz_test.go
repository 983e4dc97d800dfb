package aus

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/lsie-mlf/lsie/plugins/au/internal/img"
)

// pointsFrom reads 68 little-endian float32 (x, y) pairs; missing bytes are 0.
func pointsFrom(data []byte) (p [68]img.Point) {
	var buf [68 * 8]byte
	copy(buf[:], data)
	for i := range p {
		p[i].X = math.Float32frombits(binary.LittleEndian.Uint32(buf[8*i:]))
		p[i].Y = math.Float32frombits(binary.LittleEndian.Uint32(buf[8*i+4:]))
	}
	return p
}

func FuzzEstimate(f *testing.F) {
	// More seeds live in testdata/fuzz/FuzzEstimate.
	n := neutralFace(f)
	var b []byte
	for _, v := range n {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v.X))
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v.Y))
	}
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		p := pointsFrom(data)
		base := &Neutral{Frames: 3}
		if g, flags := Measure(&p); flags == 0 {
			base.G = g
		}
		for _, nb := range []*Neutral{nil, base} {
			r := Estimate(&p, nb)
			noNaN(t, &r)
		}
		if pose, ok := HeadPose(&p); ok {
			if math.IsNaN(pose.Yaw) || math.IsNaN(pose.Pitch) || math.IsNaN(pose.Roll) {
				t.Fatalf("pose %+v", pose)
			}
		}
		e := New(Config{BaselineMinFrames: 1})
		for i := 0; i < 3; i++ {
			r := e.Estimate(1, 0, &p)
			noNaN(t, &r)
		}
	})
}
