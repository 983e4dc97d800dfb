package paddle

import (
	"math"
	"slices"
	"strings"
)

// The detector often returns a line of large type as one box per word:
// the gaps between words are as wide as its shrunk regions' margins. A
// reader (and a rule on the text) wants the line, so horizontal boxes on
// one row whose gap is under MergeGap line heights are joined, words
// separated by a space. Column gaps (a terminal's, a scoreboard's two
// sides) are wider and stay apart.

// maxSlope is the steepest top edge (rise over run) a box may have to be
// joined: merging is for horizontal text.
const maxSlope = 0.1

// mergeLines joins lines (in reading order) that continue each other on
// one row; the result is in reading order.
func mergeLines(lines []Line, gap float64) []Line {
	if gap <= 0 || len(lines) < 2 {
		return lines
	}
	parent := make([]int, len(lines))
	for i := range parent {
		parent[i] = i
	}
	root := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	for i := range lines {
		for j := range lines {
			if i != j && continues(lines[i], lines[j], gap) {
				a, b := root(i), root(j)
				parent[max(a, b)] = min(a, b)
			}
		}
	}
	groups := map[int][]int{}
	var roots []int
	for i := range lines {
		r := root(i)
		if _, ok := groups[r]; !ok {
			roots = append(roots, r)
		}
		groups[r] = append(groups[r], i)
	}
	out := make([]Line, 0, len(roots))
	for _, r := range roots {
		g := groups[r]
		if len(g) == 1 {
			out = append(out, lines[g[0]])
			continue
		}
		slices.SortFunc(g, func(a, b int) int { return cmpF(lines[a].Quad[0].X, lines[b].Quad[0].X) })
		out = append(out, joined(lines, g))
	}
	return out
}

// horizontal reports whether l was read as it lies with a near-level top
// edge.
func horizontal(l Line) bool {
	d := l.Quad[1].sub(l.Quad[0])
	return l.Turned == 0 && d.X > 0 && math.Abs(d.Y) <= maxSlope*d.X
}

// continues reports whether b follows a on its row: both horizontal,
// heights within 1.5× of each other, overlapping vertically by half the
// smaller height, b starting after a's middle and at most gap line heights
// after a's end.
func continues(a, b Line, gap float64) bool {
	if !horizontal(a) || !horizontal(b) {
		return false
	}
	alo, ahi := a.Quad.Bounds()
	blo, bhi := b.Quad.Bounds()
	ha, hb := ahi.Y-alo.Y, bhi.Y-blo.Y
	h := min(ha, hb)
	if h <= 0 || max(ha, hb) > 1.5*h {
		return false
	}
	if min(ahi.Y, bhi.Y)-max(alo.Y, blo.Y) < h/2 {
		return false
	}
	return blo.X > (alo.X+ahi.X)/2 && blo.X-ahi.X <= gap*h
}

// joined is the lines g (left to right) as one line: the box around them,
// texts joined by spaces, confidence weighted by characters, the
// detector's score weighted by width.
func joined(lines []Line, g []int) Line {
	var texts []string
	var conf, chars, det, width float64
	lo, hi := lines[g[0]].Quad.Bounds()
	for _, i := range g {
		l := lines[i]
		texts = append(texts, l.Text)
		n := float64(len([]rune(l.Text)))
		conf += n * float64(l.Confidence)
		chars += n
		w := l.Quad.Width()
		det += w * float64(l.DetScore)
		width += w
		a, b := l.Quad.Bounds()
		lo.X, lo.Y = min(lo.X, a.X), min(lo.Y, a.Y)
		hi.X, hi.Y = max(hi.X, b.X), max(hi.Y, b.Y)
	}
	return Line{
		Quad:       Quad{lo, {hi.X, lo.Y}, hi, {lo.X, hi.Y}},
		Text:       strings.Join(texts, " "),
		Confidence: float32(conf / chars),
		DetScore:   float32(det / width),
	}
}
