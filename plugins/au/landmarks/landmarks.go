// Package landmarks evaluates dlib's 68-point facial landmark predictor
// (Kazemi and Sullivan's ensemble of regression trees, as trained and
// serialized by dlib's shape_predictor) in plain Go, from dlib's own model
// file.
//
// The algorithm follows dlib's shape_predictor::operator() step for step,
// including its float/double mix and pixel rounding, so that the points
// agree with dlib's to rounding: the shape starts as the model's mean shape
// in box-normalized coordinates; each cascade level reads its feature
// pixels at offsets from anchor landmarks, carried from the mean shape to
// the current one by the least-squares similarity transform between them;
// each tree of the level compares pixel pairs down to a leaf and adds the
// leaf's shape increment.
package landmarks

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
)

// DefaultPath is where Debian's libdlib-data installs the 68-point model.
const DefaultPath = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat"

// NumParts is the number of landmarks: the iBUG 300-W 68-point layout
// (0–16 jaw, 17–26 brows, 27–35 nose, 36–47 eyes, 48–67 mouth).
const NumParts = 68

const dims = 2 * NumParts

// Predictor is a loaded model. It is immutable, so one Predictor may serve
// any number of goroutines.
type Predictor struct {
	initial  [dims]float32 // mean shape, box-normalized, x0 y0 x1 y1 …
	cascades []cascade
	trees    []tree
	splits   []split
	leaves   []float32 // dims floats per leaf, trees' leaves in order

	maxFeatures, maxTrees int
	pool                  sync.Pool // *scratch sized for the model
}

// scratch is one prediction's working memory, pooled so that Predict does
// not allocate.
type scratch struct {
	feat []float32 // feature pixel values of a cascade level
	leaf []int     // offset of each tree's chosen leaf in leaves
}

// cascade is one level: its feature pixels and its trees.
type cascade struct {
	anchor     []int32   // landmark each feature pixel hangs off
	deltas     []float32 // offset from the anchor in mean-shape space, x y …
	tree0, nTr int       // trees[tree0 : tree0+nTr]
}

// tree is a complete binary tree stored heap-style: splits[split0+i] has
// children 2i+1 and 2i+2; index i ≥ nSplit is leaf i-nSplit.
type tree struct {
	split0, nSplit int
	leaf0          int // index of the first leaf's vector in leaves, in floats
}

// split sends a sample left when pixel idx1 − pixel idx2 > thresh.
type split struct {
	idx1, idx2 uint32
	thresh     float32
}

