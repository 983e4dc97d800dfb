// Package whisper is the transcription plugin's whisper engine: Whisper
// encoder/decoder ONNX files supplied by the user, a log-mel front end in
// Go and greedy decoding with timestamps.
//
// # Files
//
// The layout is Hugging Face Optimum's export (`optimum-cli export onnx
// --model openai/whisper-base.en DIR`) plus the model's tokenizer files,
// all in one folder, whisper_dir (default <model_dir>/whisper):
//
//	encoder_model.onnx   input_features [1, n_mels, 3000] float32 → last_hidden_state
//	decoder_model.onnx   input_ids [1, T] int64, encoder_hidden_states → logits [1, T, V]
//	vocab.json           token → id (byte-level BPE strings)
//	added_tokens.json    the special tokens (<|endoftext|>, <|en|>, …), unless vocab.json has them
//	(or tokenizer.json   both in one file, used when vocab.json is absent)
//
// Each can be named on its own: whisper_encoder, whisper_decoder,
// whisper_vocab (a vocab.json or a tokenizer.json, which holds both parts)
// and whisper_added_tokens. The decoder without past key/values is the one
// used (decoder_model.onnx, not decoder_with_past_model.onnx or
// decoder_model_merged.onnx); input and output names are read from the
// files and checked. n_mels (80, or 128 for large-v3) comes from the
// encoder's input shape; where the export leaves it symbolic, from
// whisper_n_mels, else 128 when the vocabulary has <|yue|> (only the
// 128-band models do), else 80.
//
// # Other attributes
//
//	language                     transcription language, default "en"
//	whisper_partial_every        least new audio between partial decodes, default 1s
//	whisper_max_tokens           token limit per utterance, default 224
//	whisper_threads              ONNX Runtime intra-op threads, default min(4, CPUs)
//	whisper_no_speech_threshold  p(no speech) above which a low-confidence
//	                             decode is dropped, default 0.6
//	model_dir, ort_library, execution_provider: as for the other ONNX plugins
//
// The vocabulary's special tokens are found by name. A vocabulary
// numbering <|endoftext|> 50256 (GPT-2's, the *.en models) is English-only:
// no language token in the prompt, and language must be "en". Timestamps
// are <|0.00|>… where the files name them, else the 1501 ids after
// <|notimestamps|>.
//
// # Output
//
// Words get times by sharing each timestamped segment's span among its
// words in proportion to their characters (Whisper times segments, not
// words); a word's confidence is the mean softmax probability of its
// tokens under the model's own distribution (before the timestamp rules'
// masks). Digital silence and decodes that Whisper's no-speech rule rejects
// give an empty hypothesis. Audio past 30 s in one utterance is dropped
// (Whisper sees one 30 s window); Recognizer.Dropped says how much.
//
// # Cost
//
// Whisper always encodes a full 30 s window, so every decode — partial or
// final, 1 s of audio or 30 — costs one encoder run plus one decoder run
// per emitted token over the whole sequence so far (no key/value cache:
// O(tokens²) decoder positions). Partial therefore decodes only when at
// least whisper_partial_every of new audio has arrived since its last
// decode and otherwise returns that decode's result; End decodes once more
// unless nothing was added since. An interval shorter than the model's
// decode time on the machine only makes partials queue behind each other.
package whisper

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/lsie-mlf/lsie/plugins/internal/models"
	"github.com/lsie-mlf/lsie/plugins/internal/onnx"
	"github.com/lsie-mlf/lsie/plugins/transcription/engine"
	"github.com/lsie-mlf/lsie/sdk"
)

// userHint is the hint of a missing-file error: the weights are never
// fetched for the user.
const userHint = "Whisper weights are not bundled: export them with `optimum-cli export onnx --model openai/whisper-base.en DIR` and set whisper_dir (or whisper_encoder / whisper_decoder / whisper_vocab) to them"

// MaxUtterance is the longest utterance decoded; later audio is dropped and
// reported by Dropped.
const MaxUtterance = 30 * time.Second

// Recognizer is the whisper engine; New returns one.
type Recognizer struct {
	enc, dec   *ort.DynamicAdvancedSession
	decIDsAt   int // position of input_ids among the decoder's inputs
	nMels      int
	vocab      *vocab
	front      *frontEnd
	features   []float32
	featTensor *ort.Tensor[float32]

	maxTokens    int
	partialEvery int // samples
	noSpeech     float64

	pcm        []int16
	dropped    int // samples past MaxUtterance
	active     bool
	decodedLen int // len(pcm) at the last decode; -1 when none
	last       engine.Hypothesis
	closed     bool
}

