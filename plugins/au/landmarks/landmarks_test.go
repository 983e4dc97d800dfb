package landmarks

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/lsie-mlf/lsie/plugins/au/internal/img"
)

// enc writes dlib's serialization format, independently of the reader:
// the tests build models with it.
type enc struct{ bytes.Buffer }

func (e *enc) uint(v uint64) {
	var b [8]byte
	n := 0
	for {
		b[n] = byte(v)
		n++
		v >>= 8
		if v == 0 {
			break
		}
	}
	e.WriteByte(byte(n))
	e.Write(b[:n])
}

func (e *enc) int(v int64) {
	neg := byte(0)
	m := uint64(v)
	if v < 0 {
		neg, m = 0x80, uint64(-v)
	}
	start := e.Len()
	e.uint(m)
	e.Bytes()[start] |= neg
}

// float writes v as dlib's float_details: a 24-bit mantissa scaled by a
// power of two, with trailing zero bytes of the mantissa shifted off.
func (e *enc) float(v float32) {
	f := float64(v)
	switch {
	case math.IsInf(f, 1):
		e.int(0)
		e.int(expInf)
	case math.IsInf(f, -1):
		e.int(0)
		e.int(expNInf)
	case math.IsNaN(f):
		e.int(0)
		e.int(expNaN)
	default:
		fr, ex := math.Frexp(f)
		man := int64(fr * (1 << 24))
		ex -= 24
		for i := 0; i < 8 && man&0xff == 0; i++ {
			man >>= 8
			ex += 8
		}
		e.int(man)
		e.int(int64(ex))
	}
}

func (e *enc) column(v []float32) {
	e.int(-int64(len(v)))
	e.int(-1)
	for _, x := range v {
		e.float(x)
	}
}

// synth is a model in dlib's own structure, before serialization.
type synth struct {
	initial []float32
	forests [][]synthTree
	anchors [][]uint64
	deltas  [][][2]float32
}

type synthTree struct {
	splits []split
	leaves [][]float32
}

func (s *synth) encode() []byte {
	var e enc
	e.int(1)
	e.column(s.initial)
	e.uint(uint64(len(s.forests)))
	for _, f := range s.forests {
		e.uint(uint64(len(f)))
		for _, t := range f {
			e.uint(uint64(len(t.splits)))
			for _, sp := range t.splits {
				e.uint(uint64(sp.idx1))
				e.uint(uint64(sp.idx2))
				e.float(sp.thresh)
			}
			e.uint(uint64(len(t.leaves)))
			for _, l := range t.leaves {
				e.column(l)
			}
		}
	}
	e.uint(uint64(len(s.anchors)))
	for _, a := range s.anchors {
		e.uint(uint64(len(a)))
		for _, x := range a {
			e.uint(x)
		}
	}
	e.uint(uint64(len(s.deltas)))
	for _, d := range s.deltas {
		e.uint(uint64(len(d)))
		for _, x := range d {
			e.float(x[0])
			e.float(x[1])
		}
	}
	return e.Bytes()
}

// randomSynth is a valid model of the given size with random contents.
func randomSynth(seed uint64, levels, trees, depth, features int) *synth {
	r := rand.New(rand.NewPCG(seed, 1))
	s := &synth{initial: make([]float32, dims)}
	for i := range s.initial {
		s.initial[i] = 0.1 + 0.8*r.Float32()
	}
	nSplit := 1<<depth - 1
	for range levels {
		var f []synthTree
		for range trees {
			var t synthTree
			for range nSplit {
				t.splits = append(t.splits, split{uint32(r.IntN(features)), uint32(r.IntN(features)), float32(r.IntN(101) - 50)})
			}
			for range nSplit + 1 {
				l := make([]float32, dims)
				for i := range l {
					l[i] = (r.Float32() - 0.5) * 0.01
				}
				t.leaves = append(t.leaves, l)
			}
			f = append(f, t)
		}
		s.forests = append(s.forests, f)
		a := make([]uint64, features)
		d := make([][2]float32, features)
		for i := range a {
			a[i] = uint64(r.IntN(NumParts))
			d[i] = [2]float32{(r.Float32() - 0.5) * 0.2, (r.Float32() - 0.5) * 0.2}
		}
		s.anchors = append(s.anchors, a)
		s.deltas = append(s.deltas, d)
	}
	return s
}

