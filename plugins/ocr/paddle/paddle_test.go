package paddle

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// A rotated rectangle's corners (and points inside) give back the
// rectangle: size, centre, and u as the axis nearer to horizontal.
func TestMinAreaRect(t *testing.T) {
	for _, tc := range []struct {
		name         string
		deg, hw, hh  float64
		wantW, wantH float64 // along u, along v
	}{
		{"axis-aligned", 0, 40, 10, 80, 20},
		{"tilted 10°", 10, 40, 10, 80, 20},
		{"tilted -30°", -30, 25, 8, 50, 16},
		{"tall", 0, 5, 30, 10, 60},
		{"tall, tilted 80°", 80, 30, 5, 10, 60}, // the long side is nearer to vertical
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.deg * math.Pi / 180
			u := Point{math.Cos(a), math.Sin(a)}
			v := Point{-u.Y, u.X}
			c := Point{100, 60}
			var pts []Point
			for _, s := range [][2]float64{{-1, -1}, {1, -1}, {1, 1}, {-1, 1}, {0, 0}, {0.5, -0.3}} {
				pts = append(pts, c.add(u.scale(s[0]*tc.hw)).add(v.scale(s[1]*tc.hh)))
			}
			r := minAreaRect(convexHull(pts))
			if !near(2*r.hw, tc.wantW, 1e-6) || !near(2*r.hh, tc.wantH, 1e-6) || !near(r.c.X, c.X, 1e-6) || !near(r.c.Y, c.Y, 1e-6) {
				t.Errorf("rect %+v, want %g×%g at %v", r, tc.wantW, tc.wantH, c)
			}
			if math.Abs(r.u.X) < math.Abs(r.u.Y) || r.u.X < 0 || r.v.Y < 0 || !near(r.u.dot(r.v), 0, 1e-9) {
				t.Errorf("axes u %v v %v: want u nearer to horizontal, pointing right, v down", r.u, r.v)
			}
			q := r.quad()
			if q[0].X > q[1].X || q[0].Y > q[3].Y {
				t.Errorf("corners %v not in reading order", q)
			}
		})
	}
}

// probMap is a w×h map with value p inside each rectangle [x0,x1]×[y0,y1].
func probMap(w, h int, p float32, rects ...[4]int) []float32 {
	m := make([]float32, w*h)
	for _, r := range rects {
		for y := r[1]; y <= r[3]; y++ {
			for x := r[0]; x <= r[2]; x++ {
				m[y*w+x] = p
			}
		}
	}
	return m
}

func TestDBBoxes(t *testing.T) {
	const w, h = 120, 80
	t.Run("one region grows by the unclip distance", func(t *testing.T) {
		got := dbBoxes(probMap(w, h, 0.9, [4]int{20, 30, 59, 39}), w, h, DefaultDB)
		if len(got) != 1 {
			t.Fatalf("%d boxes, want 1", len(got))
		}
		// Pixel centres span 39×9; unclip adds 39·9·1.5/(2·48) on each side.
		d := 39.0 * 9 * 1.5 / 96
		b := got[0]
		if !near(2*b.r.hw, 39+2*d, 1e-9) || !near(2*b.r.hh, 9+2*d, 1e-9) || !near(b.r.c.X, 39.5, 1e-9) || !near(b.r.c.Y, 34.5, 1e-9) || !near(float64(b.score), 0.9, 1e-6) {
			t.Errorf("box %+v score %v", b.r, b.score)
		}
	})
	t.Run("diagonal neighbours are one region", func(t *testing.T) {
		// Half of the region's box is empty: a lower box threshold keeps it.
		p := DefaultDB
		p.BoxThresh = 0.3
		got := dbBoxes(probMap(w, h, 0.9, [4]int{10, 10, 29, 19}, [4]int{30, 20, 49, 29}), w, h, p)
		if len(got) != 1 {
			t.Errorf("%d boxes, want 1", len(got))
		}
	})
	t.Run("separate regions", func(t *testing.T) {
		got := dbBoxes(probMap(w, h, 0.9, [4]int{10, 10, 29, 19}, [4]int{10, 40, 29, 49}, [4]int{60, 10, 99, 19}), w, h, DefaultDB)
		if len(got) != 3 {
			t.Errorf("%d boxes, want 3", len(got))
		}
	})
	t.Run("too thin", func(t *testing.T) {
		if got := dbBoxes(probMap(w, h, 0.9, [4]int{10, 10, 69, 11}), w, h, DefaultDB); len(got) != 0 {
			t.Errorf("%d boxes for a region 2 pixels tall, want 0", len(got))
		}
	})
	t.Run("weak region", func(t *testing.T) {
		// Above the binarisation threshold, below the box threshold.
		if got := dbBoxes(probMap(w, h, 0.5, [4]int{10, 10, 69, 29}), w, h, DefaultDB); len(got) != 0 {
			t.Errorf("%d boxes for mean probability 0.5, want 0", len(got))
		}
	})
	t.Run("max candidates", func(t *testing.T) {
		p := DefaultDB
		p.MaxCandidates = 2
		got := dbBoxes(probMap(w, h, 0.9, [4]int{10, 10, 29, 19}, [4]int{10, 40, 29, 49}, [4]int{60, 10, 99, 19}), w, h, p)
		if len(got) != 2 {
			t.Errorf("%d boxes, want 2", len(got))
		}
	})
}

