package blazeface

import (
	"math"
	"testing"

	"github.com/lsie-mlf/lsie/plugins/au/internal/img"
)

func TestAnchors(t *testing.T) {
	if len(anchors) != NumAnchors || NumAnchors != 896 {
		t.Fatalf("%d anchors, want 896", len(anchors))
	}
	for _, c := range []struct {
		i    int
		x, y float32
	}{
		{0, 0.5 / 16, 0.5 / 16},  // 16×16 layer, first cell, first anchor
		{1, 0.5 / 16, 0.5 / 16},  // its second anchor: same centre
		{2, 1.5 / 16, 0.5 / 16},  // next cell along the row
		{32, 0.5 / 16, 1.5 / 16}, // second row
		{511, 15.5 / 16, 15.5 / 16},
		{512, 0.5 / 8, 0.5 / 8}, // 8×8 layer, six anchors per cell
		{517, 0.5 / 8, 0.5 / 8},
		{518, 1.5 / 8, 0.5 / 8},
		{512 + 6*8, 0.5 / 8, 1.5 / 8},
		{895, 7.5 / 8, 7.5 / 8},
	} {
		if a := anchors[c.i]; a.x != c.x || a.y != c.y {
			t.Errorf("anchor %d = %v, want (%v, %v)", c.i, a, c.x, c.y)
		}
	}
}

func near(a, b float32) bool { return math.Abs(float64(a-b)) < 1e-3 }

func TestDecodeSynthetic(t *testing.T) {
	scores := make([]float32, NumAnchors)
	regs := make([]float32, NumAnchors*regWidth)
	for i := range scores {
		scores[i] = -10 // sigmoid ≈ 0
	}
	// Anchor 518: 8×8 layer, cell (1, 0), centre (24, 8) in input pixels.
	const i = 518
	scores[i] = 2 // sigmoid = 0.8808
	r := regs[i*regWidth:]
	copy(r, []float32{4, -2, 32, 40, -8, -4, 8, -4, 0, 4, 0, 12, -16, 0, 16, 0})
	// A 256×128 frame letterboxed: crop (0, -64, side 256), 2 px per input px.
	c := letterbox(256, 128)
	if c != (crop{0, -64, 256}) {
		t.Fatalf("letterbox = %+v", c)
	}
	fs := decode(scores, regs, c, 0.5, nil)
	if len(fs) != 1 {
		t.Fatalf("%d faces, want 1", len(fs))
	}
	f := fs[0]
	// Centre (24+4, 8-2)·2 + (0, -64) = (56, -52); size (64, 80).
	want := img.Rect{X0: 56 - 32, Y0: -52 - 40, X1: 56 + 32, Y1: -52 + 40}
	if !near(f.Box.X0, want.X0) || !near(f.Box.Y0, want.Y0) || !near(f.Box.X1, want.X1) || !near(f.Box.Y1, want.Y1) {
		t.Errorf("box %+v, want %+v", f.Box, want)
	}
	if !near(f.Score, 0.8808) {
		t.Errorf("score %v", f.Score)
	}
	re, le := f.Keypoints[RightEye], f.Keypoints[LeftEye]
	if !near(re.X, 32) || !near(re.Y, -56) || !near(le.X, 64) || !near(le.Y, -56) {
		t.Errorf("eyes %v %v", re, le)
	}
	if m := f.Keypoints[Mouth]; !near(m.X, 48) || !near(m.Y, -24) {
		t.Errorf("mouth %v", m)
	}
	// Below the threshold: nothing.
	if fs := decode(scores, regs, c, 0.9, nil); len(fs) != 0 {
		t.Errorf("threshold 0.9 kept %d", len(fs))
	}
}