func TestParseSynthetic(t *testing.T) {
	s := randomSynth(1, 3, 4, 3, 20)
	p, err := Parse(s.encode())
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range s.initial {
		if p.initial[i] != v {
			t.Fatalf("initial[%d] = %v, want %v", i, p.initial[i], v)
		}
	}
	if len(p.cascades) != 3 || len(p.trees) != 12 || len(p.splits) != 12*7 || len(p.leaves) != 12*8*dims || p.maxFeatures != 20 {
		t.Fatalf("parsed %d levels, %d trees, %d splits, %d leaf floats, %d features",
			len(p.cascades), len(p.trees), len(p.splits), len(p.leaves), p.maxFeatures)
	}
	ti := 0
	for c, f := range s.forests {
		pc := p.cascades[c]
		for i, a := range s.anchors[c] {
			if uint64(pc.anchor[i]) != a || pc.deltas[2*i] != s.deltas[c][i][0] || pc.deltas[2*i+1] != s.deltas[c][i][1] {
				t.Fatalf("level %d feature %d: anchor %d delta %v,%v; want %d %v", c, i, pc.anchor[i], pc.deltas[2*i], pc.deltas[2*i+1], a, s.deltas[c][i])
			}
		}
		for _, st := range f {
			pt := p.trees[ti]
			ti++
			for k, sp := range st.splits {
				if p.splits[pt.split0+k] != sp {
					t.Fatalf("tree %d split %d = %+v, want %+v", ti-1, k, p.splits[pt.split0+k], sp)
				}
			}
			for k, l := range st.leaves {
				for j, v := range l {
					if got := p.leaves[pt.leaf0+k*dims+j]; got != v {
						t.Fatalf("tree %d leaf %d[%d] = %v, want %v", ti-1, k, j, got, v)
					}
				}
			}
		}
	}
}

func TestFloatEncoding(t *testing.T) {
	for _, v := range []float32{0, 1, -1, 0.5, -3.25, 1e-3, 123456.78, math.MaxFloat32, math.SmallestNonzeroFloat32,
		-1e-40, float32(math.Inf(1)), float32(math.Inf(-1))} {
		var e enc
		e.float(v)
		d := newReader(bytes.NewReader(e.Bytes()), int64(e.Len()))
		got, err := d.float("x")
		if err != nil || got != v || d.remaining() != 0 {
			t.Errorf("%v: got %v, %v (%d bytes left)", v, got, err, d.remaining())
		}
	}
	var e enc
	e.float(float32(math.NaN()))
	d := newReader(bytes.NewReader(e.Bytes()), int64(e.Len()))
	if got, err := d.float("x"); err != nil || !math.IsNaN(float64(got)) {
		t.Errorf("NaN: got %v, %v", got, err)
	}
	// A double-precision mantissa (53 bits, as dlib writes doubles) rounds
	// to the nearest float.
	e.Reset()
	e.int(1<<52 + 1)
	e.int(-52)
	d = newReader(bytes.NewReader(e.Bytes()), int64(e.Len()))
	if got, err := d.float("x"); err != nil || got != 1 {
		t.Errorf("double mantissa: got %v, %v", got, err)
	}
}

