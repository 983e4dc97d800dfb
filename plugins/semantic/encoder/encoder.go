package encoder

import (
	"errors"
	"fmt"
	"math"
	"strings"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/lsie-mlf/lsie/plugins/internal/onnx"
)

// DefaultMaxTokens bounds a sequence, [CLS] and [SEP] included: utterances
// are short, and the cost grows with the square of the length.
const DefaultMaxTokens = 128

// input says what one of the model's inputs is fed.
type input int

const (
	inIDs input = iota
	inMask
	inTypes
)

// Model is an opened sentence encoder. It is used by one stream at a time.
type Model struct {
	tok     *Tokenizer
	sess    *ort.DynamicAdvancedSession
	inputs  []input
	int32s  []bool // per input: int32 rather than int64
	pooled  bool   // the output is [1,H] already
	maxLen  int
	outName string
	// Truncated reports whether the last Embed dropped tokens.
	Truncated bool
}

// Open loads ONNX Runtime (see package onnx: attrs' ort_library,
// execution_provider) and opens modelPath with the vocabulary at vocabPath.
// The model's inputs must be among input_ids, attention_mask and
// token_type_ids (int64 or int32); its first output is [1,T,H] token
// states (mean-pooled here) or a [1,H] sentence embedding.
func Open(modelPath, vocabPath string, attrs map[string]string, maxLen int) (*Model, error) {
	tok, err := LoadVocab(vocabPath)
	if err != nil {
		return nil, fmt.Errorf("encoder_vocab: %w", err)
	}
	if err := onnx.Init(attrs); err != nil {
		return nil, err
	}
	ins, outs, err := ort.GetInputOutputInfo(modelPath)
	if err != nil {
		return nil, fmt.Errorf("encoder_model %s: %w", modelPath, err)
	}
	m := &Model{tok: tok, maxLen: max(maxLen, 3)}
	var names []string
	for _, in := range ins {
		var k input
		switch n := strings.ToLower(in.Name); {
		case strings.Contains(n, "input_ids"):
			k = inIDs
		case strings.Contains(n, "attention_mask"):
			k = inMask
		case strings.Contains(n, "token_type_ids"):
			k = inTypes
		default:
			return nil, fmt.Errorf("encoder_model %s: input %q is not one of input_ids, attention_mask, token_type_ids", modelPath, in.Name)
		}
		switch in.DataType {
		case ort.TensorElementDataTypeInt64:
			m.int32s = append(m.int32s, false)
		case ort.TensorElementDataTypeInt32:
			m.int32s = append(m.int32s, true)
		default:
			return nil, fmt.Errorf("encoder_model %s: input %q has element type %v; want int64 or int32", modelPath, in.Name, in.DataType)
		}
		if len(in.Dimensions) != 2 {
			return nil, fmt.Errorf("encoder_model %s: input %q has shape %v; want [batch, tokens]", modelPath, in.Name, in.Dimensions)
		}
		m.inputs = append(m.inputs, k)
		names = append(names, in.Name)
	}
	if !contains(m.inputs, inIDs) {
		return nil, fmt.Errorf("encoder_model %s: no input_ids input (inputs %v)", modelPath, names)
	}
	if len(outs) == 0 {
		return nil, fmt.Errorf("encoder_model %s: no outputs", modelPath)
	}
	out := outs[0]
	switch {
	case out.DataType != ort.TensorElementDataTypeFloat:
		return nil, fmt.Errorf("encoder_model %s: output %q has element type %v; want float32", modelPath, out.Name, out.DataType)
	case len(out.Dimensions) == 3:
	case len(out.Dimensions) == 2:
		m.pooled = true
	default:
		return nil, fmt.Errorf("encoder_model %s: output %q has shape %v; want [1,T,H] or [1,H]", modelPath, out.Name, out.Dimensions)
	}
	m.outName = out.Name
	opts, err := onnx.SessionOptions(attrs, 1)
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	if m.sess, err = ort.NewDynamicAdvancedSession(modelPath, names, []string{out.Name}, opts); err != nil {
		return nil, fmt.Errorf("encoder_model %s: %w", modelPath, err)
	}
	return m, nil
}

func contains(ins []input, k input) bool {
	for _, i := range ins {
		if i == k {
			return true
		}
	}
	return false
}

// Tokenizer is the model's tokenizer.
func (m *Model) Tokenizer() *Tokenizer { return m.tok }

// Close frees the session.
func (m *Model) Close() error {
	if m.sess == nil {
		return nil
	}
	err := m.sess.Destroy()
	m.sess = nil
	return err
}

// Embed returns text's unit-length embedding (all zeros when the model's
// output is zero).
func (m *Model) Embed(text string) ([]float32, error) {
	if m.sess == nil {
		return nil, errors.New("encoder closed")
	}
	ids, trunc := m.tok.Encode(text, m.maxLen)
	m.Truncated = trunc
	n := len(ids)
	shape := ort.NewShape(1, int64(n))
	vals := make([]ort.Value, len(m.inputs))
	defer func() {
		for _, v := range vals {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	for i, k := range m.inputs {
		data := make([]int64, n)
		for j := range data {
			switch k {
			case inIDs:
				data[j] = int64(ids[j])
			case inMask:
				data[j] = 1
			}
		}
		var err error
		if m.int32s[i] {
			d32 := make([]int32, n)
			for j, v := range data {
				d32[j] = int32(v)
			}
			vals[i], err = ort.NewTensor(shape, d32)
		} else {
			vals[i], err = ort.NewTensor(shape, data)
		}
		if err != nil {
			return nil, err
		}
	}
	outs := []ort.Value{nil}
	if err := m.sess.Run(vals, outs); err != nil {
		return nil, fmt.Errorf("encoder: %w", err)
	}
	defer outs[0].Destroy()
	t, ok := outs[0].(*ort.Tensor[float32])
	if !ok {
		return nil, fmt.Errorf("encoder: output %q is %T, want a float32 tensor", m.outName, outs[0])
	}
	return pool(t.GetData(), t.GetShape(), n, m.pooled)
}

// pool mean-pools [1,T,H] token states over the T tokens (every token is
// attended: one unpadded sequence) or takes a [1,H] output as it is, then
// L2-normalises.
func pool(data []float32, shape ort.Shape, tokens int, pooled bool) ([]float32, error) {
	var h int
	switch {
	case pooled && len(shape) == 2 && shape[0] == 1:
		h = int(shape[1])
		tokens = 1
	case !pooled && len(shape) == 3 && shape[0] == 1 && int(shape[1]) == tokens:
		h = int(shape[2])
	default:
		return nil, fmt.Errorf("encoder: output shape %v for %d tokens", shape, tokens)
	}
	if h <= 0 || len(data) != tokens*h {
		return nil, fmt.Errorf("encoder: output shape %v with %d values", shape, len(data))
	}
	sum := make([]float64, h)
	for t := range tokens {
		for j, v := range data[t*h : (t+1)*h] {
			sum[j] += float64(v)
		}
	}
	var norm float64
	for j := range sum {
		sum[j] /= float64(tokens)
		norm += sum[j] * sum[j]
	}
	out := make([]float32, h)
	if norm = math.Sqrt(norm); norm > 0 && !math.IsInf(norm, 0) {
		for j, v := range sum {
			out[j] = float32(v / norm)
		}
	}
	for _, v := range out {
		if math.IsNaN(float64(v)) {
			return nil, errors.New("encoder: output is not finite")
		}
	}
	return out, nil
}