func TestSigmoid(t *testing.T) {
	for _, c := range []struct{ in, want float32 }{
		{0, 0.5}, {float32(math.NaN()), 0}, {float32(math.Inf(1)), 1}, {float32(math.Inf(-1)), 0}, {1e30, 1},
	} {
		if got := sigmoid(c.in); !near(got, c.want) {
			t.Errorf("sigmoid(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func face(x0, y0, side, score float32) Face {
	f := Face{Box: img.Rect{X0: x0, Y0: y0, X1: x0 + side, Y1: y0 + side}, Score: score}
	for k := range f.Keypoints {
		f.Keypoints[k] = img.Point{X: x0 + side/2, Y: y0 + side/2}
	}
	return f
}

func TestWeightedNMS(t *testing.T) {
	a := face(0, 0, 100, 0.9)
	b := face(10, 0, 100, 0.6)   // IoU with a = 90/110 ≈ 0.82: merged
	c := face(80, 0, 100, 0.8)   // IoU with a ≈ 0.11: its own face
	d := face(500, 500, 50, 0.7) // far away
	got := weightedNMS([]Face{b, d, c, a}, nmsIoU)
	if len(got) != 3 {
		t.Fatalf("%d faces, want 3: %+v", len(got), got)
	}
	m := got[0]
	// The merged face: a's score, box the score-weighted mean of a and b.
	wx := (0.9*0 + 0.6*10) / 1.5
	if m.Score != 0.9 || !near(m.Box.X0, float32(wx)) || !near(m.Box.X1, float32(wx)+100) || !near(m.Keypoints[NoseTip].X, float32(wx)+50) {
		t.Errorf("merged %+v, want x0 %v score 0.9", m, wx)
	}
	if got[1].Box != c.Box || got[2].Box != d.Box {
		t.Errorf("others %+v %+v", got[1], got[2])
	}
	if got := weightedNMS(nil, nmsIoU); len(got) != 0 {
		t.Errorf("empty: %v", got)
	}
}

func TestMergePasses(t *testing.T) {
	tight := face(100, 100, 60, 0.95) // a tile's box
	loose := face(80, 85, 95, 0.7)    // the whole-frame pass's oversized box: IoU 0.4, inside
	wide := face(50, 50, 200, 0.65)   // IoU < 0.3 with tight, but tight lies inside it
	other := face(300, 100, 60, 0.9)
	got := mergePasses([]Face{loose, other, wide, tight}, nmsIoU)
	if len(got) != 2 || got[0].Box != tight.Box || got[1].Box != other.Box {
		t.Errorf("got %+v", got)
	}
}

func TestTilePlan(t *testing.T) {
	for _, c := range []struct {
		w, h  int
		zoom  float32
		tiles int
	}{
		{640, 480, 2, 6}, {640, 360, 2, 6}, {1920, 1080, 2, 6}, {640, 512, 2, 9},
		{480, 640, 2, 6}, {640, 480, 3, 24}, {300, 300, 2, 9},
	} {
		ts := tilePlan(c.w, c.h, c.zoom)
		if len(ts) != c.tiles {
			t.Errorf("%d×%d zoom %v: %d tiles, want %d", c.w, c.h, c.zoom, len(ts), c.tiles)
		}
		side := float32(max(c.w, c.h)) / c.zoom
		// Every face up to half a tile wide lies wholly in some tile.
		f := side / 2
		for y := float32(0); y+f <= float32(c.h); y += 7 {
			for x := float32(0); x+f <= float32(c.w); x += 7 {
				ok := false
				for _, tl := range ts {
					if tl.Side != side {
						t.Fatalf("tile side %v, want %v", tl.Side, side)
					}
					if x >= tl.X0-0.01 && y >= tl.Y0-0.01 && x+f <= tl.X0+tl.Side+0.01 && y+f <= tl.Y0+tl.Side+0.01 {
						ok = true
						break
					}
				}
				if !ok {
					t.Fatalf("%d×%d zoom %v: face at (%v, %v) size %v in no tile", c.w, c.h, c.zoom, x, y, f)
				}
			}
		}
	}
}

func TestEdgeCut(t *testing.T) {
	tile := crop{X0: 320, Y0: 0, Side: 320} // middle-right tile of a 960×480 frame
	if !edgeCut(face(300, 100, 60, 1), tile, 960, 480) {
		t.Error("face across the inner left edge kept")
	}
	if edgeCut(face(330, 100, 60, 1), tile, 960, 480) {
		t.Error("face inside the tile dropped")
	}
	if edgeCut(face(400, -20, 60, 1), tile, 960, 480) {
		t.Error("face across the frame's top edge dropped (no other tile sees it)")
	}
}

func TestParseOptions(t *testing.T) {
	o, err := ParseOptions(nil)
	if err != nil || o.Threshold != DefaultThreshold || o.Tiles != TilesAuto || o.Threads != 1 || len(o.TileZooms) != 1 || o.MinFacePx != DefaultMinFacePx {
		t.Fatalf("defaults %+v %v", o, err)
	}
	o, err = ParseOptions(map[string]string{"detect_threshold": "0.7", "detect_tiles": "false", "detect_tile_zoom": "2, 4", "detect_threads": "2", "detect_min_face_px": "30"})
	if err != nil || o.Threshold != 0.7 || o.Tiles != TilesOff || len(o.TileZooms) != 2 || o.TileZooms[1] != 4 || o.Threads != 2 || o.MinFacePx != 30 {
		t.Fatalf("parsed %+v %v", o, err)
	}
	for k, v := range map[string]string{
		"detect_threshold": "1.5", "detect_tiles": "yes", "detect_tile_zoom": "1", "detect_threads": "0", "detect_min_face_px": "NaN",
	} {
		if _, err := ParseOptions(map[string]string{k: v}); err == nil {
			t.Errorf("%s = %q accepted", k, v)
		}
	}
}
