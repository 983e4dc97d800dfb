package main

import (
	"slices"

	"github.com/lsie-mlf/lsie/sdk"
)

// tracker gives a line the track id of a line of the previous run when
// they overlap (IoU ≥ trackIoU) and read alike (at most a third of the
// longer text's characters differ: a scoreboard's digits may change, a
// new headline in the same place is a new track), best overlaps first;
// other lines get new ids. The host's object summaries then say how long
// a text stayed on screen (a track's first and last sighting).
type tracker struct {
	next int64
	prev []sdk.Object
}

const trackIoU = 0.3

func (t *tracker) assign(objs []sdk.Object) {
	type pair struct {
		i, j int
		iou  float64
	}
	var pairs []pair
	for i := range objs {
		for j := range t.prev {
			if ov := boxIoU(objs[i].Box, t.prev[j].Box); ov >= trackIoU && alike(objs[i].Text, t.prev[j].Text) {
				pairs = append(pairs, pair{i, j, ov})
			}
		}
	}
	slices.SortStableFunc(pairs, func(a, b pair) int {
		switch {
		case a.iou > b.iou:
			return -1
		case a.iou < b.iou:
			return 1
		}
		return 0
	})
	usedPrev := make([]bool, len(t.prev))
	for _, p := range pairs {
		if objs[p.i].TrackID != 0 || usedPrev[p.j] {
			continue
		}
		objs[p.i].TrackID = t.prev[p.j].TrackID
		usedPrev[p.j] = true
	}
	for i := range objs {
		if objs[i].TrackID == 0 {
			t.next++
			objs[i].TrackID = t.next
		}
	}
	t.prev = slices.Clone(objs)
}

func boxIoU(a, b sdk.Box) float64 {
	w := min(a.X+a.W, b.X+b.W) - max(a.X, b.X)
	h := min(a.Y+a.H, b.Y+b.H) - max(a.Y, b.Y)
	if w <= 0 || h <= 0 {
		return 0
	}
	i := w * h
	return i / (a.W*a.H + b.W*b.H - i)
}

// alike reports whether a and b differ in at most a third of the longer
// one's characters.
func alike(a, b string) bool {
	ra, rb := []rune(a), []rune(b)
	return 3*editDistance(ra, rb) <= max(len(ra), len(rb))
}

// editDistance is Levenshtein's distance between a and b.
func editDistance(a, b []rune) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