// Attributes declares what New reads besides models' and onnx's
// attributes: the files, language and the whisper_* settings.
func Attributes() []sdk.Attribute {
	return []sdk.Attribute{
		{Name: "whisper_dir", Type: sdk.AttrString, Description: "whisper: folder of the Optimum export and tokenizer files; default <model_dir>/whisper"},
		{Name: "whisper_encoder", Type: sdk.AttrString, Description: "whisper: encoder ONNX file; default whisper_dir/encoder_model.onnx"},
		{Name: "whisper_decoder", Type: sdk.AttrString, Description: "whisper: decoder ONNX file (without past key/values); default whisper_dir/decoder_model.onnx"},
		{Name: "whisper_vocab", Type: sdk.AttrString, Description: "whisper: vocab.json or tokenizer.json; default whisper_dir's vocab.json, else its tokenizer.json"},
		{Name: "whisper_added_tokens", Type: sdk.AttrString, Description: "whisper: added_tokens.json; default the one beside the vocabulary, if any"},
		{Name: "whisper_n_mels", Type: sdk.AttrEnum, Choices: []string{"80", "128"},
			Description: "whisper: mel bands when the encoder's input shape leaves them symbolic; default 128 when the vocabulary has <|yue|>, else 80"},
		{Name: "language", Type: sdk.AttrString, Default: "en", Description: "whisper: transcription language (a Whisper language code); English-only vocabularies take only en"},
		{Name: "whisper_partial_every", Type: sdk.AttrDuration, Default: "1s", Min: "0s", Description: "whisper: least new audio between partial decodes (at most 1h counts)"},
		{Name: "whisper_max_tokens", Type: sdk.AttrInteger, Default: "224", Min: "1", Description: "whisper: token limit per utterance"},
		{Name: "whisper_threads", Type: sdk.AttrInteger, Min: "1", Description: "whisper: ONNX Runtime intra-op threads; default min(4, CPUs)"},
		{Name: "whisper_no_speech_threshold", Type: sdk.AttrNumber, Default: "0.6", Min: "0", Max: "1",
			Description: "whisper: p(no speech) above which a low-confidence decode is dropped"},
	}
}