// Load reads a dlib shape_predictor file (format version 1) with 68 parts.
func Load(path string) (*Predictor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	// decode buffers its own reads; the limit keeps a file growing under us
	// from exceeding the size its bounds were computed from.
	p, err := decode(io.LimitReader(f, st.Size()), st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// Parse decodes a model held in memory, as Load does a file.
func Parse(b []byte) (*Predictor, error) {
	return decode(bytes.NewReader(b), int64(len(b)))
}

// maxLevels bounds the cascade depth. dlib's 68-point model has 15 levels
// (the trainer's default is 10); the cap only keeps a hostile level count,
// each level costing the file 2 bytes but us a cascade struct, from
// allocating many times the file's size. Everything else is allocated at
// most in proportion to bytes actually present.
const maxLevels = 1 << 12

func decode(r io.Reader, size int64) (*Predictor, error) {
	d := newReader(r, size)
	at := d.offset()
	ver, err := d.int("version", 32)
	if err != nil {
		return nil, err
	}
	if ver != 1 {
		return nil, d.fail(at, "version", fmt.Errorf("unsupported shape_predictor version %d, want 1", ver))
	}
	p := &Predictor{}
	at = d.offset()
	init, err := d.column("initial shape", nil, -1)
	if err != nil {
		return nil, err
	}
	if len(init) != dims {
		return nil, d.fail(at, "initial shape", fmt.Errorf("model has %d coordinates, want %d (%d parts)", len(init), dims, NumParts))
	}
	copy(p.initial[:], init)

	// Forests: vector<vector<regression_tree>>.
	at = d.offset()
	nCasc, err := d.count("cascade count", minInt)
	if err != nil {
		return nil, err
	}
	if nCasc > maxLevels {
		return nil, d.fail(at, "cascade count", fmt.Errorf("%d cascade levels, at most %d supported", nCasc, maxLevels))
	}
	p.cascades = make([]cascade, nCasc)
	for c := range p.cascades {
		// A tree is at least two empty vectors' lengths.
		nTr, err := d.count("tree count", 2*minInt)
		if err != nil {
			return nil, err
		}
		p.cascades[c].tree0, p.cascades[c].nTr = len(p.trees), nTr
		for range nTr {
			if err := p.readTree(d, int64(nCasc)*int64(nTr)); err != nil {
				return nil, err
			}
		}
	}

	// anchor_idx: vector<vector<unsigned long>>.
	at = d.offset()
	n, err := d.count("anchor list count", minInt)
	if err != nil {
		return nil, err
	}
	if n != nCasc {
		return nil, d.fail(at, "anchor list count", fmt.Errorf("%d lists for %d cascade levels", n, nCasc))
	}
	for c := range p.cascades {
		at := d.offset()
		m, err := d.count("anchor count", minInt)
		if err != nil {
			return nil, err
		}
		anchor := make([]int32, m)
		for i := range anchor {
			at := d.offset()
			a, err := d.uint("anchor index", 64)
			if err != nil {
				return nil, err
			}
			if a >= NumParts {
				return nil, d.fail(at, "anchor index", fmt.Errorf("landmark %d of %d", a, NumParts))
			}
			anchor[i] = int32(a)
		}
		p.cascades[c].anchor = anchor
		if err := p.checkSplits(c, m); err != nil {
			return nil, d.fail(at, "anchor count", err)
		}
		p.maxFeatures = max(p.maxFeatures, m)
	}

	// deltas: vector<vector<dlib::vector<float,2>>>.
	at = d.offset()
	n, err = d.count("delta list count", minInt)
	if err != nil {
		return nil, err
	}
	if n != nCasc {
		return nil, d.fail(at, "delta list count", fmt.Errorf("%d lists for %d cascade levels", n, nCasc))
	}
	for c := range p.cascades {
		at := d.offset()
		m, err := d.count("delta count", 2*minFloat)
		if err != nil {
			return nil, err
		}
		if m != len(p.cascades[c].anchor) {
			return nil, d.fail(at, "delta count", fmt.Errorf("%d deltas for %d anchors in cascade level %d", m, len(p.cascades[c].anchor), c))
		}
		deltas := make([]float32, 2*m)
		for i := range deltas {
			if deltas[i], err = d.float("delta"); err != nil {
				return nil, err
			}
		}
		p.cascades[c].deltas = deltas
	}
	if d.remaining() != 0 {
		return nil, d.fail(d.offset(), "end of model", fmt.Errorf("%d trailing bytes", d.remaining()))
	}
	for _, c := range p.cascades {
		p.maxTrees = max(p.maxTrees, c.nTr)
	}
	p.pool.New = func() any {
		return &scratch{feat: make([]float32, p.maxFeatures), leaf: make([]int, p.maxTrees)}
	}
	return p, nil
}

// readTree reads one regression_tree: its splits, then its leaf vectors.
// trees is the expected number of trees in the model, for the first tree's
// reservation.
func (p *Predictor) readTree(d *reader, trees int64) error {
	at := d.offset()
	ns, err := d.count("split count", 3*minInt)
	if err != nil {
		return err
	}
	t := tree{split0: len(p.splits), nSplit: ns, leaf0: len(p.leaves)}
	for range ns {
		var s split
		for k, v := range []*uint32{&s.idx1, &s.idx2} {
			at := d.offset()
			x, err := d.uint("split feature index", 64)
			if err != nil {
				return err
			}
			// Indices are held as uint32; validity against the level's
			// feature count is checked once that count has been read.
			if x > math.MaxUint32 {
				return d.fail(at, "split feature index", fmt.Errorf("index %d (operand %d) out of range", x, k+1))
			}
			*v = uint32(x)
		}
		if s.thresh, err = d.float("split threshold"); err != nil {
			return err
		}
		p.splits = append(p.splits, s)
	}
	lat := d.offset()
	nl, err := d.count("leaf count", 2*minInt)
	if err != nil {
		return err
	}
	// Tree evaluation walks at most to node 2·nSplit, i.e. leaf nSplit; a
	// complete tree has exactly one more leaf than splits.
	if nl != ns+1 {
		return d.fail(lat, "leaf count", fmt.Errorf("%d leaves for %d splits, want splits+1 (tree at offset %d)", nl, ns, at))
	}
	if len(p.leaves) == 0 {
		// Every tree dlib trains in a model has the same size: reserve for
		// all of them at once (within what the input can hold) so the ~65 MB
		// of leaves are not copied while growing.
		perTree := int64(nl) * dims
		p.leaves = make([]float32, 0, min(trees, d.remaining()/minFloat/perTree)*perTree)
	}
	for range nl {
		n := len(p.leaves)
		p.leaves = append(p.leaves, make([]float32, dims)...)
		if _, err := d.column("leaf value", p.leaves[n:], dims); err != nil {
			return err
		}
	}
	p.trees = append(p.trees, t)
	return nil
}

// checkSplits verifies that cascade c's splits index its m feature pixels.
func (p *Predictor) checkSplits(c, m int) error {
	cs := p.cascades[c]
	for _, t := range p.trees[cs.tree0 : cs.tree0+cs.nTr] {
		for _, s := range p.splits[t.split0 : t.split0+t.nSplit] {
			if int64(s.idx1) >= int64(m) || int64(s.idx2) >= int64(m) {
				return fmt.Errorf("cascade level %d: split reads feature pixels %d and %d of %d", c, s.idx1, s.idx2, m)
			}
		}
	}
	return nil
}
