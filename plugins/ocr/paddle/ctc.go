package paddle

import (
	"fmt"
	"os"
	"strings"
)

// Dictionary is the recognition model's alphabet: class 0 is CTC's blank,
// class i (1..) the dictionary file's line i, and the last class a space
// (PaddleOCR's use_space_char).
type Dictionary []string

// LoadDictionary reads a PaddleOCR character list, one character a line.
func LoadDictionary(path string) (Dictionary, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := strings.TrimSuffix(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
	if s == "" {
		return nil, fmt.Errorf("dictionary %s is empty", path)
	}
	return append(Dictionary{""}, append(strings.Split(s, "\n"), " ")...), nil
}

// Classes is the number of model outputs the dictionary explains.
func (d Dictionary) Classes() int { return len(d) }

// decode is CTC's greedy decoding of one line: the best class per time
// step, repeats merged, blanks dropped. probs holds steps×classes softmax
// outputs. The confidence is the mean probability of the kept steps (0
// for an empty line), as PaddleOCR scores a line.
//
// With spaceThresh > 0 a space is also put between two characters when,
// on a blank step between them, the space class reached spaceThresh: the
// model (trained mostly on Chinese, which has none) often marks a word
// gap with a space probability of 0.2–0.5 under a winning blank, and
// within words with less than 0.1 (docs/OCR.md).
func (d Dictionary) decode(probs []float32, steps, classes int, spaceThresh float32) (string, float32) {
	var b strings.Builder
	var sum float32
	kept := 0
	prev := -1
	space := len(d) - 1
	var gap float32 // the most probable space since the last character
	last := -1      // the last character's class
	for t := 0; t < steps; t++ {
		row := probs[t*classes : (t+1)*classes]
		best := 0
		for c, p := range row {
			if p > row[best] {
				best = c
			}
		}
		switch {
		case best == 0:
			if space < classes {
				gap = max(gap, row[space])
			}
		case best != prev && best < len(d):
			if spaceThresh > 0 && gap >= spaceThresh && last > 0 && last != space && best != space {
				b.WriteByte(' ')
			}
			b.WriteString(d[best])
			sum += row[best]
			kept++
			last, gap = best, 0
		}
		prev = best
	}
	if kept == 0 {
		return "", 0
	}
	return b.String(), sum / float32(kept)
}
