package enrich

import (
	"context"
	"encoding/json"
	"math"
	"sort"
	"strings"
	"unicode"

	"github.com/lsie-mlf/lsie/host/model"
)

// TopicFinal is the topic of a finished utterance (sdk/transcript.TopicFinal;
// the host does not import the SDK).
const TopicFinal = "transcript.final@1"

// Job kinds of the built-in jobs.
const (
	KindKeywords = "keywords"
	KindLanguage = "language"
	KindStats    = "stats"
)

// MaxKeywords is the most keywords the Keywords job reports.
const MaxKeywords = 10

// minLanguageWords: below this many words a language guess is noise.
const minLanguageWords = 3

// DefaultJobs returns the built-in jobs: Keywords, Language and Stats.
func DefaultJobs() []Job {
	return []Job{Keywords(), Language(), Stats()}
}

// finals returns the segment's transcript finals from every plugin, in
// plugin-name then item order (deterministic whatever the map order).
func finals(seg model.Segment) []model.Item {
	names := make([]string, 0, len(seg.Plugins))
	for n := range seg.Plugins {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []model.Item
	for _, n := range names {
		for _, it := range seg.Plugins[n].Items {
			if it.Topic == TopicFinal {
				out = append(out, it)
			}
		}
	}
	return out
}

// words splits text into lower-case words: runs of letters, digits and
// inner apostrophes (so "don't" stays one word); typographic apostrophes
// count as "'".
func words(text string) []string {
	text = strings.ToLower(strings.ReplaceAll(text, "\u2019", "'"))
	fs := strings.FieldsFunc(text, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\''
	})
	out := fs[:0]
	for _, f := range fs {
		if f = strings.Trim(f, "'"); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func finalWords(seg model.Segment) []string {
	var out []string
	for _, it := range finals(seg) {
		out = append(out, words(it.Text)...)
	}
	return out
}

// KeywordCount is one entry of the Keywords result.
type KeywordCount struct {
	Word  string `json:"word"`
	Count int    `json:"count"`
}

// KeywordsResult is the Keywords job's result.
type KeywordsResult struct {
	Keywords []KeywordCount `json:"keywords"`
}

// Keywords counts the words of the segment's transcript finals, leaving out
// English stopwords, words of one character and numbers, and reports the
// MaxKeywords most frequent (ties in alphabetical order).
func Keywords() Job {
	return Job{Kind: KindKeywords, Run: func(_ context.Context, seg model.Segment) (json.RawMessage, error) {
		return json.Marshal(keywords(finalWords(seg)))
	}}
}

func keywords(ws []string) KeywordsResult {
	counts := map[string]int{}
	for _, w := range ws {
		if len([]rune(w)) < 2 || isNumber(w) || stopEN[w] {
			continue
		}
		counts[w]++
	}
	res := KeywordsResult{Keywords: make([]KeywordCount, 0, len(counts))}
	for w, c := range counts {
		res.Keywords = append(res.Keywords, KeywordCount{Word: w, Count: c})
	}
	sort.Slice(res.Keywords, func(i, j int) bool {
		a, b := res.Keywords[i], res.Keywords[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Word < b.Word
	})
	if len(res.Keywords) > MaxKeywords {
		res.Keywords = res.Keywords[:MaxKeywords]
	}
	return res
}

func isNumber(w string) bool {
	for _, r := range w {
		if !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// LanguageResult is the Language job's result.
type LanguageResult struct {
	// Language is an ISO 639-1 code, or "und" (undetermined).
	Language   string  `json:"language"`
	Confidence float64 `json:"confidence"`
}

// Language guesses the language of the segment's transcript finals from
// stopword profiles (docs/ANALYTICS.md).
func Language() Job {
	return Job{Kind: KindLanguage, Run: func(_ context.Context, seg model.Segment) (json.RawMessage, error) {
		return json.Marshal(detectLanguage(finalWords(seg)))
	}}
}

// detectLanguage scores each language by how many tokens are among its
// stopwords (words split at apostrophes, so French "c'est" gives "c" and
// "est"). The best language wins with confidence = its score / the sum of
// all scores; "und" with confidence 0 for fewer than 3 words, no stopword
// at all, or a tie for the best.
func detectLanguage(ws []string) LanguageResult {
	und := LanguageResult{Language: "und"}
	if len(ws) < minLanguageWords {
		return und
	}
	scores := make([]int, len(languages))
	for _, w := range ws {
		for _, part := range strings.Split(w, "'") {
			if part == "" {
				continue
			}
			for i, l := range languages {
				if l.stop[part] {
					scores[i]++
				}
			}
		}
	}
	best, total, tie := 0, 0, false
	for i, s := range scores {
		total += s
		switch {
		case s > scores[best]:
			best, tie = i, false
		case i != best && s == scores[best]:
			tie = true
		}
	}
	if total == 0 || tie {
		return und
	}
	return LanguageResult{Language: languages[best].code, Confidence: round(float64(scores[best])/float64(total), 3)}
}

// StatsResult is the Stats job's result.
type StatsResult struct {
	Utterances int `json:"utterances"`
	Words      int `json:"words"`
	// SpeechSeconds sums the finals' durations (s).
	SpeechSeconds float64 `json:"speech_seconds"`
	// WordsPerMinute is Words per minute of speech; nil without speech.
	WordsPerMinute *float64 `json:"words_per_minute"`
	// Telemetry counts the segment's telemetry events by kind.
	Telemetry map[string]int `json:"telemetry"`
	// SegmentSeconds is the window's media duration (s).
	SegmentSeconds float64 `json:"segment_seconds"`
}

// Stats summarises the segment's speech and telemetry.
func Stats() Job {
	return Job{Kind: KindStats, Run: func(_ context.Context, seg model.Segment) (json.RawMessage, error) {
		return json.Marshal(stats(seg))
	}}
}

func stats(seg model.Segment) StatsResult {
	res := StatsResult{Telemetry: map[string]int{}, SegmentSeconds: (seg.MediaEnd - seg.MediaStart).Seconds()}
	for _, it := range finals(seg) {
		res.Utterances++
		res.Words += len(words(it.Text))
		res.SpeechSeconds += it.Duration.Seconds()
	}
	res.SpeechSeconds = round(res.SpeechSeconds, 3)
	if res.SpeechSeconds > 0 {
		wpm := round(float64(res.Words)/res.SpeechSeconds*60, 2)
		res.WordsPerMinute = &wpm
	}
	for _, ev := range seg.Telemetry {
		res.Telemetry[string(ev.Kind)]++
	}
	return res
}

// round keeps results short and stable in JSON.
func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}
