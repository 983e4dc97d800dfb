// Command semantic is an lsie plugin that reads each final transcript
// utterance (topic transcript.final@1) and returns, per utterance, its
// sentiment and a semantic gate: whether it says one of the target intents
// the stream's config lists.
//
// Sentiment is VADER (package vader) with the npm vader-sentiment 1.1.3
// lexicon (vader/vader_lexicon.txt in the model folder). The gate scores the
// utterance against each intent's exemplar phrases (package gate for the
// formulas): engine "lexical" (default) by WordNet lemmas and synonyms,
// engine "encoder" by cosine similarity of a sentence encoder's embeddings
// (package encoder).
//
// The host aggregates every numeric field per segment (mean, max,
// percentiles), so per-utterance values give per-segment ones: the segment
// max of semantic_gate is 1 when any utterance in the segment passed the
// gate, its mean the share that did; the max of intent_NAME is how well
// the segment's best utterance said that intent.
//
// Attributes (the manifest's schema; `lsie-host plugins inspect` lists
// them):
//
//	intents            object: name → list of phrases (or one phrase), e.g.
//	                   { greeting = ["hello everyone", "hi there"] }; none: no gate fields
//	gate_threshold     0..1, default 0.5: semantic_gate = gate_score >= it
//	engine             "lexical" (default) or "encoder"
//	encoder_model      ONNX sentence encoder (engine "encoder"; relative to the model folder)
//	encoder_vocab      its WordPiece vocab.txt
//	encoder_max_tokens tokens per utterance including [CLS]/[SEP], default 128
//	max_words          words of an utterance scored, default 512 (and 16 KiB)
//	wordnet_dir        WordNet 3.0 database, default /usr/share/wordnet
//	model_dir          model folder (else $LSIE_PLUGIN_MODEL_DIR, else var/models)
//	ort_library, execution_provider: see plugins/internal/onnx
//
// Bad input is data, not an error: empty text scores neutral with the gate
// closed (text_empty = 1); text past max_words is cut (text_truncated = 1);
// a payload that is not JSON is flagged (payload_invalid = 1) and the
// message's text is scored anyway; text in another language mostly finds
// neither lexicon words nor intents, so it scores neutral with the gate
// closed.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	plugattrs "github.com/lsie-mlf/lsie/plugins/internal/attrs"
	"github.com/lsie-mlf/lsie/plugins/internal/models"
	"github.com/lsie-mlf/lsie/plugins/internal/onnx"
	"github.com/lsie-mlf/lsie/plugins/semantic/encoder"
	"github.com/lsie-mlf/lsie/plugins/semantic/gate"
	"github.com/lsie-mlf/lsie/plugins/semantic/vader"
	"github.com/lsie-mlf/lsie/plugins/semantic/wordnet"
	"github.com/lsie-mlf/lsie/sdk"
	"github.com/lsie-mlf/lsie/sdk/transcript"
)

// version is this plugin's own semver.
const version = "0.1.0"

const (
	defaultThreshold = 0.5
	defaultMaxWords  = 512
	// maxTextBytes bounds an utterance without spaces as max_words cannot.
	maxTextBytes = 16 << 10
)

func main() { sdk.Serve(plugin{}) }

type plugin struct{}