// New opens the engine from the plugin block's attributes.
func New(attrs map[string]string) (engine.Recognizer, error) {
	r, err := open(attrs)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// paths resolves the four files; a missing required one is a
// *models.MissingError naming it.
func paths(attrs map[string]string) (encoder, decoder, vocabFile, added string, err error) {
	dir := attrs["whisper_dir"]
	if dir == "" {
		dir = filepath.Join(models.Dir(attrs), "whisper")
	}
	pick := func(attr, name string) string {
		if p := attrs[attr]; p != "" {
			return p
		}
		return filepath.Join(dir, name)
	}
	if encoder, err = models.Require("Whisper encoder (whisper_encoder)", pick("whisper_encoder", "encoder_model.onnx"), userHint); err != nil {
		return
	}
	if decoder, err = models.Require("Whisper decoder (whisper_decoder)", pick("whisper_decoder", "decoder_model.onnx"), userHint); err != nil {
		return
	}
	vocabName := "vocab.json"
	if !fileExists(filepath.Join(dir, vocabName)) && fileExists(filepath.Join(dir, "tokenizer.json")) {
		vocabName = "tokenizer.json"
	}
	if vocabFile, err = models.Require("Whisper vocabulary (whisper_vocab)", pick("whisper_vocab", vocabName), userHint); err != nil {
		return
	}
	if p := attrs["whisper_added_tokens"]; p != "" {
		added, err = models.Require("Whisper added tokens (whisper_added_tokens)", p, userHint)
		return
	}
	if p := filepath.Join(filepath.Dir(vocabFile), "added_tokens.json"); fileExists(p) {
		added = p
	}
	return
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

func open(attrs map[string]string) (*Recognizer, error) {
	encPath, decPath, vocabPath, addedPath, err := paths(attrs)
	if err != nil {
		return nil, err
	}
	main, err := os.ReadFile(vocabPath)
	if err != nil {
		return nil, err
	}
	var added []byte
	if addedPath != "" {
		if added, err = os.ReadFile(addedPath); err != nil {
			return nil, err
		}
	}
	lang := attrs["language"]
	v, err := parseVocab(main, added, lang)
	if err != nil {
		return nil, fmt.Errorf("whisper vocabulary %s: %w", vocabPath, err)
	}
	r := &Recognizer{vocab: v, decodedLen: -1, maxTokens: 224, noSpeech: 0.6, partialEvery: sampleRate}
	if s := attrs["whisper_max_tokens"]; s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("whisper_max_tokens = %q: want a positive integer", s)
		}
		r.maxTokens = n
	}
	if s := attrs["whisper_partial_every"]; s != "" {
		d, err := parseDuration(s)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("whisper_partial_every = %q: want a duration such as \"1s\" or seconds", s)
		}
		r.partialEvery = int(min(d.Seconds(), 3600) * sampleRate)
	}
	if s := attrs["whisper_no_speech_threshold"]; s != "" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f < 0 || f > 1 {
			return nil, fmt.Errorf("whisper_no_speech_threshold = %q: want a probability 0…1", s)
		}
		r.noSpeech = f
	}
	threads := min(4, runtime.NumCPU())
	if s := attrs["whisper_threads"]; s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("whisper_threads = %q: want a positive integer", s)
		}
		threads = n
	}
	if err := onnx.Init(attrs); err != nil {
		return nil, err
	}
	encIn, encOut, err := ort.GetInputOutputInfo(encPath)
	if err != nil {
		return nil, fmt.Errorf("whisper encoder %s: %w", encPath, err)
	}
	decIn, decOut, err := ort.GetInputOutputInfo(decPath)
	if err != nil {
		return nil, fmt.Errorf("whisper decoder %s: %w", decPath, err)
	}
	encInName, encOutName, nMels, err := checkEncoder(encIn, encOut)
	if err != nil {
		return nil, fmt.Errorf("whisper encoder %s: %w", encPath, err)
	}
	if nMels <= 0 {
		nMels = 80
		if _, ok := v.names["<|yue|>"]; ok {
			nMels = 128
		}
		if s := attrs["whisper_n_mels"]; s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || (n != 80 && n != 128) {
				return nil, fmt.Errorf("whisper_n_mels = %q: want 80 or 128", s)
			}
			nMels = n
		}
	}
	decInNames, decOutName, idsAt, err := checkDecoder(decIn, decOut)
	if err != nil {
		return nil, fmt.Errorf("whisper decoder %s: %w", decPath, err)
	}
	r.decIDsAt = idsAt
	r.nMels = nMels
	r.front = newFrontEnd(nMels)
	r.features = make([]float32, nMels*nFrames)
	if r.featTensor, err = ort.NewTensor(ort.NewShape(1, int64(nMels), nFrames), r.features); err != nil {
		return nil, err
	}
	opts, err := onnx.SessionOptions(attrs, threads)
	if err != nil {
		r.Close()
		return nil, err
	}
	defer opts.Destroy()
	if r.enc, err = ort.NewDynamicAdvancedSession(encPath, []string{encInName}, []string{encOutName}, opts); err != nil {
		r.Close()
		return nil, fmt.Errorf("whisper encoder %s: %w", encPath, err)
	}
	if r.dec, err = ort.NewDynamicAdvancedSession(decPath, decInNames, []string{decOutName}, opts); err != nil {
		r.Close()
		return nil, fmt.Errorf("whisper decoder %s: %w", decPath, err)
	}
	return r, nil
}

// parseDuration reads a Go duration ("1s", "500ms") or plain seconds.
func parseDuration(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e6 {
		return 0, errors.New("not a duration")
	}
	return time.Duration(f * float64(time.Second)), nil
}

func names(infos []ort.InputOutputInfo) string {
	var s []string
	for _, i := range infos {
		s = append(s, i.String())
	}
	return "[" + strings.Join(s, "; ") + "]"
}

// pickTensor finds the one tensor of the wanted type and rank, preferring
// the conventional name when several fit.
func pickTensor(infos []ort.InputOutputInfo, want string, dt ort.TensorElementDataType, rank int) (int, bool) {
	found := -1
	for i, in := range infos {
		if in.OrtValueType != ort.ONNXTypeTensor || in.DataType != dt || len(in.Dimensions) != rank {
			continue
		}
		if in.Name == want {
			return i, true
		}
		if found >= 0 {
			return -1, false // ambiguous without the conventional name
		}
		found = i
	}
	return found, found >= 0
}

