// Package sphinx is the transcription plugin's default engine: CMU
// PocketSphinx (the 5prealpha library Debian ships) through cgo, with the
// pocketsphinx-en-us acoustic model, language model and dictionary.
//
// The plugin's VAD cuts the utterances, so PocketSphinx's own silence
// removal is off (it would drop frames and shift word times); each
// utterance arrives with some padding and is decoded live, the partial
// hypothesis read from the forward search and the final one from the
// lattice's best path, whose posteriors are the word confidences. Fed in
// blocks, the library normalises cepstra with a running mean carried from
// utterance to utterance; final_pass = "batch" re-decodes each utterance
// whole for its final instead (measured in cmd/asr-bench: better on the
// espeak voice, worse on festival's, twice the cost).
package sphinx

/*
#cgo pkg-config: pocketsphinx
#include <stdlib.h>
#include <pocketsphinx.h>
#include <sphinxbase/err.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/lsie-mlf/lsie/plugins/internal/models"
	"github.com/lsie-mlf/lsie/plugins/transcription/engine"
	"github.com/lsie-mlf/lsie/sdk"
)

// ModelDir is where Debian's pocketsphinx-en-us puts the model.
const ModelDir = "/usr/share/pocketsphinx/model/en-us"

// installHint is how to get the default model files.
const installHint = "install Debian's pocketsphinx-en-us, or set hmm / lm / dict to the files"

// Passthrough are the plugin attributes handed to PocketSphinx as
// "-name value"; the library checks the values.
var Passthrough = []string{
	"lw", "beam", "wbeam", "pbeam", "lpbeam", "lponlybeam", "fwdflat", "bestpath", "fwdflatlw", "bestpathlw",
	"fwdflatbeam", "fwdflatwbeam", "fwdtree", "wip", "pip", "silprob", "fillprob", "maxhmmpf", "maxwpf", "ds", "topn", "pl_window",
}

// passthroughSpecs types the Passthrough settings as the library declares
// them (cmdln_macro.h: float, boolean or int32); unset, the library's
// default (given in the description) holds.
var passthroughSpecs = map[string]sdk.Attribute{
	"lw":           {Type: sdk.AttrNumber, Min: "0", Description: "language model probability weight (library default 6.5)"},
	"beam":         {Type: sdk.AttrNumber, Min: "0", Max: "1", Description: "beam width applied to every frame in Viterbi search; smaller is wider (library default 1e-48)"},
	"wbeam":        {Type: sdk.AttrNumber, Min: "0", Max: "1", Description: "beam width applied to word exits (library default 7e-29)"},
	"pbeam":        {Type: sdk.AttrNumber, Min: "0", Max: "1", Description: "beam width applied to phone transitions (library default 1e-48)"},
	"lpbeam":       {Type: sdk.AttrNumber, Min: "0", Max: "1", Description: "beam width applied to the last phone in words (library default 1e-40)"},
	"lponlybeam":   {Type: sdk.AttrNumber, Min: "0", Max: "1", Description: "beam width applied to the last phone in single-phone words (library default 7e-29)"},
	"fwdflat":      {Type: sdk.AttrEnum, Choices: booleans, Description: "run the flat-lexicon search over the word lattice, the 2nd pass (library default yes)"},
	"bestpath":     {Type: sdk.AttrEnum, Choices: booleans, Description: "run the bestpath (Dijkstra) search over the word lattice, the 3rd pass (library default yes)"},
	"fwdflatlw":    {Type: sdk.AttrNumber, Min: "0", Description: "language model weight of the flat-lexicon pass (library default 8.5)"},
	"bestpathlw":   {Type: sdk.AttrNumber, Min: "0", Description: "language model weight of the bestpath search (library default 9.5)"},
	"fwdflatbeam":  {Type: sdk.AttrNumber, Min: "0", Max: "1", Description: "beam width applied to every frame in the flat-lexicon pass (library default 1e-64)"},
	"fwdflatwbeam": {Type: sdk.AttrNumber, Min: "0", Max: "1", Description: "beam width applied to word exits in the flat-lexicon pass (library default 7e-29)"},
	"fwdtree":      {Type: sdk.AttrEnum, Choices: booleans, Description: "run the lexicon-tree search, the 1st pass (library default yes)"},
	"wip":          {Type: sdk.AttrNumber, Min: "0", Description: "word insertion penalty (library default 0.65)"},
	"pip":          {Type: sdk.AttrNumber, Min: "0", Description: "phone insertion penalty (library default 1.0)"},
	"silprob":      {Type: sdk.AttrNumber, Min: "0", Max: "1", Description: "silence word transition probability (library default 0.005)"},
	"fillprob":     {Type: sdk.AttrNumber, Min: "0", Max: "1", Description: "filler word transition probability (library default 1e-8)"},
	"maxhmmpf":     {Type: sdk.AttrInteger, Min: "-1", Description: "most active HMMs kept per frame, -1 for no pruning (library default 30000)"},
	"maxwpf":       {Type: sdk.AttrInteger, Min: "-1", Description: "most distinct word exits per frame, -1 for no pruning (library default -1)"},
	"ds":           {Type: sdk.AttrInteger, Min: "1", Description: "frame GMM computation downsampling ratio (library default 1)"},
	"topn":         {Type: sdk.AttrInteger, Min: "1", Description: "most top Gaussians used in scoring (library default 4)"},
	"pl_window":    {Type: sdk.AttrInteger, Min: "0", Description: "phoneme lookahead window, in frames (library default 5)"},
}

// booleans are the values the library reads as a boolean setting.
var booleans = []string{"yes", "no", "true", "false"}

// Attributes declares what New reads: hmm, lm, dict, final_pass and the
// Passthrough settings.
func Attributes() []sdk.Attribute {
	out := []sdk.Attribute{
		{Name: "hmm", Type: sdk.AttrString, Default: filepath.Join(ModelDir, "en-us"), Description: "sphinx: the acoustic model folder (Debian's pocketsphinx-en-us)"},
		{Name: "lm", Type: sdk.AttrString, Default: filepath.Join(ModelDir, "en-us.lm.bin"), Description: "sphinx: the language model"},
		{Name: "dict", Type: sdk.AttrString, Default: filepath.Join(ModelDir, "cmudict-en-us.dict"), Description: "sphinx: the pronunciation dictionary"},
		{Name: "final_pass", Type: sdk.AttrEnum, Choices: []string{"live", "batch"}, Default: "live",
			Description: "sphinx: live keeps the live decode's final; batch re-decodes each utterance whole for it (twice the cost)"},
	}
	for _, k := range Passthrough {
		a := passthroughSpecs[k]
		a.Name, a.Description = k, "sphinx: "+a.Description
		out = append(out, a)
	}
	return out
}

// Recognizer is one PocketSphinx decoder.
type Recognizer struct {
	ps      *C.ps_decoder_t
	lmath   *C.logmath_t
	started bool
	frames  int // frames per second (-frate)
	// batch re-decodes each utterance whole for its final (attribute
	// final_pass = "batch"): the model was trained with cepstral mean
	// normalisation over whole utterances, which live decoding can only
	// approximate with a running mean.
	batch bool
	utt   []int16 // the utterance's samples, kept for the batch pass
}

// New opens a decoder from the plugin block's attributes: hmm (acoustic
// model folder), lm, dict, and the Passthrough settings.
func New(attrs map[string]string) (*Recognizer, error) {
	hmm := attrs["hmm"]
	if hmm == "" {
		hmm = filepath.Join(ModelDir, "en-us")
	}
	lm := attrs["lm"]
	if lm == "" {
		lm = filepath.Join(ModelDir, "en-us.lm.bin")
	}
	dict := attrs["dict"]
	if dict == "" {
		dict = filepath.Join(ModelDir, "cmudict-en-us.dict")
	}
	// The acoustic model is a folder; mdef is the file every one has.
	if _, err := models.Require("PocketSphinx acoustic model (hmm)", filepath.Join(hmm, "mdef"), installHint); err != nil {
		return nil, err
	}
	if _, err := models.Require("PocketSphinx language model (lm)", lm, installHint); err != nil {
		return nil, err
	}
	if _, err := models.Require("PocketSphinx dictionary (dict)", dict, installHint); err != nil {
		return nil, err
	}
	args := []string{"-hmm", hmm, "-lm", lm, "-dict", dict,
		"-remove_silence", "no", // the plugin's VAD cut the utterance
	}
	for _, k := range Passthrough {
		if v, ok := attrs[k]; ok {
			if err := checkValue(k, v); err != nil {
				return nil, err
			}
			args = append(args, "-"+k, v)
		}
	}
	r, err := open(args)
	if err != nil {
		return nil, err
	}
	switch fp := attrs["final_pass"]; fp {
	case "", "live":
	case "batch":
		r.batch = true
	default:
		r.Close()
		return nil, fmt.Errorf("final_pass = %q: want live or batch", fp)
	}
	return r, nil
}

// checkValue refuses what the library would silently read as 0 or no.
func checkValue(k, v string) error {
	switch k {
	case "fwdflat", "bestpath", "fwdtree":
		if v != "yes" && v != "no" && v != "true" && v != "false" {
			return fmt.Errorf("%s = %q: want yes or no", k, v)
		}
	default:
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return fmt.Errorf("%s = %q: not a number", k, v)
		}
	}
	return nil
}

// NewEngine is New as an engine.Recognizer.
func NewEngine(attrs map[string]string) (engine.Recognizer, error) {
	r, err := New(attrs)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// quiet silences the library's logging, process-wide: it writes pages of
// settings and per-utterance statistics to stderr, which the host would
// relay line by line. Failures come back as return values here.
var quiet sync.Once

func open(args []string) (*Recognizer, error) {
	quiet.Do(func() { C.err_set_logfp(nil) })
	argv := make([]*C.char, len(args))
	for i, a := range args {
		argv[i] = C.CString(a)
	}
	defer func() {
		for _, p := range argv {
			C.free(unsafe.Pointer(p))
		}
	}()
	// cmd_ln_parse_r copies the strings; strict, so a misspelt value
	// fails here rather than being ignored.
	config := C.cmd_ln_parse_r(nil, C.ps_args(), C.int32(len(argv)), (**C.char)(unsafe.Pointer(&argv[0])), C.TRUE)
	if config == nil {
		return nil, fmt.Errorf("pocketsphinx: bad settings %s", strings.Join(args[8:], " "))
	}
	ps := C.ps_init(config)
	C.cmd_ln_free_r(config) // the decoder holds its own reference
	if ps == nil {
		return nil, fmt.Errorf("pocketsphinx: cannot load the model (%s)", strings.Join(args[:6], " "))
	}
	return &Recognizer{ps: ps, lmath: C.ps_get_logmath(ps), frames: 100}, nil
}

// Begin starts an utterance.
func (r *Recognizer) Begin() error {
	if r.ps == nil {
		return errors.New("pocketsphinx: decoder closed")
	}
	if r.started {
		C.ps_end_utt(r.ps)
	}
	if C.ps_start_utt(r.ps) < 0 {
		return errors.New("pocketsphinx: cannot start an utterance")
	}
	r.started = true
	r.utt = r.utt[:0]
	return nil
}

// Accept decodes more of the utterance.
func (r *Recognizer) Accept(pcm []int16) error {
	if !r.started {
		return errors.New("pocketsphinx: Accept outside an utterance")
	}
	if len(pcm) == 0 {
		return nil
	}
	if r.batch {
		r.utt = append(r.utt, pcm...)
	}
	// The samples are plain data, so C may read the Go slice for the call.
	if C.ps_process_raw(r.ps, (*C.int16)(unsafe.Pointer(&pcm[0])), C.size_t(len(pcm)), C.FALSE, C.FALSE) < 0 {
		return errors.New("pocketsphinx: decoding failed")
	}
	return nil
}

// Partial returns the forward search's best path so far. PocketSphinx
// computes posteriors only at the utterance's end, so partial words carry
// confidence 0 (unknown).
func (r *Recognizer) Partial() (engine.Hypothesis, error) {
	if !r.started {
		return engine.Hypothesis{}, errors.New("pocketsphinx: Partial outside an utterance")
	}
	return r.hypothesis(false), nil
}

// End finishes the utterance and returns the best path with posteriors.
func (r *Recognizer) End() (engine.Hypothesis, error) {
	if !r.started {
		return engine.Hypothesis{}, errors.New("pocketsphinx: End outside an utterance")
	}
	r.started = false
	if C.ps_end_utt(r.ps) < 0 {
		return engine.Hypothesis{}, errors.New("pocketsphinx: cannot end the utterance")
	}
	if r.batch && len(r.utt) > 0 {
		if C.ps_start_utt(r.ps) < 0 {
			return engine.Hypothesis{}, errors.New("pocketsphinx: cannot start the batch pass")
		}
		rc := C.ps_process_raw(r.ps, (*C.int16)(unsafe.Pointer(&r.utt[0])), C.size_t(len(r.utt)), C.FALSE, C.TRUE)
		if C.ps_end_utt(r.ps) < 0 || rc < 0 {
			return engine.Hypothesis{}, errors.New("pocketsphinx: batch pass failed")
		}
	}
	return r.hypothesis(true), nil
}

func (r *Recognizer) hypothesis(final bool) engine.Hypothesis {
	var h engine.Hypothesis
	frame := time.Second / time.Duration(r.frames)
	for seg := C.ps_seg_iter(r.ps); seg != nil; seg = C.ps_seg_next(seg) {
		w := C.GoString(C.ps_seg_word(seg))
		if filler(w) {
			continue
		}
		// "the(2)" is the dictionary's second pronunciation of "the".
		if i := strings.IndexByte(w, '('); i > 0 && strings.HasSuffix(w, ")") {
			w = w[:i]
		}
		var sf, ef C.int
		C.ps_seg_frames(seg, &sf, &ef)
		var conf float64
		if final {
			var ascr, lscr, lback C.int32
			conf = float64(C.logmath_exp(r.lmath, C.ps_seg_prob(seg, &ascr, &lscr, &lback)))
			conf = min(max(conf, 0), 1)
		}
		h.Words = append(h.Words, engine.Word{Text: w, Start: time.Duration(sf) * frame, End: time.Duration(ef+1) * frame, Confidence: conf})
	}
	texts := make([]string, len(h.Words))
	for i, w := range h.Words {
		texts[i] = w.Text
	}
	h.Text = strings.Join(texts, " ")
	return h
}

// filler tells silences and noises (<s>, <sil>, [NOISE], ++UM++) from
// words.
func filler(w string) bool {
	return w == "" || strings.ContainsAny(w[:1], "<[+")
}

// Close frees the decoder.
func (r *Recognizer) Close() error {
	if r.ps != nil {
		C.ps_free(r.ps)
		r.ps = nil
	}
	return nil
}