// TestIntegerBytes decodes hand-written bytes, as dlib lays them out.
func TestIntegerBytes(t *testing.T) {
	for _, c := range []struct {
		in     []byte
		signed bool
		bits   uint
		want   int64
		err    string
	}{
		{[]byte{0x01, 0x01}, true, 32, 1, ""},
		{[]byte{0x81, 0x88}, true, 64, -136, ""},
		{[]byte{0x02, 0x34, 0x12}, false, 64, 0x1234, ""},
		{[]byte{0x71, 0x05}, true, 32, 5, ""},  // dlib ignores bits 0x70
		{[]byte{0x31, 0x05}, false, 64, 5, ""}, // for both kinds
		{[]byte{0x00}, false, 64, 0, "control byte"},
		{[]byte{0x09, 1, 2, 3, 4, 5, 6, 7, 8, 9}, false, 64, 0, "control byte"},
		{[]byte{0x81, 0x05}, false, 64, 0, "control byte"}, // sign on an unsigned
		{[]byte{0x03, 1, 2, 3}, true, 16, 0, "too wide"},
		{[]byte{0x02, 0xff, 0xff}, true, 16, 0, "overflows"},
		{[]byte{0x82, 0x00, 0x80}, true, 16, -32768, ""},
		{[]byte{0x04, 1, 2}, false, 64, 0, "unexpected end"},
		{nil, false, 64, 0, "unexpected end"},
	} {
		d := newReader(bytes.NewReader(c.in), int64(len(c.in)))
		var got int64
		var err error
		if c.signed {
			got, err = d.int("x", c.bits)
		} else {
			var u uint64
			u, err = d.uint("x", c.bits)
			got = int64(u)
		}
		if c.err == "" && (err != nil || got != c.want) || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("% x: got %d, %v; want %d, %q", c.in, got, err, c.want, c.err)
		}
	}
}

// TestTruncated checks that every proper prefix of a model fails with a
// FormatError at an offset inside the prefix.
func TestTruncated(t *testing.T) {
	b := randomSynth(2, 2, 2, 2, 6).encode()
	for n := range len(b) {
		_, err := Parse(b[:n])
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Offset > int64(n) || !strings.Contains(err.Error(), "offset") {
			t.Fatalf("prefix %d of %d: %v", n, len(b), err)
		}
	}
	if _, err := Parse(append(b, 0)); err == nil || !strings.Contains(err.Error(), "trailing") {
		t.Errorf("trailing byte: %v", err)
	}
}

// TestCorrupt checks the structural validation, and that absurd counts are
// refused before anything is allocated for them.
func TestCorrupt(t *testing.T) {
	header := func() *enc {
		var e enc
		e.int(1)
		e.column(make([]float32, dims))
		return &e
	}
	cases := map[string]struct {
		b    []byte
		want string
	}{}
	add := func(name string, b []byte, want string) {
		cases[name] = struct {
			b    []byte
			want string
		}{bytes.Clone(b), want}
	}

	e := header()
	e.uint(1 << 60)
	add("huge cascade count", e.Bytes(), "exceeds")

	e = header()
	e.uint(maxLevels + 1)
	e.Write(make([]byte, 4*maxLevels))
	add("too many levels", e.Bytes(), "at most 4096")

	e = header()
	e.uint(1)
	e.uint(1 << 40)
	add("huge tree count", e.Bytes(), "exceeds")

	var v enc
	v.int(2)
	add("version", v.Bytes(), "version 2")

	v.Reset()
	v.int(1)
	v.column(make([]float32, 10))
	add("5 parts", v.Bytes(), "want 136")

	v.Reset()
	v.int(1)
	v.int(-1 << 50)
	v.int(-1)
	add("huge matrix", v.Bytes(), "exceed")

	v.Reset()
	v.int(1)
	v.int(-136)
	v.int(-2)
	add("matrix not a column", v.Bytes(), "column vector")

	s := randomSynth(3, 1, 1, 2, 4)
	s.forests[0][0].splits[1].idx2 = 4
	add("split index", s.encode(), "feature pixels")

	s = randomSynth(3, 1, 1, 2, 4)
	s.anchors[0][2] = NumParts
	add("anchor index", s.encode(), "landmark 68")

	s = randomSynth(3, 1, 1, 2, 4)
	s.forests[0][0].leaves = s.forests[0][0].leaves[:3]
	add("leaf count", s.encode(), "3 leaves for 3 splits")

	s = randomSynth(3, 1, 1, 2, 4)
	s.forests[0][0].leaves[1] = s.forests[0][0].leaves[1][:10]
	add("leaf size", s.encode(), "want 136")

	s = randomSynth(3, 2, 1, 2, 4)
	s.anchors = s.anchors[:1]
	add("anchor lists", s.encode(), "1 lists for 2 cascade levels")

	s = randomSynth(3, 1, 1, 2, 4)
	s.deltas[0] = s.deltas[0][:3]
	add("delta count", s.encode(), "3 deltas for 4 anchors")

	var ascii enc
	ascii.int(1)
	ascii.int(-136)
	ascii.int(-1)
	ascii.WriteString(strings.Repeat("0.5 ", dims))
	add("ascii float", ascii.Bytes(), "ASCII")

	for name, c := range cases {
		_, err := Parse(c.b)
		var fe *FormatError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a FormatError with %q", name, err, c.want)
		}
	}
}

