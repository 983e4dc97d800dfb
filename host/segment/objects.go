package segment

import (
	"sort"

	"github.com/lsie-mlf/lsie/host/model"
)

// ObjectStats summarises the objects of items (in PTS order) per label and
// per track; nil when there are none. Items with an error and late items
// are left out, as from Aggregate. A track's dwell runs from its first to
// its last sighting in the segment (a track seen once dwells 0 s): what is
// known from this window alone; a track crossing windows appears in each.
func ObjectStats(items []model.Item) *model.ObjectStats {
	type trackKey struct {
		label string
		id    int64
	}
	labels := map[string]model.LabelStats{}
	scores := map[string]float64{}
	tracks := map[trackKey]*model.TrackStats{}
	for _, it := range items {
		if it.Error != "" || it.Late || len(it.Objects) == 0 {
			continue
		}
		inItem := map[string]int{}
		for _, o := range it.Objects {
			inItem[o.Label]++
			scores[o.Label] += o.Score
			if o.TrackID == 0 {
				continue
			}
			k := trackKey{o.Label, o.TrackID}
			t := tracks[k]
			if t == nil {
				t = &model.TrackStats{TrackID: o.TrackID, Label: o.Label, First: it.PTS}
				tracks[k] = t
			}
			t.Last = max(t.Last, it.PTS)
			t.First = min(t.First, it.PTS)
			t.Detections++
		}
		for label, n := range inItem {
			ls := labels[label]
			ls.Detections += n
			ls.Items++
			ls.MaxSimultaneous = max(ls.MaxSimultaneous, n)
			labels[label] = ls
		}
	}
	if len(labels) == 0 {
		return nil
	}
	out := &model.ObjectStats{Labels: labels}
	for _, t := range tracks {
		t.Dwell = (t.Last - t.First).Seconds()
		ls := labels[t.Label]
		ls.Tracks++
		labels[t.Label] = ls
		out.Tracks = append(out.Tracks, *t)
	}
	for label, ls := range labels {
		ls.MeanScore = scores[label] / float64(ls.Detections)
		labels[label] = ls
	}
	sort.Slice(out.Tracks, func(i, j int) bool {
		a, b := out.Tracks[i], out.Tracks[j]
		if a.Label != b.Label {
			return a.Label < b.Label
		}
		return a.TrackID < b.TrackID
	})
	return out
}