func (plugin) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Name:        "semantic",
		Version:     version,
		Description: "per final utterance: VADER sentiment and a semantic gate against the configured intents (WordNet lexical or sentence encoder)",
		Inputs:      []string{transcript.TopicFinal},
		Outputs:     []string{},
		Fields: []sdk.Field{
			{Name: "sentiment_compound", Unit: "-1..1", Description: "VADER compound score: normalised sum of the rule-adjusted valences; >= 0.05 positive, <= -0.05 negative"},
			{Name: "sentiment_pos", Unit: "0..1", Description: "share of the utterance's valence that is positive"},
			{Name: "sentiment_neu", Unit: "0..1", Description: "share that is neutral (tokens without valence); 0 for empty text"},
			{Name: "sentiment_neg", Unit: "0..1", Description: "share that is negative"},
			{Name: "semantic_gate", Unit: "0|1", Description: "1 when gate_score >= gate_threshold (and > 0); segment max: any utterance in the segment passed (only with intents)"},
			{Name: "gate_score", Unit: "0..1", Description: "best intent's score (lexical: share of an exemplar's words the utterance says; encoder: cosine similarity)"},
			{Name: "gate_intent", Unit: "index", Description: "the best intent's index among the intents sorted by name; -1 when no intent scores above 0"},
			{Name: "intent_NAME", Unit: "0..1", Description: "one field per configured intent NAME: that intent's score"},
			{Name: "text_empty", Unit: "0|1", Description: "1 when the utterance has no words"},
			{Name: "text_truncated", Unit: "0|1", Description: "1 when only the first max_words words (16 KiB; encoder_max_tokens for the encoder) were scored"},
			{Name: "payload_invalid", Unit: "0|1", Description: "1 when the message's payload is not a transcript JSON payload (its text is scored anyway)"},
		},
		Attributes: plugattrs.Join(attributes(), models.Attributes(), onnx.Attributes()),
	}
}

// attributes are the plugin's own attributes.
func attributes() []sdk.Attribute {
	return []sdk.Attribute{
		{Name: "intents", Type: sdk.AttrObject,
			Description: `target intents: name → list of exemplar phrases (or one phrase), e.g. { greeting = ["hello everyone", "hi there"] }; ` +
				fmt.Sprintf("at most %d intents, %d phrases; none: no gate fields", gate.MaxIntents, gate.MaxPhrases)},
		{Name: "gate_threshold", Type: sdk.AttrNumber, Default: fmt.Sprint(defaultThreshold), Min: "0", Max: "1",
			Description: "semantic_gate is 1 when gate_score is at least this (and above 0)"},
		{Name: "engine", Type: sdk.AttrEnum, Choices: []string{"lexical", "encoder"}, Default: "lexical",
			Description: "the gate's scorer: lexical (WordNet lemmas and synonyms) or encoder (a sentence encoder's cosine similarity)"},
		{Name: "encoder_model", Type: sdk.AttrString, Description: "engine encoder: the sentence-embedding ONNX file (relative: in the model folder)"},
		{Name: "encoder_vocab", Type: sdk.AttrString, Description: "engine encoder: its WordPiece vocab.txt (relative: in the model folder)"},
		{Name: "encoder_max_tokens", Type: sdk.AttrInteger, Default: fmt.Sprint(encoder.DefaultMaxTokens), Min: "3", Max: "4096",
			Description: "engine encoder: tokens per utterance, [CLS] and [SEP] included"},
		{Name: "max_words", Type: sdk.AttrInteger, Default: fmt.Sprint(defaultMaxWords), Min: "1", Max: "100000",
			Description: "words of an utterance scored (and at most 16 KiB); the rest is cut, text_truncated = 1"},
		{Name: "wordnet_dir", Type: sdk.AttrString, Default: wordnet.DefaultDir, Description: "engine lexical: the WordNet 3.0 database folder (Debian's wordnet-base)"},
	}
}

// config is a stream's parsed attributes.
type config struct {
	intents   []gate.Intent
	threshold float64
	engine    string
	maxWords  int
	maxTokens int
}

// parseConfig reads the plugin's own attributes (the schema checked their
// types and ranges and filled in their defaults) and the intents' phrases.
func parseConfig(a sdk.Attrs) (config, error) {
	c := config{threshold: a.Float("gate_threshold"), engine: a.String("engine"), maxWords: a.Int("max_words"), maxTokens: a.Int("encoder_max_tokens")}
	var err error
	if c.intents, err = gate.ParseIntents(a.String("intents")); err != nil {
		return c, err
	}
	if c.engine != "lexical" && c.engine != "encoder" {
		return c, fmt.Errorf("engine %q: want \"lexical\" or \"encoder\"", c.engine)
	}
	return c, nil
}