// TestPredictSplit hand-checks one split: a one-tree model whose two
// feature pixels sit on landmarks 0 and 1, so the leaf taken depends on
// the image at those points.
func TestPredictSplit(t *testing.T) {
	s := &synth{initial: make([]float32, dims)}
	for i := range NumParts {
		// Landmarks on a diagonal of the box, 0 at (0.1, 0.1).
		s.initial[2*i] = 0.1 + 0.01*float32(i)
		s.initial[2*i+1] = 0.1 + 0.01*float32(i)
	}
	left, right := make([]float32, dims), make([]float32, dims)
	for i := range left {
		left[i], right[i] = 0.125, -0.25
	}
	s.forests = [][]synthTree{{{splits: []split{{0, 1, 10}}, leaves: [][]float32{left, right}}}}
	s.anchors = [][]uint64{{0, 1}}
	s.deltas = [][][2]float32{{{0, 0}, {0, 0}}}
	p, err := Parse(s.encode())
	if err != nil {
		t.Fatal(err)
	}
	// Box 101 pixels wide: normalized x maps to 100·x + 50.
	box := img.Rect{X0: 50, Y0: 50, X1: 151, Y1: 151}
	g := img.Gray{W: 200, H: 200, Stride: 200, Pix: make([]byte, 200*200)}
	at := func(x, y int) *byte { return &g.Pix[y*g.Stride+x] }
	for _, c := range []struct {
		p0, p1 byte
		leaf   float32
	}{{20, 5, 0.125}, {20, 10, -0.25}, {0, 0, -0.25}, {255, 0, 0.125}} {
		*at(60, 60), *at(61, 61) = c.p0, c.p1
		got := p.Predict(g, box)
		for i, pt := range got {
			wx := 50 + 100*(s.initial[2*i]+c.leaf)
			wy := 50 + 100*(s.initial[2*i+1]+c.leaf)
			if math.Abs(float64(pt.X-wx)) > 1e-3 || math.Abs(float64(pt.Y-wy)) > 1e-3 {
				t.Fatalf("pixels %d,%d: point %d = %v, want (%v, %v)", c.p0, c.p1, i, pt, wx, wy)
			}
		}
	}
}

// TestSimilarity checks the closed-form similarity transform against
// shapes related by a known scale and rotation.
func TestSimilarity(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	var from, to [dims]float32
	const scale, angle = 1.7, 0.3
	cs, sn := scale*math.Cos(angle), scale*math.Sin(angle)
	for i := range NumParts {
		x, y := r.Float64(), r.Float64()
		from[2*i], from[2*i+1] = float32(x), float32(y)
		to[2*i], to[2*i+1] = float32(cs*x-sn*y+3), float32(sn*x+cs*y-2)
	}
	m00, m01, m10, m11 := similarity(&from, &to)
	for _, c := range [][2]float64{{float64(m00), cs}, {float64(m01), -sn}, {float64(m10), sn}, {float64(m11), cs}} {
		if math.Abs(c[0]-c[1]) > 1e-5 {
			t.Fatalf("similarity = %v %v %v %v, want %v %v %v %v", m00, m01, m10, m11, cs, -sn, sn, cs)
		}
	}
	if a, b, c, d := similarity(&from, &from); a != 1 || b != 0 || c != 0 || d != 1 {
		t.Errorf("identity: %v %v %v %v", a, b, c, d)
	}
	var same [dims]float32
	if a, b, c, d := similarity(&same, &to); a != 1 || b != 0 || c != 0 || d != 1 {
		t.Errorf("coincident points: %v %v %v %v, want identity", a, b, c, d)
	}
}