// steps builds CTC outputs: each step is the class that wins with p, and
// optionally a space probability beside a winning blank.
func steps(classes int, seq ...[3]float64) []float32 {
	out := make([]float32, len(seq)*classes)
	for t, s := range seq {
		row := out[t*classes : (t+1)*classes]
		row[int(s[0])] = float32(s[1])
		if s[2] > 0 {
			row[classes-1] = float32(s[2])
		}
		// The rest of the mass on class 1, never winning.
		row[1] += float32(max(0, 1-s[1]-s[2]) / 2)
	}
	return out
}

func TestDecode(t *testing.T) {
	d := Dictionary{"", "x", "a", "b", "c", " "} // blank, x, a, b, c, space
	n := len(d)
	const blank, a, b, c, sp = 0, 2, 3, 4, 5
	for _, tc := range []struct {
		name   string
		seq    [][3]float64
		thresh float32
		want   string
		conf   float32
	}{
		{"repeats merge, blanks split", [][3]float64{{a, 0.9, 0}, {a, 0.7, 0}, {blank, 1, 0}, {a, 0.8, 0}, {b, 0.6, 0}}, 0, "aab", (0.9 + 0.8 + 0.6) / 3},
		{"a space class wins", [][3]float64{{a, 1, 0}, {sp, 0.8, 0}, {b, 1, 0}}, 0, "a b", (1 + 0.8 + 1) / 3},
		{"a space under a blank, plain greedy", [][3]float64{{a, 1, 0}, {blank, 0.6, 0.4}, {b, 1, 0}}, 0, "ab", 1},
		{"a space under a blank, recovered", [][3]float64{{a, 1, 0}, {blank, 0.6, 0.4}, {b, 1, 0}}, 0.15, "a b", 1},
		{"a faint space is not", [][3]float64{{a, 1, 0}, {blank, 0.9, 0.1}, {b, 1, 0}}, 0.15, "ab", 1},
		{"no space before the first character", [][3]float64{{blank, 0.5, 0.45}, {c, 1, 0}}, 0.15, "c", 1},
		{"no space doubled", [][3]float64{{a, 1, 0}, {sp, 0.9, 0}, {blank, 0.6, 0.4}, {b, 1, 0}}, 0.15, "a b", (1 + 0.9 + 1) / 3},
		{"nothing", [][3]float64{{blank, 1, 0}, {blank, 1, 0}}, 0.15, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text, conf := d.decode(steps(n, tc.seq...), len(tc.seq), n, tc.thresh)
			if text != tc.want || !near(float64(conf), float64(tc.conf), 1e-6) {
				t.Errorf("got %q (%v), want %q (%v)", text, conf, tc.want, tc.conf)
			}
		})
	}
}