// checkEncoder checks Optimum's encoder signature: one float32 input
// [batch, n_mels, 3000] and a float32 [batch, frames, d_model] output. It
// returns n_mels, or 0 when the shape leaves it symbolic.
func checkEncoder(in, out []ort.InputOutputInfo) (inName, outName string, nMels int, err error) {
	if len(in) != 1 {
		return "", "", 0, fmt.Errorf("want one input (input_features [1, n_mels, 3000] float32), have %s", names(in))
	}
	f := in[0]
	if f.OrtValueType != ort.ONNXTypeTensor || f.DataType != ort.TensorElementDataTypeFloat || len(f.Dimensions) != 3 {
		return "", "", 0, fmt.Errorf("input %s: want input_features [1, n_mels, 3000] float32 (float16 and quantised inputs are not supported)", f.String())
	}
	if d := f.Dimensions[2]; d > 0 && d != nFrames {
		return "", "", 0, fmt.Errorf("input %s: want 3000 frames (a 30 s window)", f.String())
	}
	if d := f.Dimensions[1]; d > 0 {
		if d != 80 && d != 128 {
			return "", "", 0, fmt.Errorf("input %s: want 80 or 128 mel bands", f.String())
		}
		nMels = int(d)
	}
	o, ok := pickTensor(out, "last_hidden_state", ort.TensorElementDataTypeFloat, 3)
	if !ok {
		return "", "", 0, fmt.Errorf("want an output last_hidden_state [1, 1500, d_model] float32, have %s", names(out))
	}
	return f.Name, out[o].Name, nMels, nil
}

// checkDecoder checks Optimum's decoder-without-past signature: exactly
// input_ids [batch, T] int64 and encoder_hidden_states [batch, frames,
// d_model] float32, and a logits [batch, T, V] float32 output.
func checkDecoder(in, out []ort.InputOutputInfo) (inNames []string, outName string, idsAt int, err error) {
	if len(in) != 2 {
		return nil, "", 0, fmt.Errorf("want two inputs (input_ids [1, T] int64, encoder_hidden_states float32), have %s; use the export without past key/values (decoder_model.onnx, not decoder_with_past_model.onnx or decoder_model_merged.onnx)", names(in))
	}
	ids, ok := pickTensor(in, "input_ids", ort.TensorElementDataTypeInt64, 2)
	if !ok {
		return nil, "", 0, fmt.Errorf("no input_ids [1, T] int64 input in %s", names(in))
	}
	enc := 1 - ids
	if h := in[enc]; h.OrtValueType != ort.ONNXTypeTensor || h.DataType != ort.TensorElementDataTypeFloat || len(h.Dimensions) != 3 {
		return nil, "", 0, fmt.Errorf("input %s: want encoder_hidden_states [1, frames, d_model] float32", h.String())
	}
	o, ok := pickTensor(out, "logits", ort.TensorElementDataTypeFloat, 3)
	if !ok {
		return nil, "", 0, fmt.Errorf("want an output logits [1, T, vocabulary] float32, have %s", names(out))
	}
	return []string{in[0].Name, in[1].Name}, out[o].Name, ids, nil
}

// Begin starts a new utterance.
func (r *Recognizer) Begin() error {
	if r.closed {
		return errors.New("whisper: Begin after Close")
	}
	r.pcm = r.pcm[:0]
	r.dropped = 0
	r.active = true
	r.decodedLen = -1
	r.last = engine.Hypothesis{}
	return nil
}

// Accept appends samples; audio past MaxUtterance is dropped (Whisper sees
// one 30 s window) and counted by Dropped.
func (r *Recognizer) Accept(pcm []int16) error {
	if !r.active {
		return errors.New("whisper: Accept outside an utterance (call Begin first)")
	}
	room := nSamples - len(r.pcm)
	if len(pcm) > room {
		r.dropped += len(pcm) - room
		pcm = pcm[:room]
	}
	r.pcm = append(r.pcm, pcm...)
	return nil
}

// Dropped is how much audio of the current (or last) utterance was past
// MaxUtterance and not decoded. The plugin's voice activity detector keeps
// utterances shorter; non-zero means it did not.
func (r *Recognizer) Dropped() time.Duration {
	return time.Duration(r.dropped) * time.Second / sampleRate
}