// TestDegenerateInputs: odd images and boxes give a defined result.
func TestDegenerateInputs(t *testing.T) {
	p, err := Parse(randomSynth(5, 3, 5, 3, 30).encode())
	if err != nil {
		t.Fatal(err)
	}
	box := img.Rect{X0: -20, Y0: -20, X1: 30, Y1: 30}
	black := img.Gray{W: 64, H: 48, Stride: 64, Pix: make([]byte, 64*48)}
	for name, g := range map[string]img.Gray{
		"empty":        {},
		"1x1":          {W: 1, H: 1, Stride: 1, Pix: []byte{200}},
		"black":        black,
		"short pix":    {W: 64, H: 48, Stride: 64, Pix: make([]byte, 100)},
		"bad stride":   {W: 64, H: 48, Stride: 3, Pix: make([]byte, 64*48)},
		"negative dim": {W: -5, H: 4, Stride: 1, Pix: make([]byte, 4)},
	} {
		for _, pt := range p.Predict(g, box) {
			if math.IsNaN(float64(pt.X)) || math.IsInf(float64(pt.X), 0) || math.IsNaN(float64(pt.Y)) || math.IsInf(float64(pt.Y), 0) {
				t.Errorf("%s: point %v", name, pt)
			}
		}
	}
	// Out-of-image reads are 0, so an empty image behaves as a black one.
	if a, b := p.Predict(img.Gray{}, box), p.Predict(black, img.Rect{X0: 1000, Y0: 1000, X1: 1050, Y1: 1050}); math.Abs(float64((a[0].X+20)-(b[0].X-1000))) > 1e-3 {
		t.Errorf("empty image and black far-away box differ: %v vs %v", a[0], b[0])
	}
	p.Predict(black, img.Rect{X0: float32(math.NaN())})
	p.Predict(black, img.Rect{X0: 1e30, Y0: -1e30, X1: float32(math.Inf(1))})
}

// TestConcurrentPredict: a Predictor is shared by goroutines (run with
// -race to check).
func TestConcurrentPredict(t *testing.T) {
	p, err := Parse(randomSynth(6, 4, 8, 3, 40).encode())
	if err != nil {
		t.Fatal(err)
	}
	g := img.Gray{W: 80, H: 80, Stride: 80, Pix: make([]byte, 80*80)}
	for i := range g.Pix {
		g.Pix[i] = byte(i * 7)
	}
	box := img.Rect{X0: 10, Y0: 10, X1: 70, Y1: 70}
	want := p.Predict(g, box)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				if got := p.Predict(g, box); got != want {
					t.Error("concurrent Predict differs")
					return
				}
			}
		})
	}
	wg.Wait()
}

// FuzzLoad feeds arbitrary bytes to the model reader: it must return a
// model or an error, never panic or allocate beyond the input's worth; a
// model it accepts must predict.
func FuzzLoad(f *testing.F) {
	// More seeds, including a 0-level model and a refused huge count, are
	// in testdata/fuzz/FuzzLoad.
	b := randomSynth(7, 1, 2, 1, 3).encode()
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<16 {
			return
		}
		p, err := Parse(b)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) || fe.Offset < 0 || fe.Offset > int64(len(b)) {
				t.Fatalf("error %v is not a FormatError within the input", err)
			}
			return
		}
		g := img.Gray{W: 16, H: 16, Stride: 16, Pix: make([]byte, 256)}
		p.Predict(g, img.Rect{X0: -4, Y0: 2, X1: 12, Y1: 20})
	})
}
