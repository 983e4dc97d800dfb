package segment

import "github.com/lsie-mlf/lsie/host/model"

// MergeLate adds it to items, the late items of one plugin for one closed
// segment that wait to be attached to it together, the way an open segment
// keeps published messages: a partial replaces the waiting partial of its
// utterance (same topic and media time), a final removes the waiting
// partials of its topic family at its media time, anything else is
// appended. Items already attached are not touched: a partial attached
// before its final arrived stays stored, beside it.
func MergeLate(items []model.Item, it model.Item) []model.Item {
	switch fam, partial := topicFamily(it.Topic); {
	case partial:
		if i := heldPartial(items, it); i >= 0 {
			items[i] = it
			return items
		}
	case fam != "":
		items = dropPartials(items, it.PTS, fam)
	}
	return append(items, it)
}