// Partial decodes the audio so far when at least whisper_partial_every of
// new audio has arrived since the last decode, else returns that decode's
// hypothesis (see the package comment for the cost).
func (r *Recognizer) Partial() (engine.Hypothesis, error) {
	if !r.active {
		return engine.Hypothesis{}, errors.New("whisper: Partial outside an utterance (call Begin first)")
	}
	if r.decodedLen >= 0 && len(r.pcm)-r.decodedLen < max(r.partialEvery, 1) {
		return r.last, nil
	}
	return r.decode()
}

// End decodes the whole utterance.
func (r *Recognizer) End() (engine.Hypothesis, error) {
	if !r.active {
		return engine.Hypothesis{}, errors.New("whisper: End outside an utterance (call Begin first)")
	}
	r.active = false
	if r.decodedLen == len(r.pcm) {
		return r.last, nil
	}
	return r.decode()
}

// silent reports digital silence (RMS below −80 dBFS): Whisper tends to
// invent text for it, and a decode would be wasted.
func silent(pcm []int16) bool {
	var s float64
	for _, x := range pcm {
		s += float64(x) * float64(x)
	}
	return len(pcm) == 0 || math.Sqrt(s/float64(len(pcm)))/32768 < 1e-4
}

func (r *Recognizer) decode() (engine.Hypothesis, error) {
	if r.closed {
		return engine.Hypothesis{}, errors.New("whisper: decode after Close")
	}
	r.decodedLen = len(r.pcm)
	r.last = engine.Hypothesis{}
	if silent(r.pcm) {
		return r.last, nil
	}
	r.front.logMel(r.pcm, r.features)
	encOut := []ort.Value{nil}
	if err := r.enc.Run([]ort.Value{r.featTensor}, encOut); err != nil {
		return r.last, fmt.Errorf("whisper encoder: %w", err)
	}
	defer encOut[0].Destroy()
	res, err := greedy(r.vocab, r.stepper(encOut[0]), r.maxTokens)
	if err != nil {
		return r.last, err
	}
	// Whisper's no-speech rule: drop the decode when the model thought
	// there was no speech and was unsure of what it wrote anyway.
	if res.noSpeechProb > r.noSpeech && res.avgLogProb < -1 {
		return r.last, nil
	}
	audio := time.Duration(len(r.pcm)) * time.Second / sampleRate
	r.last = hypothesis(r.vocab, segments(r.vocab, res.tokens, audio))
	return r.last, nil
}

// stepper runs the decoder on a token sequence against one encoder output.
func (r *Recognizer) stepper(enc ort.Value) stepFunc {
	return func(ids []int, wantFirst bool) ([]float32, []float32, error) {
		data := make([]int64, len(ids))
		for i, id := range ids {
			data[i] = int64(id)
		}
		t, err := ort.NewTensor(ort.NewShape(1, int64(len(ids))), data)
		if err != nil {
			return nil, nil, err
		}
		defer t.Destroy()
		in := []ort.Value{enc, enc}
		in[r.decIDsAt] = t
		out := []ort.Value{nil}
		if err := r.dec.Run(in, out); err != nil {
			return nil, nil, fmt.Errorf("whisper decoder: %w", err)
		}
		defer out[0].Destroy()
		lt, ok := out[0].(*ort.Tensor[float32])
		sh := out[0].GetShape()
		if !ok || len(sh) != 3 || sh[0] != 1 || sh[1] != int64(len(ids)) || sh[2] < 1 {
			return nil, nil, fmt.Errorf("whisper decoder: logits shape %v, want [1, %d, vocabulary] float32", sh, len(ids))
		}
		all, vs := lt.GetData(), int(sh[2])
		// Copies: the tensor's memory goes with it.
		var first []float32
		if wantFirst {
			first = append(first, all[:vs]...)
		}
		return first, append([]float32(nil), all[len(all)-vs:]...), nil
	}
}

// Close frees the sessions; the Recognizer is unusable afterwards.
func (r *Recognizer) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.active = false
	if r.enc != nil {
		r.enc.Destroy()
	}
	if r.dec != nil {
		r.dec.Destroy()
	}
	if r.featTensor != nil {
		r.featTensor.Destroy()
	}
	return nil
}