func TestLoadDictionary(t *testing.T) {
	p := filepath.Join(t.TempDir(), "keys.txt")
	if err := os.WriteFile(p, []byte("a\nb\n%\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := LoadDictionary(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Dictionary{"", "a", "b", "%", " "}); len(d) != len(want) || d[1] != "a" || d[3] != "%" || d[4] != " " {
		t.Errorf("got %q, want %q", d, want)
	}
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadDictionary(p); err == nil {
		t.Error("an empty dictionary loaded")
	}
}

func TestReadingOrder(t *testing.T) {
	box := func(x, y, w, h float64) Box {
		return Box{Quad: Quad{{x, y}, {x + w, y}, {x + w, y + h}, {x, y + h}}}
	}
	// Two rows; within the first, a box starting 3 px lower but further
	// left comes first.
	bs := []Box{box(300, 10, 50, 20), box(10, 13, 100, 20), box(10, 60, 50, 20), box(200, 61, 50, 20)}
	readingOrder(bs)
	var xs []float64
	for _, b := range bs {
		xs = append(xs, b.Quad[0].X, b.Quad[0].Y)
	}
	want := []float64{10, 13, 300, 10, 10, 60, 200, 61}
	for i := range want {
		if xs[i] != want[i] {
			t.Fatalf("order %v, want %v", xs, want)
		}
	}
}

// warpInto straightens a crop: an axis-aligned quad over a horizontal
// ramp reads the ramp back at the output's pixel centres; turned 180° it
// reads it backwards.
func TestWarpInto(t *testing.T) {
	im := Image{W: 64, H: 16, Stride: 3 * 64, Pix: make([]byte, 3*64*16)}
	for y := 0; y < im.H; y++ {
		for x := 0; x < im.W; x++ {
			im.Pix[y*im.Stride+3*x] = byte(4 * x) // red ramp
		}
	}
	// Pixel centres 8..39 by 4..11: the quad's edges are half a pixel out.
	q := Quad{{7.5, 3.5}, {39.5, 3.5}, {39.5, 11.5}, {7.5, 11.5}}
	n := norm{std: [3]float32{1, 1, 1}}
	dst := planes{data: make([]float32, 3*32*8), stride: 32, plane: 32 * 8}
	warpInto(im, q, 32, 8, dst, &n)
	for x := 0; x < 32; x++ {
		if got, want := dst.data[2*dst.plane+3*32+x]*255, float32(4*(8+x)); !near(float64(got), float64(want), 1e-3) {
			t.Fatalf("red at x=%d: %v, want %v", x, got, want)
		}
	}
	warpInto(im, q.turned180(), 32, 8, dst, &n)
	if got, want := dst.data[2*dst.plane]*255, float32(4*39); !near(float64(got), float64(want), 1e-3) {
		t.Errorf("turned 180°, first red %v, want %v", got, want)
	}
}

func TestMergeLines(t *testing.T) {
	line := func(text string, x0, y0, x1, y1 float64, turned int) Line {
		return Line{Quad: Quad{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}}, Text: text, Confidence: 0.9, DetScore: 0.8, Turned: turned}
	}
	in := []Line{
		line("LAKERS", 20, 10, 110, 40, 0), line("98", 120, 12, 150, 40, 0), // a word gap: one line
		line("CELTICS 101", 400, 10, 560, 40, 0), // far to the right: its own
		line("Jane", 20, 300, 90, 330, 0), line("Doe,", 100, 302, 160, 331, 0), line("Chief", 170, 300, 250, 330, 0),
		line("tiny", 255, 315, 280, 322, 0), // another height
		line("up", 300, 300, 330, 330, 180), // read turned
	}
	got := mergeLines(in, 1)
	var texts []string
	for _, l := range got {
		texts = append(texts, l.Text)
	}
	want := []string{"LAKERS 98", "CELTICS 101", "Jane Doe, Chief", "tiny", "up"}
	if len(texts) != len(want) {
		t.Fatalf("got %q, want %q", texts, want)
	}
	for i := range want {
		if texts[i] != want[i] {
			t.Fatalf("got %q, want %q", texts, want)
		}
	}
	if q := got[2].Quad; q[0] != (Point{20, 300}) || q[2] != (Point{250, 331}) || got[2].Confidence != 0.9 {
		t.Errorf("joined line %+v", got[2])
	}
	if n := len(mergeLines(in, 0)); n != len(in) {
		t.Errorf("merge_gap 0: %d lines, want %d", n, len(in))
	}
}