func (plugin) OpenStream(info sdk.StreamInfo) (sdk.Stream, error) {
	attrs := info.Attributes // the model packages' settings, as text
	cfg, err := parseConfig(info.Attrs)
	if err != nil {
		return nil, sdk.Errorf("bad_input", "%v", err)
	}
	lexPath, err := models.File(attrs, "VADER lexicon", "vader/vader_lexicon.txt")
	if err != nil {
		return nil, sdk.Errorf("model_error", "%v", err)
	}
	an, err := sharedAnalyzer(lexPath)
	if err != nil {
		return nil, sdk.Errorf("model_error", "%v", err)
	}
	s := &stream{cfg: cfg, sentiment: an}
	if len(cfg.intents) == 0 {
		return s, nil
	}
	switch cfg.engine {
	case "lexical":
		wn, err := loadWordNet(attrs)
		if err != nil {
			return nil, sdk.Errorf("model_error", "%v", err)
		}
		if s.gate, err = gate.NewLexical(wn, cfg.intents); err != nil {
			return nil, sdk.Errorf("bad_input", "%v", err)
		}
	case "encoder":
		m, err := openEncoder(attrs, cfg.maxTokens)
		if err != nil {
			return nil, sdk.Errorf("model_error", "%v", err)
		}
		if s.gate, err = gate.NewEncoder(m, cfg.intents); err != nil {
			m.Close()
			return nil, sdk.Errorf("model_error", "%v", err)
		}
		s.enc = m
	}
	names := make([]string, len(cfg.intents))
	for i, in := range cfg.intents {
		names[i] = in.Name
	}
	sdk.Logger().Info("semantic gate", "stream", info.ID, "engine", cfg.engine, "threshold", cfg.threshold, "intents", strings.Join(names, ","))
	return s, nil
}

var (
	analyzersMu sync.Mutex
	analyzers   = map[string]*vader.Analyzer{}
)

// sharedAnalyzer loads a lexicon once per process: every stream shares it.
func sharedAnalyzer(path string) (*vader.Analyzer, error) {
	analyzersMu.Lock()
	defer analyzersMu.Unlock()
	if a := analyzers[path]; a != nil {
		return a, nil
	}
	lex, err := vader.LoadLexicon(path)
	if err != nil {
		return nil, err
	}
	a := vader.New(lex)
	analyzers[path] = a
	return a, nil
}

func loadWordNet(attrs map[string]string) (*wordnet.WordNet, error) {
	dir := attrs["wordnet_dir"]
	if dir == "" {
		dir = wordnet.DefaultDir
	}
	wn, err := wordnet.Shared(dir)
	var mf *wordnet.MissingFileError
	if errors.As(err, &mf) {
		return nil, &models.MissingError{What: "WordNet 3.0 database file", Path: mf.Path,
			Hint: "install Debian's wordnet-base (scripts/setup.sh), or set wordnet_dir to the folder holding index.noun"}
	}
	return wn, err
}

// openEncoder resolves and requires the encoder's two files; a relative
// path is inside the model folder.
func openEncoder(attrs map[string]string, maxTokens int) (*encoder.Model, error) {
	paths := [2]string{}
	for i, f := range []struct{ key, what, hint string }{
		{"encoder_model", "sentence encoder model (encoder_model)", "set encoder_model to a BERT-style sentence-embedding ONNX file"},
		{"encoder_vocab", "sentence encoder vocabulary (encoder_vocab)", "set encoder_vocab to the model's WordPiece vocab.txt"},
	} {
		p := attrs[f.key]
		if p == "" {
			return nil, fmt.Errorf("engine \"encoder\" needs %s: %s", f.key, f.hint)
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(models.Dir(attrs), p)
		}
		var err error
		if paths[i], err = models.Require(f.what, p, f.hint); err != nil {
			return nil, err
		}
	}
	return encoder.Open(paths[0], paths[1], attrs, maxTokens)
}

