package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/segment"
	"github.com/lsie-mlf/lsie/host/store/sqlite"
)

type verdict struct {
	expected, stored, missing, duplicates int
}

// verify reads the stopped host's database back and compares it with the
// contiguous UTC grid of each run and with what the host printed.
func (s *soak) verify(ctx context.Context, printed map[string]map[int64]int) (verdict, error) {
	var v verdict
	spoolDir := s.dbPath + ".spool"
	if recs, rejected := countSpool(spoolDir); recs > 0 || rejected > 0 {
		s.logf("spool: %d records still wait in %s, %d rejected (not in the database)", recs, spoolDir, rejected)
	}
	st, err := sqlite.Open(s.dbPath, nil)
	if err != nil {
		return v, err
	}
	defer st.Close()
	stored, err := st.Streams(ctx)
	if err != nil {
		return v, err
	}
	known := map[string]bool{}
	for _, x := range stored {
		known[x.ID] = true
	}
	reasons := map[string]int{}
	var statuses [2]int // complete, partial
	var framesDropped, textDropped, lateItems int
	var audioDropped float64
	for _, id := range s.ids {
		pr := printed[id]
		printedRows := 0
		for _, n := range pr {
			printedRows += n
		}
		if !known[id] {
			s.logf("stream %s: NOT IN THE STORE; the host printed %d segments", id, printedRows)
			v.expected += len(pr)
			v.missing += len(pr)
			continue
		}
		segs, err := st.Segments(ctx, id, 0, 0)
		if err != nil {
			return v, err
		}
		runs, err := st.Runs(ctx, id)
		if err != nil {
			return v, err
		}
		gaps, err := st.Gaps(ctx, id)
		if err != nil {
			return v, err
		}
		byRun := map[string]map[int64]int{} // run → index → rows
		runsOf := map[int64]map[string]bool{}
		for _, sg := range segs {
			if byRun[sg.RunID] == nil {
				byRun[sg.RunID] = map[int64]int{}
			}
			byRun[sg.RunID][sg.Index]++
			if runsOf[sg.Index] == nil {
				runsOf[sg.Index] = map[string]bool{}
			}
			runsOf[sg.Index][sg.RunID] = true
			if sg.Status == model.SegmentComplete {
				statuses[0]++
			} else {
				statuses[1]++
			}
			for _, r := range sg.Reasons {
				reasons[r]++
			}
			framesDropped += sg.FramesDropped
			for _, p := range sg.Plugins {
				audioDropped += p.AudioDroppedSeconds
				textDropped += p.TextDropped
				lateItems += p.LateItems
			}
		}
		crossRun := 0
		for _, rs := range runsOf {
			if len(rs) > 1 {
				crossRun++
			}
		}
		// Each run: the grid from its first stored index to its last.
		var grids [][2]int64 // each run's [first, last]
		streamExp, streamStored, streamMissing, streamDup := 0, 0, 0, 0
		for _, r := range runs {
			idx := byRun[r.RunID]
			ended := "open"
			if !r.EndedAt.IsZero() {
				ended = "ended " + r.EndReason
			}
			if len(idx) == 0 {
				s.logf("stream %s run %s (%s, started %s): no segments stored", id, r.RunID, ended, r.StartedAt.Format(time.TimeOnly))
				continue
			}
			keys := slices.Sorted(maps.Keys(idx))
			first, last := keys[0], keys[len(keys)-1]
			exp := int(last - first + 1)
			dup := 0
			for _, n := range idx {
				dup += n - 1
			}
			var holes []string
			for i, prev := 1, first; i < len(keys); i++ {
				if keys[i] != prev+1 {
					holes = append(holes, fmt.Sprintf("%d–%d", prev+1, keys[i]-1))
				}
				prev = keys[i]
			}
			holeText := ""
			if len(holes) > 0 {
				holeText = "  holes " + strings.Join(holes, ", ")
			}
			s.logf("stream %s run %s (%s): indexes %d–%d  expected %d stored %d missing %d duplicates %d%s",
				id, r.RunID, ended, first, last, exp, len(idx), exp-len(idx), dup, holeText)
			streamExp += exp
			streamStored += len(idx)
			streamMissing += exp - len(idx)
			streamDup += dup
			grids = append(grids, [2]int64{first, last})
		}
		for run := range byRun {
			if !slices.ContainsFunc(runs, func(r model.StreamRun) bool { return r.RunID == run }) {
				s.logf("stream %s: %d segments name run %q, which the store does not list", id, len(byRun[run]), run)
			}
		}
		// What the host printed but the store lacks, outside every run's
		// grid (the grid counted the rest already).
		var printedOnly []int64
		printedMissing := 0
		for idx := range pr {
			if runsOf[idx] == nil {
				printedMissing++
				if !slices.ContainsFunc(grids, func(g [2]int64) bool { return idx >= g[0] && idx <= g[1] }) {
					printedOnly = append(printedOnly, idx)
				}
			}
		}
		slices.Sort(printedOnly)
		streamExp += len(printedOnly)
		streamMissing += len(printedOnly)
		s.logf("stream %s: host printed %d segments (%d indexes), store has %d rows; printed but not stored %d%s; indexes in more than one run %d",
			id, printedRows, len(pr), len(segs), printedMissing, listIdx(printedOnly), crossRun)
		for _, g := range gaps {
			s.logf("stream %s gap: %s – %s (%.1fs) reason %s run %s", id, g.WallFrom.Format(time.TimeOnly), g.WallTo.Format(time.TimeOnly),
				g.WallTo.Sub(g.WallFrom).Seconds(), g.Reason, g.RunID)
		}
		if len(gaps) == 0 {
			s.logf("stream %s: no gap records", id)
		}
		v.expected += streamExp
		v.stored += streamStored
		v.missing += streamMissing
		v.duplicates += streamDup
	}
	for _, x := range stored {
		if !slices.Contains(s.ids, x.ID) {
			s.logf("stream %s: in the store but not in the config", x.ID)
		}
	}
	s.logf("segments: %d complete, %d partial; frames dropped %d, audio dropped %.1fs, text dropped %d, late items attached %d",
		statuses[0], statuses[1], framesDropped, audioDropped, textDropped, lateItems)
	for _, r := range []string{segment.ReasonPluginLost, model.ReasonPluginLag, model.ReasonDropped} {
		if _, ok := reasons[r]; !ok {
			reasons[r] = 0
		}
	}
	var parts []string
	for _, r := range slices.Sorted(maps.Keys(reasons)) {
		parts = append(parts, fmt.Sprintf("%s %d", r, reasons[r]))
	}
	s.logf("partial reasons over all segments: %s", strings.Join(parts, ", "))
	return v, nil
}

func listIdx(idx []int64) string {
	if len(idx) == 0 {
		return ""
	}
	var b []string
	for i, x := range idx {
		if i == 10 {
			b = append(b, "…")
			break
		}
		b = append(b, fmt.Sprint(x))
	}
	return " (outside the runs' grids: " + strings.Join(b, " ") + ")"
}

// countSpool counts the records left in the host's spool and its rejected/.
func countSpool(dir string) (recs, rejected int) {
	count := func(d string) int {
		n := 0
		es, _ := os.ReadDir(d)
		for _, e := range es {
			if !e.IsDir() && filepath.Ext(e.Name()) == ".rec" {
				n++
			}
		}
		return n
	}
	return count(dir), count(filepath.Join(dir, "rejected"))
}
