package vader

// puncList are the marks (and runs) stripped from either end of a word.
var puncList = []string{".", "!", "?", ",", ";", ":", "-", "'", "\"", "!!", "!!!", "??", "???", "?!?", "!?!", "?!?!", "!?!?"}

// negations are matched as written (lower case), as the npm package does.
var negations = set(
	"aint", "arent", "cannot", "cant", "couldnt", "darent", "didnt", "doesnt",
	"ain't", "aren't", "can't", "couldn't", "daren't", "didn't", "doesn't",
	"dont", "hadnt", "hasnt", "havent", "isnt", "mightnt", "mustnt", "neither",
	"don't", "hadn't", "hasn't", "haven't", "isn't", "mightn't", "mustn't",
	"neednt", "needn't", "never", "none", "nope", "nor", "not", "nothing", "nowhere",
	"oughtnt", "shant", "shouldnt", "uhuh", "wasnt", "werent",
	"oughtn't", "shan't", "shouldn't", "uh-uh", "wasn't", "weren't",
	"without", "wont", "wouldnt", "won't", "wouldn't", "rarely", "seldom", "despite",
)

// boosters are VADER's degree adverbs: intensifiers add, dampeners subtract.
var boosters = func() map[string]float64 {
	m := map[string]float64{}
	for _, w := range []string{
		"absolutely", "amazingly", "awfully", "completely", "considerably", "decidedly",
		"deeply", "effing", "enormously", "entirely", "especially", "exceptionally",
		"extremely", "fabulously", "flipping", "flippin", "fricking", "frickin",
		"frigging", "friggin", "fully", "fucking", "greatly", "hella", "highly",
		"hugely", "incredibly", "intensely", "majorly", "more", "most", "particularly",
		"purely", "quite", "really", "remarkably", "so", "substantially", "thoroughly",
		"totally", "tremendously", "uber", "unbelievably", "unusually", "utterly", "very",
	} {
		m[w] = boostIncr
	}
	for _, w := range []string{
		"almost", "barely", "hardly", "just enough", "kind of", "kinda", "kindof",
		"kind-of", "less", "little", "marginally", "occasionally", "partly", "scarcely",
		"slightly", "somewhat", "sort of", "sorta", "sortof", "sort-of",
	} {
		m[w] = boostDecr
	}
	return m
}()

// idioms replace the valence of the sentiment word they contain.
var idioms = map[string]float64{
	"the shit": 3, "the bomb": 3, "bad ass": 1.5, "yeah right": -2,
	"cut the mustard": 2, "kiss of death": -1.5, "hand to mouth": -2,
}

func set(words ...string) map[string]struct{} {
	m := make(map[string]struct{}, len(words))
	for _, w := range words {
		m[w] = struct{}{}
	}
	return m
}
