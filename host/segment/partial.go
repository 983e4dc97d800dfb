package segment

import (
	"slices"
	"strings"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/sdk/topic"
)

// A partial and the final that ends it are tied by producer, topic family
// and media time: "transcript.partial@1" and "transcript.final@1" are both
// of family "transcript@1", and both carry the utterance's start as PTS
// (sdk/transcript). The PTS is the one key the host has for every topic;
// payload fields such as an utterance number are the topic's own business.

// topicFamily returns a published topic's name without its last part, with
// its major version ("transcript@1"), and whether it is a partial. Items
// that are not published messages (no versioned topic) have no family.
func topicFamily(name string) (family string, partial bool) {
	base, major, ok := strings.Cut(name, "@")
	if !ok {
		return "", false
	}
	partial = topic.Topic{Name: base}.Coalesces()
	if i := strings.LastIndexByte(base, '.'); i >= 0 {
		base = base[:i]
	} else {
		base = ""
	}
	return base + "@" + major, partial
}

// isPartial reports whether an item is a partial a producer published: the
// latest one of an utterance that never got a final is stored as such.
func isPartial(it model.Item) bool {
	_, partial := topicFamily(it.Topic)
	return partial
}

// heldPartial returns the index of the partial that p supersedes (same
// topic and media time: the same utterance), or -1.
func heldPartial(items []model.Item, p model.Item) int {
	for i := len(items) - 1; i >= 0; i-- { // the latest items are the likely ones
		if items[i].PTS == p.PTS && items[i].Topic == p.Topic {
			return i
		}
	}
	return -1
}

// dropPartials removes the partials of family fam at pts: their final has
// arrived.
func dropPartials(items []model.Item, pts time.Duration, fam string) []model.Item {
	return slices.DeleteFunc(items, func(it model.Item) bool {
		if it.PTS != pts {
			return false
		}
		f, partial := topicFamily(it.Topic)
		return partial && f == fam
	})
}