// stream is one stream's scorers.
type stream struct {
	cfg       config
	sentiment *vader.Analyzer
	gate      gate.Scorer    // nil without intents
	enc       *encoder.Model // engine "encoder": owned by the stream
}

// gateResult is the answer's payload when the stream has intents.
type gateResult struct {
	// Intent is the best-scoring intent, "" when none scored above 0.
	Intent string             `json:"intent"`
	Score  float64            `json:"score"`
	Passed bool               `json:"passed"`
	Scores map[string]float64 `json:"scores"`
}

// ProcessMessage answers with the fields, the matched intent as text (only
// when the gate passed) and the gate's scores as payload.
func (s *stream) ProcessMessage(m *sdk.Message) (sdk.Answer, error) {
	if m.Topic != transcript.TopicFinal {
		return sdk.Answer{}, sdk.Errorf("bad_input", "topic %q: semantic consumes %s", m.Topic, transcript.TopicFinal)
	}
	f := sdk.Fields{"payload_invalid": 0}
	text := m.Text
	if len(m.Payload) > 0 {
		p, err := transcript.Parse(m.Payload)
		if err != nil {
			f["payload_invalid"] = 1
		} else if strings.TrimSpace(text) == "" {
			text = p.Text
		}
	}
	text, truncated := capText(text, s.cfg.maxWords, maxTextBytes)
	f["text_empty"] = b2f(strings.IndexFunc(text, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) < 0)

	sc := s.sentiment.Score(text)
	f["sentiment_compound"], f["sentiment_pos"], f["sentiment_neu"], f["sentiment_neg"] = sc.Compound, sc.Pos, sc.Neu, sc.Neg

	if s.gate != nil {
		g, err := s.gate.Score(text)
		if err != nil {
			return sdk.Answer{}, sdk.Errorf("model_error", "%v", err)
		}
		if s.enc != nil && s.enc.Truncated {
			truncated = true
		}
		f["gate_score"] = g.Score
		f["gate_intent"] = float64(g.Intent)
		passed := g.Score >= s.cfg.threshold && g.Score > 0
		f["semantic_gate"] = b2f(passed)
		res := gateResult{Score: g.Score, Passed: passed, Scores: make(map[string]float64, len(s.cfg.intents))}
		for i, in := range s.cfg.intents {
			f["intent_"+in.Name] = g.Intents[i]
			res.Scores[in.Name] = g.Intents[i]
		}
		if g.Intent >= 0 {
			res.Intent = s.cfg.intents[g.Intent].Name
		}
		f["text_truncated"] = b2f(truncated)
		b, err := json.Marshal(res)
		if err != nil {
			return sdk.Answer{}, err
		}
		a := sdk.Answer{Fields: f, Payload: b}
		if passed {
			a.Text = res.Intent
		}
		return a, nil
	}
	f["text_truncated"] = b2f(truncated)
	return sdk.Answer{Fields: f}, nil
}

// capText keeps text's first maxWords white-space separated words and at
// most maxBytes bytes (whole characters), and makes it valid UTF-8.
func capText(text string, maxWords, maxBytes int) (string, bool) {
	cut := false
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, " ")
	}
	if len(text) > maxBytes {
		n := maxBytes
		for n > 0 && !utf8.RuneStart(text[n]) {
			n--
		}
		text, cut = text[:n], true
	}
	words, inWord := 0, false
	for i, r := range text {
		space := unicode.IsSpace(r)
		if !space && !inWord {
			if words == maxWords {
				return text[:i], true
			}
			words++
		}
		inWord = !space
	}
	return text, cut
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (s *stream) Close() error {
	if s.enc != nil {
		return s.enc.Close()
	}
	return nil
}
