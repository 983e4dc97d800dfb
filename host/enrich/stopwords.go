package enrich

import "strings"

func set(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

// stopEN is the English stopword list of the Keywords job: function words,
// contractions and the fillers of spoken language.
var stopEN = set(`
a about above after again against ago all almost also although always am an and another any anybody anyone anything
are aren't around as at away back be because been before being below between both but by can can't cannot could
couldn't did didn't do does doesn't doing don't done down during each either else enough even ever every everything
few for from further get gets getting go goes going gonna got gotta had hadn't has hasn't have haven't having he he'd
he'll he's her here here's hers herself him himself his how how's however i i'd i'll i'm i've if in into is isn't it
it'd it'll it's its itself just know let let's like lot maybe me might mine more most much must mustn't my myself
need never no nor not nothing now of off oh ok okay on once one only or other others ought our ours ourselves out over
own per please pretty quite rather really right said same say says see she she'd she'll she's should shouldn't so some
somebody someone something still such sure than that that's the their theirs them themselves then there there's these
they they'd they'll they're they've thing things think this those though through thus to too uh um under until up
upon us very via want wanna was wasn't way we we'd we'll we're we've well were weren't what what's whatever when
when's where where's whether which while who who's whom whose why why's will with won't would wouldn't yeah yes yet
you you'd you'll you're you've your yours yourself yourselves
`)

// language is one stopword profile of the Language job. The lists hold
// the most frequent function words of each language; elided forms ("l",
// "qu") appear without their apostrophe because detection splits at it.
type language struct {
	code string
	stop map[string]bool
}

// languages is ordered by code only for determinism; ties yield "und".
var languages = []language{
	{"de", set(`aber als am an auch auf aus bei bin bis bist da dann das dass dein dem den der des dich die dir doch du
durch ein eine einem einen einer eines er es etwas euch für gegen habe haben hat hatte hier ich ihr ihre im in ist ja
jetzt kann kein keine können man mich mir mit muss nach nein nicht nichts noch nur ob oder ohne schon sehr sich sie
sind so über um und uns unser unter vom von vor war waren was weil wenn wer werden wie wir wird wo zu zum zur`)},
	{"en", set(`a about after all also an and any are as at be because been but by can could did do does for from had
has have he her him his how i if in into is it its just me my no not now of on one or our out she so some than that
the their them then there these they this to up us was we were what when which who will with would you your`)},
	{"es", set(`a al algo como con cuando de del desde donde el ella ellas ellos en entre era es esa ese eso esta
está están estas este esto estos estoy ha han hay he la las le les lo los más me mi mis muy no nos o para pero por
porque que qué se sí sin sobre son soy su sus también te todo todos tu un una unas uno unos y ya yo`)},
	{"fr", set(`a ai au aussi aux avec avoir c ça ce cela ces cet cette d dans de des donc du elle elles en est et été
être faire fait il ils j je l la le les leur lui m ma mais me mes moi mon n ne nous on ont ou où par pas plus pour
qu que qui s sa sans se ses son sont suis sur t ta te tes toi ton tous tout toute très tu un une vos votre vous y`)},
	{"it", set(`a al alla allora anche ancora che chi ci come con cosa così da dal dalla degli dei del della delle dello
di dove e è ed era erano gli ha hai hanno ho i il in io l la le lei lo loro lui ma mi mia mio molto ne nel nella noi non
per perché più quella quello questa questo se sei si sì sono su sua suo tra tu tutti tutto un una uno vi voi`)},
	{"nl", set(`aan al als ben bent bij dan dat de die dit door een en er geen had heb hebben heeft hem het hier hij hoe
hun ik is je jij kan kunnen maar me met mij mijn moet na naar niet nog nu of om ons onze ook op over te tot u uit van
veel voor waar wat was wel werd wie wij wordt worden zal ze zeer zich zij zijn zo zou`)},
	{"pt", set(`a ao aos as até com como da das de do dos e é ela elas ele eles em então era essa esse está estão
esta este eu foi há isso isto já lhe mais mas me meu minha muito na não nas no nos o os ou para pela pelo por porque
quando que se sem ser seu sim são sou sua também tem tu tudo um uma você vocês`)},
}
